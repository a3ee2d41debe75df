// The LiveFoley module: loads liblivefoley and refuses an ABI it was not built for.
#pragma once

#include "Modules/ModuleInterface.h"

DECLARE_LOG_CATEGORY_EXTERN(LogLiveFoley, Log, All);

class FLiveFoleyModule : public IModuleInterface
{
public:
    virtual void StartupModule() override;
    virtual void ShutdownModule() override;

    /** True once liblivefoley loaded and reported the expected ABI. */
    static bool IsLibraryReady();

private:
    void* LibraryHandle = nullptr;
};
