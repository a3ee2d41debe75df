#include "LiveFoleySynthComponent.h"

#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "LiveFoleyModule.h"

THIRD_PARTY_INCLUDES_START
#include "livefoley/livefoley.h"
THIRD_PARTY_INCLUDES_END

FLiveFoleySoundGenerator::FLiveFoleySoundGenerator(FLiveFoleySessionRef InSession,
                                                   int32 InOutputChannels, float InGain)
    : Session(MoveTemp(InSession)), OutputChannels(FMath::Max(InOutputChannels, 1)), Gain(InGain)
{
    RingChannels = Session.IsValid() ? (int32)lf_session_channels(Session->Session) : 0;
    Scratch.SetNumZeroed(ScratchFrames * FMath::Max(RingChannels, 1));
}

int32 FLiveFoleySoundGenerator::OnGenerateAudio(float* OutAudio, int32 NumSamples)
{
    const int32 Frames = NumSamples / OutputChannels;
    if (!Session.IsValid() || RingChannels <= 0)
    {
        FMemory::Memzero(OutAudio, sizeof(float) * NumSamples);
        return NumSamples;
    }
    lf_session* S = Session->Session;
    if (RingChannels == OutputChannels)
    {
        lf_read_audio(S, OutAudio, (uint32_t)Frames); // fills silence on underrun
        if (Gain != 1.0f)
            for (int32 i = 0; i < Frames * OutputChannels; ++i) OutAudio[i] *= Gain;
    }
    else
    {
        for (int32 Done = 0; Done < Frames;)
        {
            const int32 Chunk = FMath::Min(Frames - Done, ScratchFrames);
            float* Src = Scratch.GetData();
            lf_read_audio(S, Src, (uint32_t)Chunk);
            for (int32 f = 0; f < Chunk; ++f)
            {
                float* O = OutAudio + (Done + f) * OutputChannels;
                const float* I = Src + f * RingChannels;
                if (RingChannels == 1)
                {
                    for (int32 c = 0; c < OutputChannels; ++c) O[c] = Gain * I[0];
                }
                else if (OutputChannels == 1)
                {
                    float Sum = 0.f;
                    for (int32 c = 0; c < RingChannels; ++c) Sum += I[c];
                    O[0] = Gain * Sum / (float)RingChannels;
                }
                else
                {
                    for (int32 c = 0; c < OutputChannels; ++c) O[c] = c < RingChannels ? Gain * I[c] : 0.f;
                }
            }
            Done += Chunk;
        }
    }
    // Any remainder samples (NumSamples not a multiple of the channel count) stay silent.
    for (int32 i = Frames * OutputChannels; i < NumSamples; ++i) OutAudio[i] = 0.f;
    return NumSamples;
}

ULiveFoleySynthComponent::ULiveFoleySynthComponent(const FObjectInitializer& ObjectInitializer)
    : Super(ObjectInitializer)
{
    bAutoActivate = true;
    bAllowSpatialization = false;
}

bool ULiveFoleySynthComponent::Init(int32& SampleRate)
{
    UGameInstance* GI = GetWorld() ? GetWorld()->GetGameInstance() : nullptr;
    ULiveFoleySubsystem* Sub = GI ? GI->GetSubsystem<ULiveFoleySubsystem>() : nullptr;
    FLiveFoleySessionRef Ref = Sub ? Sub->GetSession() : FLiveFoleySessionRef();
    if (!Ref.IsValid())
    {
        UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley Audio: no session (see the LiveFoley errors above); playing silence"));
        NumChannels = 2;
        return true;
    }
    const uint32 Rate = lf_session_sample_rate_hz(Ref->Session);
    if ((int32)Rate != SampleRate)
    {
        UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley Audio: sample rate expected %d Hz (the audio mixer), "
               "found %u Hz (the session); set SampleRateHz in Project Settings > Plugins > LiveFoley"),
               SampleRate, Rate);
    }
    SampleRate = (int32)Rate;
    NumChannels = (int32)lf_session_channels(Ref->Session);
    return true;
}

ISoundGeneratorPtr ULiveFoleySynthComponent::CreateSoundGenerator(const FSoundGeneratorInitParams& InParams)
{
    UGameInstance* GI = GetWorld() ? GetWorld()->GetGameInstance() : nullptr;
    ULiveFoleySubsystem* Sub = GI ? GI->GetSubsystem<ULiveFoleySubsystem>() : nullptr;
    return ISoundGeneratorPtr(new FLiveFoleySoundGenerator(Sub ? Sub->GetSession() : FLiveFoleySessionRef(),
                                                           InParams.NumChannels, Gain));
}
