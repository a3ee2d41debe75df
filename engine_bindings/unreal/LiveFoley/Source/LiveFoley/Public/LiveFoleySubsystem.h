// ULiveFoleySubsystem: owns the game's LiveFoley session (one per game instance).
//
// Creates the session when the game instance starts, spawns the sidecar (optional) and
// waits for its heartbeat without blocking the game thread (it polls lf_sidecar_await with
// a zero timeout from Tick), beats every frame, watches the sidecar's health, and logs
// every failure with liblivefoley's expected/found message (and on screen in development).
// The synth and capture components get the lf_session_t* from here.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"

#include "LiveFoleySubsystem.generated.h"

struct lf_session;

/**
 * Shared ownership of one lf_session_t*. The subsystem, each sound generator (audio render
 * thread) and the capture component (render thread) hold a reference, so the session
 * outlives every thread that reads or publishes. The last release destroys it on the game
 * thread (destroying may wait for the sidecar to stop, which no audio thread may do).
 */
struct LIVEFOLEY_API FLiveFoleySessionHandle
{
    explicit FLiveFoleySessionHandle(lf_session* InSession) : Session(InSession) {}
    ~FLiveFoleySessionHandle();
    lf_session* const Session;
};
using FLiveFoleySessionRef = TSharedPtr<FLiveFoleySessionHandle, ESPMode::ThreadSafe>;

UCLASS(Config = Game, DefaultConfig, meta = (DisplayName = "LiveFoley"))
class LIVEFOLEY_API ULiveFoleySettings : public UDeveloperSettings
{
    GENERATED_BODY()
public:
    /** Shared-memory session name; empty = lf-unreal-<pid>. */
    UPROPERTY(Config, EditAnywhere, Category = "Session") FString SessionName;
    /** 0 = the audio mixer's rate (48000 on most platforms). */
    UPROPERTY(Config, EditAnywhere, Category = "Session") int32 SampleRateHz = 48000;
    UPROPERTY(Config, EditAnywhere, Category = "Session") int32 NumChannels = 2;
    /** Power of two. 16384 frames = 341 ms at 48 kHz. */
    UPROPERTY(Config, EditAnywhere, Category = "Session") int32 RingCapacityFrames = 16384;
    /** Latest: newest frame wins, never waits (games). Off = FIFO with back-pressure. */
    UPROPERTY(Config, EditAnywhere, Category = "Session") bool bLatestFrameMode = true;
    UPROPERTY(Config, EditAnywhere, Category = "Session") int32 MaxFrameWidth = 1280;
    UPROPERTY(Config, EditAnywhere, Category = "Session") int32 MaxFrameHeight = 720;

    /** Start `livefoley serve --session NAME [--model M]` with the session. */
    UPROPERTY(Config, EditAnywhere, Category = "Sidecar") bool bSpawnSidecar = true;
    /** Empty = "livefoley" on PATH. */
    UPROPERTY(Config, EditAnywhere, Category = "Sidecar") FString SidecarExecutable;
    UPROPERTY(Config, EditAnywhere, Category = "Sidecar") FString Model;
    UPROPERTY(Config, EditAnywhere, Category = "Sidecar") float SidecarStartTimeoutSeconds = 60.f;
    UPROPERTY(Config, EditAnywhere, Category = "Sidecar") int32 SidecarStaleAfterMs = 2000;
};

UCLASS()
class LIVEFOLEY_API ULiveFoleySubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
    GENERATED_BODY()
public:
    virtual void Initialize(FSubsystemCollectionBase& Collection) override;
    virtual void Deinitialize() override;

    virtual void Tick(float DeltaTime) override;
    virtual TStatId GetStatId() const override { RETURN_QUICK_DECLARE_CYCLE_STAT(ULiveFoleySubsystem, STATGROUP_Tickables); }
    virtual bool IsTickable() const override { return SessionRef.IsValid(); }

    /** The session, or an invalid reference if it could not be created. */
    FLiveFoleySessionRef GetSession() const { return SessionRef; }
    bool IsSidecarReady() const { return bSidecarReady; }
    /** The last problem, as logged (empty when none). */
    const FString& GetLastProblem() const { return LastProblem; }

private:
    void Fail(const FString& Message);

    FLiveFoleySessionRef SessionRef;
    lf_session* Session = nullptr; // == SessionRef->Session, for brevity on the game thread
    bool bWaitingForSidecar = false;
    bool bSidecarReady = false;
    bool bReportedStale = false;
    double SidecarDeadlineSeconds = 0.0;
    FString LastProblem;
};
