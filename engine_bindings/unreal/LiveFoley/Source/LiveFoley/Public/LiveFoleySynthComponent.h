// ULiveFoleySynthComponent: plays the session's audio ring through the audio mixer.
//
// A USynthComponent whose ISoundGenerator reads the ring on the audio render thread with
// lf_read_audio (no locks, allocation or system calls). It always returns the full buffer
// (silence on underrun, counted by the library) and never reports finished, so the mixer
// keeps pulling while the sidecar is slow or absent. Channel mapping when the ring and the
// mixer differ: mono ring -> every channel; mono output -> average; otherwise c -> c.
#pragma once

#include "Components/SynthComponent.h"
#include "CoreMinimal.h"
#include "LiveFoleySubsystem.h"
#include "Sound/SoundGenerator.h"

#include "LiveFoleySynthComponent.generated.h"

class LIVEFOLEY_API FLiveFoleySoundGenerator : public ISoundGenerator
{
public:
    FLiveFoleySoundGenerator(FLiveFoleySessionRef InSession, int32 InOutputChannels, float InGain);

    /** Audio render thread. Returns NumSamples always. */
    virtual int32 OnGenerateAudio(float* OutAudio, int32 NumSamples) override;
    virtual bool IsFinished() const override { return false; }

private:
    static constexpr int32 ScratchFrames = 2048;
    FLiveFoleySessionRef Session;
    int32 OutputChannels;
    int32 RingChannels;
    float Gain;
    TArray<float> Scratch; // allocated here, never on the audio thread
};

UCLASS(ClassGroup = Synth, meta = (BlueprintSpawnableComponent, DisplayName = "LiveFoley Audio"))
class LIVEFOLEY_API ULiveFoleySynthComponent : public USynthComponent
{
    GENERATED_BODY()
public:
    ULiveFoleySynthComponent(const FObjectInitializer& ObjectInitializer);

    UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "LiveFoley", meta = (ClampMin = "0.0", ClampMax = "4.0"))
    float Gain = 1.0f;

protected:
    virtual bool Init(int32& SampleRate) override;
    virtual ISoundGeneratorPtr CreateSoundGenerator(const FSoundGeneratorInitParams& InParams) override;
};
