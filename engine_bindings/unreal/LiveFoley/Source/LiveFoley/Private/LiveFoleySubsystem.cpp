#include "LiveFoleySubsystem.h"

#include "Async/Async.h"
#include "Engine/Engine.h"
#include "HAL/PlatformProcess.h"
#include "HAL/PlatformTime.h"
#include "LiveFoleyModule.h"

THIRD_PARTY_INCLUDES_START
#include "livefoley/livefoley.h"
THIRD_PARTY_INCLUDES_END

FLiveFoleySessionHandle::~FLiveFoleySessionHandle()
{
    lf_session* S = Session;
    if (!S) return;
    if (IsInGameThread())
    {
        lf_session_destroy(S, 3000);
    }
    else
    {
        AsyncTask(ENamedThreads::GameThread, [S]() { lf_session_destroy(S, 3000); });
    }
}

static FString LastError()
{
    return UTF8_TO_TCHAR(lf_last_error());
}

void ULiveFoleySubsystem::Fail(const FString& Message)
{
    LastProblem = Message;
    UE_LOG(LogLiveFoley, Error, TEXT("%s"), *Message);
#if !UE_BUILD_SHIPPING
    if (GEngine) GEngine->AddOnScreenDebugMessage(-1, 10.f, FColor::Red, Message);
#endif
}

void ULiveFoleySubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
    Super::Initialize(Collection);
    if (!FLiveFoleyModule::IsLibraryReady())
    {
        Fail(TEXT("LiveFoley: liblivefoley is not loaded (see the first LiveFoley error in the log)"));
        return;
    }
    const ULiveFoleySettings* S = GetDefault<ULiveFoleySettings>();
    const FString Name = S->SessionName.IsEmpty()
        ? FString::Printf(TEXT("lf-unreal-%u"), FPlatformProcess::GetCurrentProcessId()) : S->SessionName;

    lf_session_config_t Config;
    lf_session_config_init(&Config);
    Config.sample_rate_hz = (uint32_t)FMath::Max(S->SampleRateHz, 0);
    Config.channels = (uint32_t)FMath::Max(S->NumChannels, 0);
    Config.ring_capacity_frames = (uint32_t)FMath::Max(S->RingCapacityFrames, 0);
    Config.frame_mode = S->bLatestFrameMode ? LF_FRAME_MODE_LATEST : LF_FRAME_MODE_FIFO;
    Config.frame_slots = S->bLatestFrameMode ? 3u : 4u;
    Config.max_frame_width = (uint32_t)FMath::Max(S->MaxFrameWidth, 1);
    Config.max_frame_height = (uint32_t)FMath::Max(S->MaxFrameHeight, 1);
    if (lf_session_create(TCHAR_TO_UTF8(*Name), &Config, &Session) != LF_OK)
    {
        Session = nullptr;
        Fail(FString::Printf(TEXT("LiveFoley: creating session '%s' failed: %s"), *Name, *LastError()));
        return;
    }
    SessionRef = MakeShared<FLiveFoleySessionHandle, ESPMode::ThreadSafe>(Session);
    UE_LOG(LogLiveFoley, Log, TEXT("LiveFoley: session '%s' created (%u Hz, %u ch)"), *Name,
           lf_session_sample_rate_hz(Session), lf_session_channels(Session));
    if (S->bSpawnSidecar)
    {
        const FTCHARToUTF8 Exe(*S->SidecarExecutable);
        const FTCHARToUTF8 Model(*S->Model);
        if (lf_sidecar_spawn(Session, S->SidecarExecutable.IsEmpty() ? nullptr : Exe.Get(),
                             S->Model.IsEmpty() ? nullptr : Model.Get()) != LF_OK)
        {
            Fail(FString::Printf(TEXT("LiveFoley: starting the sidecar failed: %s -- install the "
                 "LiveFoley sidecar (pip install livefoley) or set Sidecar Executable in Project "
                 "Settings > Plugins > LiveFoley"), *LastError()));
            return;
        }
        bWaitingForSidecar = true;
        SidecarDeadlineSeconds = FPlatformTime::Seconds() + S->SidecarStartTimeoutSeconds;
    }
}

void ULiveFoleySubsystem::Tick(float DeltaTime)
{
    if (!Session) return;
    lf_session_heartbeat(Session);
    const ULiveFoleySettings* S = GetDefault<ULiveFoleySettings>();
    if (bWaitingForSidecar)
    {
        const int Rc = lf_sidecar_await(Session, 0); // zero timeout: a poll
        if (Rc == LF_OK)
        {
            bWaitingForSidecar = false;
            bSidecarReady = true;
            UE_LOG(LogLiveFoley, Log, TEXT("LiveFoley: sidecar ready"));
        }
        else if (Rc == LF_ERR_SIDECAR_EXITED)
        {
            bWaitingForSidecar = false;
            Fail(FString::Printf(TEXT("LiveFoley: %s -- an incompatible sidecar version, a missing "
                 "model or a missing Python package makes it exit; run it in a terminal to see why"),
                 *LastError()));
        }
        else if (FPlatformTime::Seconds() > SidecarDeadlineSeconds)
        {
            bWaitingForSidecar = false;
            Fail(FString::Printf(TEXT("LiveFoley: no sidecar heartbeat within %.0f s (expected the "
                 "sidecar to attach; is it still loading its model?)"), S->SidecarStartTimeoutSeconds));
        }
        return;
    }
    if (bSidecarReady && GFrameCounter % 30 == 0)
    {
        if (lf_sidecar_check(Session, (uint32_t)S->SidecarStaleAfterMs) != LF_OK)
        {
            if (!bReportedStale) Fail(FString::Printf(TEXT("LiveFoley: the sidecar stopped: %s"), *LastError()));
            bReportedStale = true;
        }
        else
        {
            bReportedStale = false;
        }
    }
}

void ULiveFoleySubsystem::Deinitialize()
{
    // Generators and the capture component hold their own references: the session is
    // destroyed when the last of them lets go (on the game thread, see the handle).
    SessionRef.Reset();
    Session = nullptr;
    Super::Deinitialize();
}
