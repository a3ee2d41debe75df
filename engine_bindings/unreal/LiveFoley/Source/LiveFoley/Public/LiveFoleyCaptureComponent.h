// ULiveFoleyCaptureComponent: publishes a render target to the session every frame.
//
// Readback path (every RHI): on the render thread, copy the render target into one of
// three FRHIGPUTextureReadback buffers, and publish whichever earlier copy is ready with
// lf_publish_frame_host (never stalling the GPU). The owner's view rotation travels with
// the frame as yaw/pitch/roll in LiveFoley's convention (LiveFoleyOrientation.h: radians,
// yaw + = left). The render thread is the only publisher.
//
// GPU path (not implemented here; see the plugin README): on D3D12/Vulkan, copy the render
// target into a resource created shared (D3D12_HEAP_FLAG_SHARED + CreateSharedHandle, or a
// Vulkan image exported as an opaque FD / Win32 handle) and signal a shared fence (timeline
// semaphore); the sidecar imports both once with cudaImportExternalMemory /
// cudaImportExternalSemaphore and waits on the fence value in the frame descriptor.
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"

#include "LiveFoleyCaptureComponent.generated.h"

class UTextureRenderTarget2D;
struct FLiveFoleyCaptureState;

UCLASS(ClassGroup = LiveFoley, meta = (BlueprintSpawnableComponent, DisplayName = "LiveFoley Capture"))
class LIVEFOLEY_API ULiveFoleyCaptureComponent : public UActorComponent
{
    GENERATED_BODY()
public:
    ULiveFoleyCaptureComponent();

    /** What the player sees, e.g. the target of a USceneCaptureComponent2D (RGBA8/BGRA8). */
    UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "LiveFoley")
    TObjectPtr<UTextureRenderTarget2D> RenderTarget;

    /** Publish every Nth frame (1 = every frame). */
    UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "LiveFoley", meta = (ClampMin = "1"))
    int32 EveryNthFrame = 1;

    virtual void BeginPlay() override;
    virtual void EndPlay(const EEndPlayReason::Type Reason) override;
    virtual void TickComponent(float DeltaTime, ELevelTick TickType,
                               FActorComponentTickFunction* ThisTickFunction) override;

private:
    TSharedPtr<FLiveFoleyCaptureState, ESPMode::ThreadSafe> State; // render thread only
    uint64 FrameIndex = 0;
};
