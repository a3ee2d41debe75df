#include "LiveFoleyCaptureComponent.h"

#include "Engine/GameInstance.h"
#include "Engine/TextureRenderTarget2D.h"
#include "Engine/World.h"
#include "GameFramework/Actor.h"
#include "GameFramework/Controller.h"
#include "GameFramework/Pawn.h"
#include "HAL/PlatformTime.h"
#include "LiveFoleyModule.h"
#include "LiveFoleyOrientation.h"
#include "LiveFoleySubsystem.h"
#include "RHIGPUReadback.h"
#include "RenderingThread.h"
#include "TextureResource.h"

THIRD_PARTY_INCLUDES_START
#include "livefoley/livefoley.h"
THIRD_PARTY_INCLUDES_END

struct FLiveFoleyCaptureState
{
    static constexpr int32 NumReadbacks = 3;

    struct FPending
    {
        TUniquePtr<FRHIGPUTextureReadback> Readback;
        bool bBusy = false;
        uint64 FrameIndex = 0;
        uint64 CaptureNs = 0;
        FRotator Rotation;
        int32 Width = 0, Height = 0;
        uint32 PixelFormat = 0;
    };

    FLiveFoleySessionRef Session;
    FPending Pending[NumReadbacks];
    int32 Next = 0;
    bool bReportedFormat = false;
    bool bReportedPublish = false;

    /** Render thread: publish every finished copy, oldest first. */
    void PublishReady()
    {
        for (int32 k = 0; k < NumReadbacks; ++k)
        {
            FPending& P = Pending[(Next + k) % NumReadbacks];
            if (!P.bBusy || !P.Readback->IsReady()) continue;
            int32 RowPitchPixels = 0;
            const void* Pixels = P.Readback->Lock(RowPitchPixels);
            // The protocol carries LiveFoley's orientation convention, not FRotator's.
            const LiveFoley::FListenerOrientation O =
                LiveFoley::ToListenerOrientation(P.Rotation.Yaw, P.Rotation.Pitch, P.Rotation.Roll);
            const int Rc = lf_publish_frame_host(Session->Session, Pixels, (uint32_t)P.Width,
                (uint32_t)P.Height, (uint32_t)RowPitchPixels * 4u, P.PixelFormat, P.FrameIndex,
                P.CaptureNs, O.YawRad, O.PitchRad, O.RollRad);
            P.Readback->Unlock();
            P.bBusy = false;
            if (Rc != LF_OK && Rc != LF_ERR_WOULD_BLOCK && !bReportedPublish)
            {
                bReportedPublish = true;
                UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley Capture: publishing frame %llu failed: %s"),
                       P.FrameIndex, UTF8_TO_TCHAR(lf_last_error()));
            }
        }
    }
};

ULiveFoleyCaptureComponent::ULiveFoleyCaptureComponent()
{
    PrimaryComponentTick.bCanEverTick = true;
    PrimaryComponentTick.TickGroup = TG_PostUpdateWork;
}

void ULiveFoleyCaptureComponent::BeginPlay()
{
    Super::BeginPlay();
    UGameInstance* GI = GetWorld() ? GetWorld()->GetGameInstance() : nullptr;
    ULiveFoleySubsystem* Sub = GI ? GI->GetSubsystem<ULiveFoleySubsystem>() : nullptr;
    FLiveFoleySessionRef Ref = Sub ? Sub->GetSession() : FLiveFoleySessionRef();
    if (!Ref.IsValid())
    {
        UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley Capture: no session (see the LiveFoley errors above); not capturing"));
        SetComponentTickEnabled(false);
        return;
    }
    State = MakeShared<FLiveFoleyCaptureState, ESPMode::ThreadSafe>();
    State->Session = Ref;
    for (int32 i = 0; i < FLiveFoleyCaptureState::NumReadbacks; ++i)
        State->Pending[i].Readback = MakeUnique<FRHIGPUTextureReadback>(TEXT("LiveFoleyCapture"));
}

void ULiveFoleyCaptureComponent::EndPlay(const EEndPlayReason::Type Reason)
{
    if (State.IsValid())
    {
        FlushRenderingCommands(); // the render thread holds the last use of State
        State.Reset();
    }
    Super::EndPlay(Reason);
}

void ULiveFoleyCaptureComponent::TickComponent(float DeltaTime, ELevelTick TickType,
                                               FActorComponentTickFunction* ThisTickFunction)
{
    Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
    if (!State.IsValid() || !RenderTarget || (GFrameCounter % (uint64)EveryNthFrame) != 0) return;
    FTextureRenderTargetResource* Resource = RenderTarget->GameThread_GetRenderTargetResource();
    if (!Resource) return;

    FRotator Rotation = GetOwner() ? GetOwner()->GetActorRotation() : FRotator::ZeroRotator;
    if (const APawn* Pawn = Cast<APawn>(GetOwner()))
        if (Pawn->GetController()) Rotation = Pawn->GetController()->GetControlRotation();
    const uint64 Index = FrameIndex++;
    const uint64 CaptureNs = (uint64)(FPlatformTime::Seconds() * 1e9);
    TSharedPtr<FLiveFoleyCaptureState, ESPMode::ThreadSafe> S = State;

    ENQUEUE_RENDER_COMMAND(LiveFoleyCapture)(
        [S, Resource, Rotation, Index, CaptureNs](FRHICommandListImmediate& RHICmdList)
        {
            S->PublishReady();
            FLiveFoleyCaptureState::FPending& P = S->Pending[S->Next];
            if (P.bBusy) return; // all copies in flight: skip this frame (latest mode drops anyway)
            FRHITexture* Texture = Resource->GetRenderTargetTexture();
            if (!Texture) return;
            const EPixelFormat Format = Texture->GetFormat();
            const uint32 LfFormat = Format == PF_B8G8R8A8 ? LF_PIXEL_BGRA8
                                  : Format == PF_R8G8B8A8 ? LF_PIXEL_RGBA8 : 0u;
            if (LfFormat == 0u)
            {
                if (!S->bReportedFormat)
                    UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley Capture: render target format expected "
                           "RGBA8 or BGRA8, found %s; set the render target to RTF_RGBA8"),
                           GetPixelFormatString(Format));
                S->bReportedFormat = true;
                return;
            }
            const FIntVector Size = Texture->GetSizeXYZ();
            P.Readback->EnqueueCopy(RHICmdList, Texture);
            P.bBusy = true;
            P.FrameIndex = Index;
            P.CaptureNs = CaptureNs;
            P.Rotation = Rotation;
            P.Width = Size.X;
            P.Height = Size.Y;
            P.PixelFormat = LfFormat;
            S->Next = (S->Next + 1) % FLiveFoleyCaptureState::NumReadbacks;
        });
}
