/*
 * AudioPluginLiveFoley: a Unity native audio plugin (mixer effect "LiveFoley Output") that
 * plays a LiveFoley session's audio ring on Unity's mixer thread, in C, so no managed code
 * and no garbage-collector pause ever sits on the audio path.
 *
 * Place the effect on an Audio Mixer group. It adds the session's audio to whatever passes
 * through the group (Dry = 1) or replaces it (Dry = 0). C# binds a session handle (from
 * liblivefoley, via LiveFoleySession) to one of LF_UNITY_SLOTS slots; the effect's
 * "Slot" parameter picks which one it plays.
 *
 * Channel mapping, when the ring and the mixer disagree: mono ring -> copied to every
 * output channel; mono output -> the average of the ring's channels; otherwise channel c
 * goes to channel c and extra output channels are silent.
 *
 * Real-time safe (process callback): yes. No locks, allocation or system calls; the
 * scratch buffer is allocated in the create callback. Binding uses a seq_cst
 * "in use" counter so LiveFoleyAudioPlugin_Unbind returns only once no callback can still
 * touch the old session; the caller may then destroy it.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#include "unity_audio_plugin.h"

#include "livefoley/livefoley.h"

#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#  define WIN32_LEAN_AND_MEAN
#  include <windows.h>
#  define LF_PLUGIN_API __declspec(dllexport)
static void yield_ms(unsigned ms) { Sleep(ms); }
#else
#  include <time.h>
#  define LF_PLUGIN_API __attribute__((visibility("default")))
static void yield_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

#include <stdatomic.h>

#define LF_UNITY_SLOTS 8
#define LF_SCRATCH_FRAMES 1024u
#define LF_MAX_RING_CHANNELS 16u

enum { P_SLOT = 0, P_GAIN = 1, P_DRY = 2, P_COUNT = 3 };

typedef struct LfEffect {
    float params[P_COUNT];
    float scratch[LF_SCRATCH_FRAMES * LF_MAX_RING_CHANNELS];
} LfEffect;

static _Atomic(lf_session_t *) bound[LF_UNITY_SLOTS];
static atomic_int in_use[LF_UNITY_SLOTS];

/* ---- binding API (called from C# on the main thread) --------------------------------- */

LF_PLUGIN_API int LiveFoleyAudioPlugin_Bind(int slot, lf_session_t *session)
{
    if (slot < 0 || slot >= LF_UNITY_SLOTS) return LF_ERR_INVALID_ARG;
    if (session && lf_session_channels(session) > LF_MAX_RING_CHANNELS)
        return LF_ERR_UNSUPPORTED;
    atomic_store(&bound[slot], session);
    return LF_OK;
}

/* Unbind and wait (up to timeout_ms) until no mixer callback still uses the old session.
 * LF_ERR_TIMEOUT if the mixer thread is stuck inside a callback. */
LF_PLUGIN_API int LiveFoleyAudioPlugin_Unbind(int slot, uint32_t timeout_ms)
{
    uint32_t waited = 0;
    if (slot < 0 || slot >= LF_UNITY_SLOTS) return LF_ERR_INVALID_ARG;
    atomic_store(&bound[slot], (lf_session_t *)NULL);
    while (atomic_load(&in_use[slot]) != 0) {
        if (waited >= timeout_ms) return LF_ERR_TIMEOUT;
        yield_ms(1);
        ++waited;
    }
    return LF_OK;
}

LF_PLUGIN_API int LiveFoleyAudioPlugin_SlotCount(void)
{
    return LF_UNITY_SLOTS;
}

/* ---- effect callbacks ----------------------------------------------------------------- */

static UnityAudioParameterDefinition param_defs[P_COUNT] = {
    {"Slot", "", "Session slot bound from C# (LiveFoleyNativeAudio.slot)", 0.0f,
     (float)(LF_UNITY_SLOTS - 1), 0.0f, 1.0f, 1.0f},
    {"Gain", "", "Gain applied to the LiveFoley audio", 0.0f, 4.0f, 1.0f, 1.0f, 1.0f},
    {"Dry", "", "1 = mix with the group's input, 0 = replace it", 0.0f, 1.0f, 1.0f, 1.0f,
     1.0f},
};

static int LF_UNITY_CALLBACK create_cb(UnityAudioEffectState *state)
{
    LfEffect *e = (LfEffect *)calloc(1, sizeof *e);
    int i;
    if (!e) return LF_UNITY_ERR_UNSUPPORTED;
    for (i = 0; i < P_COUNT; ++i) e->params[i] = param_defs[i].defaultval;
    state->effectdata = e;
    return LF_UNITY_OK;
}

static int LF_UNITY_CALLBACK release_cb(UnityAudioEffectState *state)
{
    free(state->effectdata);
    state->effectdata = NULL;
    return LF_UNITY_OK;
}

static int LF_UNITY_CALLBACK set_param_cb(UnityAudioEffectState *state, int index, float value)
{
    LfEffect *e = (LfEffect *)state->effectdata;
    if (!e || index < 0 || index >= P_COUNT) return LF_UNITY_ERR_UNSUPPORTED;
    if (value < param_defs[index].min) value = param_defs[index].min;
    if (value > param_defs[index].max) value = param_defs[index].max;
    e->params[index] = value;
    return LF_UNITY_OK;
}

static int LF_UNITY_CALLBACK get_param_cb(UnityAudioEffectState *state, int index,
                                          float *value, char *valuestr)
{
    LfEffect *e = (LfEffect *)state->effectdata;
    if (!e || index < 0 || index >= P_COUNT) return LF_UNITY_ERR_UNSUPPORTED;
    if (value) *value = e->params[index];
    if (valuestr) valuestr[0] = '\0';
    return LF_UNITY_OK;
}

/* Mix `frames` frames of `src` (src_ch interleaved) into `out` (out_ch interleaved). */
static void mix_mapped(float *out, int out_ch, const float *src, uint32_t src_ch,
                       uint32_t frames, float gain)
{
    uint32_t f, c;
    for (f = 0; f < frames; ++f) {
        float *o = out + (size_t)f * (size_t)out_ch;
        const float *s = src + (size_t)f * src_ch;
        if (src_ch == 1) {
            for (c = 0; c < (uint32_t)out_ch; ++c) o[c] += gain * s[0];
        } else if (out_ch == 1) {
            float sum = 0.0f;
            for (c = 0; c < src_ch; ++c) sum += s[c];
            o[0] += gain * sum / (float)src_ch;
        } else {
            for (c = 0; c < src_ch && c < (uint32_t)out_ch; ++c) o[c] += gain * s[c];
        }
    }
}

static int LF_UNITY_CALLBACK process_cb(UnityAudioEffectState *state, float *inbuffer,
                                        float *outbuffer, unsigned int length, int inchannels,
                                        int outchannels)
{
    LfEffect *e = (LfEffect *)state->effectdata;
    lf_session_t *s;
    size_t i, n;
    int slot;
    float dry, gain;
    if (!e || outchannels <= 0) return LF_UNITY_OK;
    n = (size_t)length * (size_t)outchannels;
    dry = (state->flags & LF_UNITY_STATE_IS_MUTED) ? 0.0f : e->params[P_DRY];
    gain = e->params[P_GAIN];
    if (inbuffer && inchannels == outchannels)
        for (i = 0; i < n; ++i) outbuffer[i] = dry * inbuffer[i];
    else
        memset(outbuffer, 0, n * sizeof *outbuffer);
    slot = (int)(e->params[P_SLOT] + 0.5f);
    if (slot < 0 || slot >= LF_UNITY_SLOTS) return LF_UNITY_OK;
    atomic_fetch_add(&in_use[slot], 1);
    s = atomic_load(&bound[slot]);
    if (s) {
        uint32_t ch = lf_session_channels(s), done = 0;
        uint32_t chunk_max = LF_SCRATCH_FRAMES * LF_MAX_RING_CHANNELS / (ch ? ch : 1u);
        while (ch && done < length) {
            uint32_t chunk = length - done;
            if (chunk > chunk_max) chunk = chunk_max;
            lf_read_audio(s, e->scratch, chunk); /* fills silence on underrun, counts it */
            mix_mapped(outbuffer + (size_t)done * (size_t)outchannels, outchannels,
                       e->scratch, ch, chunk, gain);
            done += chunk;
        }
    }
    atomic_fetch_sub(&in_use[slot], 1);
    return LF_UNITY_OK;
}

static UnityAudioEffectDefinition definition;
static UnityAudioEffectDefinition *definitions[1];

LF_UNITY_EXPORT int UnityGetAudioEffectDefinitions(UnityAudioEffectDefinition ***descptr)
{
    memset(&definition, 0, sizeof definition);
    definition.structsize = (uint32_t)sizeof definition;
    definition.paramstructsize = (uint32_t)sizeof(UnityAudioParameterDefinition);
    definition.apiversion = LF_UNITY_AUDIO_PLUGIN_API_VERSION;
    definition.pluginversion = 0x010000u;
    definition.channels = 0;
    definition.numparameters = P_COUNT;
    definition.flags = 0;
    strncpy(definition.name, "LiveFoley Output", sizeof definition.name - 1);
    definition.create = create_cb;
    definition.release = release_cb;
    definition.process = process_cb;
    definition.paramdefs = param_defs;
    definition.setfloatparameter = set_param_cb;
    definition.getfloatparameter = get_param_cb;
    definitions[0] = &definition;
    *descptr = definitions;
    return 1;
}
