// LiveFoley runtime module. Links the prebuilt liblivefoley (engine_bindings/c, built with
// CMake) from ThirdParty/livefoley: the engine glue here is thin; all logic, the ring and
// the mailbox live in that tested C library.
using System.IO;
using UnrealBuildTool;

public class LiveFoley : ModuleRules
{
    public LiveFoley(ReadOnlyTargetRules Target) : base(Target)
    {
        PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

        PublicDependencyModuleNames.AddRange(new string[] {
            "Core", "CoreUObject", "Engine", "AudioMixer", "AudioExtensions", "DeveloperSettings"
        });
        PrivateDependencyModuleNames.AddRange(new string[] { "RenderCore", "RHI", "Projects" });

        string ThirdParty = Path.Combine(PluginDirectory, "ThirdParty", "livefoley");
        PublicIncludePaths.Add(Path.Combine(ThirdParty, "include"));

        if (Target.Platform == UnrealTargetPlatform.Win64)
        {
            string Lib = Path.Combine(ThirdParty, "lib", "Win64");
            PublicAdditionalLibraries.Add(Path.Combine(Lib, "livefoley.lib"));
            PublicDelayLoadDLLs.Add("livefoley.dll");
            RuntimeDependencies.Add("$(BinaryOutputDir)/livefoley.dll", Path.Combine(Lib, "livefoley.dll"));
        }
        else if (Target.Platform == UnrealTargetPlatform.Linux)
        {
            string Lib = Path.Combine(ThirdParty, "lib", "Linux");
            PublicAdditionalLibraries.Add(Path.Combine(Lib, "liblivefoley.so"));
            RuntimeDependencies.Add("$(BinaryOutputDir)/liblivefoley.so", Path.Combine(Lib, "liblivefoley.so"));
        }
        else if (Target.Platform == UnrealTargetPlatform.Mac)
        {
            string Lib = Path.Combine(ThirdParty, "lib", "Mac");
            PublicAdditionalLibraries.Add(Path.Combine(Lib, "liblivefoley.dylib"));
            RuntimeDependencies.Add("$(BinaryOutputDir)/liblivefoley.dylib", Path.Combine(Lib, "liblivefoley.dylib"));
        }
    }
}
