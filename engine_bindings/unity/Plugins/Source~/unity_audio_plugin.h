/*
 * The minimal subset of Unity's native audio plugin SDK (AudioPluginInterface.h) that
 * AudioPluginLiveFoley needs, declared here so the plugin builds without the SDK.
 *
 * Layout source: Unity's AudioPluginInterface.h, UNITY_AUDIO_PLUGIN_API_VERSION 0x010402
 * (Unity 2018.1 and later; the native audio plugin SDK at
 * github.com/Unity-Technologies/NativeAudioPlugins). Field order, types and the 80-byte
 * padding union of UnityAudioEffectState follow that header; only names of types we do
 * not use are left opaque (spatializer and ambisonic data are pointers we never read).
 * Calling convention: __stdcall on Windows, default elsewhere, as the SDK declares.
 */
#ifndef LF_UNITY_AUDIO_PLUGIN_H
#define LF_UNITY_AUDIO_PLUGIN_H

#include <stdint.h>

#define LF_UNITY_AUDIO_PLUGIN_API_VERSION 0x010402u

#if defined(_WIN32)
#  define LF_UNITY_CALLBACK __stdcall
#  define LF_UNITY_EXPORT __declspec(dllexport)
#else
#  define LF_UNITY_CALLBACK
#  define LF_UNITY_EXPORT __attribute__((visibility("default")))
#endif

#define LF_UNITY_OK 0
#define LF_UNITY_ERR_UNSUPPORTED 1

/* UnityAudioEffectStateFlags */
#define LF_UNITY_STATE_IS_PLAYING 1u
#define LF_UNITY_STATE_IS_PAUSED 2u
#define LF_UNITY_STATE_IS_MUTED 4u

typedef struct UnityAudioEffectState UnityAudioEffectState;
struct UnityAudioSpatializerData;
struct UnityAudioAmbisonicData;

typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_CreateCallback)(UnityAudioEffectState *state);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_ReleaseCallback)(UnityAudioEffectState *state);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_ResetCallback)(UnityAudioEffectState *state);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_ProcessCallback)(
    UnityAudioEffectState *state, float *inbuffer, float *outbuffer, unsigned int length,
    int inchannels, int outchannels);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_SetPositionCallback)(
    UnityAudioEffectState *state, unsigned int pos);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_SetFloatParameterCallback)(
    UnityAudioEffectState *state, int index, float value);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_GetFloatParameterCallback)(
    UnityAudioEffectState *state, int index, float *value, char *valuestr);
typedef int (LF_UNITY_CALLBACK *UnityAudioEffect_GetFloatBufferCallback)(
    UnityAudioEffectState *state, const char *name, float *buffer, int numsamples);

struct UnityAudioEffectState {
    union {
        struct {
            uint32_t structsize;     /* size of this struct as the host knows it */
            uint32_t samplerate;     /* system sample rate */
            uint64_t currdsptick;
            uint64_t prevdsptick;
            float *sidechainbuffer;
            void *effectdata;        /* ours: LfEffect* */
            uint32_t flags;          /* LF_UNITY_STATE_* */
            void *internal;
            /* API 1.0 ends here: check structsize before reading below. */
            struct UnityAudioSpatializerData *spatializerdata;
            uint32_t dspbuffersize;  /* frames per process callback */
            uint32_t hostapiversion;
            struct UnityAudioAmbisonicData *ambisonicdata;
        };
        unsigned char pad[80];
    };
};

typedef struct UnityAudioParameterDefinition {
    char name[16];
    char unit[16];
    const char *description;
    float min;
    float max;
    float defaultval;
    float displayscale;
    float displayexponent;
} UnityAudioParameterDefinition;

/* UnityAudioEffectDefinitionFlags */
#define LF_UNITY_DEF_IS_SIDECHAIN_TARGET 1u

typedef struct UnityAudioEffectDefinition {
    uint32_t structsize;
    uint32_t paramstructsize;
    uint32_t apiversion;
    uint32_t pluginversion;
    uint32_t channels; /* 0: process whatever channel count the mixer gives */
    uint32_t numparameters;
    uint64_t flags;
    char name[32];
    UnityAudioEffect_CreateCallback create;
    UnityAudioEffect_ReleaseCallback release;
    UnityAudioEffect_ResetCallback reset;
    UnityAudioEffect_ProcessCallback process;
    UnityAudioEffect_SetPositionCallback setposition;
    UnityAudioParameterDefinition *paramdefs;
    UnityAudioEffect_SetFloatParameterCallback setfloatparameter;
    UnityAudioEffect_GetFloatParameterCallback getfloatparameter;
    UnityAudioEffect_GetFloatBufferCallback getfloatbuffer;
} UnityAudioEffectDefinition;

#endif
