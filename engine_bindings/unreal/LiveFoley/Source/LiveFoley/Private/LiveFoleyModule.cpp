#include "LiveFoleyModule.h"

#include "HAL/PlatformProcess.h"
#include "Interfaces/IPluginManager.h"
#include "Misc/Paths.h"
#include "Modules/ModuleManager.h"

THIRD_PARTY_INCLUDES_START
#include "livefoley/livefoley.h"
THIRD_PARTY_INCLUDES_END

DEFINE_LOG_CATEGORY(LogLiveFoley);

static bool GLiveFoleyReady = false;

void FLiveFoleyModule::StartupModule()
{
#if PLATFORM_WINDOWS
    // Delay-loaded: load it from the plugin before the first call, with a clear error.
    const FString Dir = FPaths::Combine(IPluginManager::Get().FindPlugin(TEXT("LiveFoley"))->GetBaseDir(),
                                        TEXT("ThirdParty/livefoley/lib/Win64"));
    FPlatformProcess::PushDllDirectory(*Dir);
    LibraryHandle = FPlatformProcess::GetDllHandle(*FPaths::Combine(Dir, TEXT("livefoley.dll")));
    FPlatformProcess::PopDllDirectory(*Dir);
    if (!LibraryHandle)
    {
        UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley: livefoley.dll not found in %s (build it with "
               "'cmake -S engine_bindings -B build' and copy it there, see the plugin README)"), *Dir);
        return;
    }
#endif
    const uint32 Found = lf_abi_version();
    if (Found != LF_LIB_ABI_VERSION)
    {
        UE_LOG(LogLiveFoley, Error, TEXT("LiveFoley: liblivefoley ABI expected %u, found %u "
               "(rebuild the plugin against the library it ships)"), LF_LIB_ABI_VERSION, Found);
        return;
    }
    GLiveFoleyReady = true;
    UE_LOG(LogLiveFoley, Log, TEXT("LiveFoley: liblivefoley ABI %u, protocol %u"), Found, lf_protocol_version());
}

void FLiveFoleyModule::ShutdownModule()
{
    GLiveFoleyReady = false;
    if (LibraryHandle)
    {
        FPlatformProcess::FreeDllHandle(LibraryHandle);
        LibraryHandle = nullptr;
    }
}

bool FLiveFoleyModule::IsLibraryReady()
{
    return GLiveFoleyReady;
}

IMPLEMENT_MODULE(FLiveFoleyModule, LiveFoley)
