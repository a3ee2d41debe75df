/* The Unity native audio plugin driven the way Unity's mixer drives it: definitions,
 * create, parameters, process with 1/2/6 output channels against 1- and 2-channel rings,
 * pass-through when unbound, and unbinding while the "mixer thread" is processing (ASan
 * and TSan catch a use after free if Unbind returned too early). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"
#include "unity_audio_plugin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

int UnityGetAudioEffectDefinitions(UnityAudioEffectDefinition ***descptr);
int LiveFoleyAudioPlugin_Bind(int slot, lf_session_t *session);
int LiveFoleyAudioPlugin_Unbind(int slot, uint32_t timeout_ms);

static char name[64];
static UnityAudioEffectDefinition *def;

static lf_session_t *make(uint32_t channels, tp_peer_t **peer)
{
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    lf_session_config_init(&cfg);
    cfg.channels = channels;
    cfg.ring_capacity_frames = 4096;
    cfg.max_frame_width = 8;
    cfg.max_frame_height = 8;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    CHECK(tp_open(name, peer) == 0, "peer open");
    return s;
}

static void feed(tp_peer_t *p, uint32_t channels, uint32_t frames, float base)
{
    float buf[1024 * 2];
    uint32_t f, c;
    for (f = 0; f < frames; ++f)
        for (c = 0; c < channels; ++c) buf[f * channels + c] = base * (float)(c + 1);
    CHECK(tp_write_audio(p, buf, frames) == frames, "feed %u frames", frames);
}

static void test_definition(void)
{
    UnityAudioEffectDefinition **defs = NULL;
    CHECK(UnityGetAudioEffectDefinitions(&defs) == 1, "expected one effect");
    def = defs[0];
    CHECK(strcmp(def->name, "LiveFoley Output") == 0, "name \"%s\"", def->name);
    CHECK(def->apiversion == 0x010402u, "api version expected 0x010402, found 0x%x",
          def->apiversion);
    CHECK(def->structsize == sizeof(UnityAudioEffectDefinition), "structsize");
    CHECK(def->numparameters == 3 && def->paramdefs && def->process && def->create &&
          def->release && def->setfloatparameter && def->getfloatparameter,
          "callbacks and 3 parameters");
    CHECK(sizeof(UnityAudioEffectState) == 80, "UnityAudioEffectState expected 80 bytes "
          "(SDK padding union), found %zu", sizeof(UnityAudioEffectState));
}

static void test_process_and_mapping(void)
{
    UnityAudioEffectState st;
    tp_peer_t *p = NULL;
    lf_session_t *s;
    float in[256 * 6], out[256 * 6], v = 0;
    lf_stats_t stats;
    int i;
    memset(&st, 0, sizeof st);
    st.structsize = sizeof st;
    st.samplerate = 48000;
    st.dspbuffersize = 256;
    CHECK(def->create(&st) == 0 && st.effectdata, "create");
    CHECK(def->getfloatparameter(&st, 1, &v, NULL) == 0 && v == 1.0f, "gain default 1");
    for (i = 0; i < 256 * 2; ++i) in[i] = 0.25f;

    /* Unbound: the group's input passes through (Dry = 1), nothing added. */
    CHECK(def->process(&st, in, out, 256, 2, 2) == 0, "process unbound");
    CHECK(out[0] == 0.25f && out[511] == 0.25f, "pass-through expected 0.25, found %f",
          (double)out[0]);

    /* Stereo ring, stereo output: input + ring, ring channel c = 0.1 * (c + 1). */
    s = make(2, &p);
    CHECK_RC(LiveFoleyAudioPlugin_Bind(0, s), LF_OK);
    feed(p, 2, 256, 0.1f);
    def->process(&st, in, out, 256, 2, 2);
    CHECK(out[0] > 0.3499f && out[0] < 0.3501f && out[1] > 0.4499f && out[1] < 0.4501f,
          "mix expected (0.35, 0.45), found (%f, %f)", (double)out[0], (double)out[1]);
    /* Dry = 0, gain 2, mono output: 2 * average(0.1, 0.2) = 0.3. */
    def->setfloatparameter(&st, 2, 0.0f);
    def->setfloatparameter(&st, 1, 2.0f);
    feed(p, 2, 256, 0.1f);
    def->process(&st, in, out, 256, 2, 1);
    CHECK(out[0] > 0.2999f && out[0] < 0.3001f && out[255] > 0.2999f,
          "mono downmix expected 0.3, found %f", (double)out[0]);
    /* Underrun: nothing in the ring -> silence (dry 0) and a counted underrun. */
    def->process(&st, in, out, 256, 2, 2);
    CHECK(out[0] == 0.0f && out[511] == 0.0f, "underrun must be silent, found %f",
          (double)out[0]);
    memset(&stats, 0, sizeof stats);
    lf_session_stats(s, &stats);
    CHECK(stats.underrun_frames == 256, "underrun frames expected 256, found %llu",
          (unsigned long long)stats.underrun_frames);
    CHECK_RC(LiveFoleyAudioPlugin_Unbind(0, 1000), LF_OK);
    tp_close(p);
    lf_session_destroy(s, 0);

    /* Mono ring to 6 output channels: copied to each. */
    s = make(1, &p);
    def->setfloatparameter(&st, 0, 3.0f); /* slot 3 */
    def->setfloatparameter(&st, 1, 1.0f);
    CHECK_RC(LiveFoleyAudioPlugin_Bind(3, s), LF_OK);
    feed(p, 1, 200, 0.5f);
    def->process(&st, in, out, 200, 2, 6);
    for (i = 0; i < 6; ++i)
        CHECK(out[i] == 0.5f, "mono->6ch: channel %d expected 0.5, found %f", i,
              (double)out[i]);
    CHECK_RC(LiveFoleyAudioPlugin_Bind(9, s), LF_ERR_INVALID_ARG);
    CHECK_RC(LiveFoleyAudioPlugin_Unbind(3, 1000), LF_OK);
    tp_close(p);
    lf_session_destroy(s, 0);
    CHECK(def->release(&st) == 0 && st.effectdata == NULL, "release");
}

static atomic_int mixer_stop;

static void *mixer(void *arg)
{
    UnityAudioEffectState *st = (UnityAudioEffectState *)arg;
    float in[512 * 2], out[512 * 2];
    memset(in, 0, sizeof in);
    while (!atomic_load(&mixer_stop)) def->process(st, in, out, 512, 2, 2);
    return NULL;
}

static void test_unbind_while_mixing(void)
{
    UnityAudioEffectState st;
    pthread_t t;
    int round;
    memset(&st, 0, sizeof st);
    st.structsize = sizeof st;
    def->create(&st);
    pthread_create(&t, NULL, mixer, &st);
    for (round = 0; round < 30; ++round) {
        tp_peer_t *p = NULL;
        lf_session_t *s = make(2, &p);
        feed(p, 2, 1000, 0.1f);
        CHECK_RC(LiveFoleyAudioPlugin_Bind(0, s), LF_OK);
        tp_sleep_ms(1);
        CHECK_RC(LiveFoleyAudioPlugin_Unbind(0, 1000), LF_OK);
        tp_close(p);
        lf_session_destroy(s, 0); /* must be safe right after Unbind returns */
    }
    atomic_store(&mixer_stop, 1);
    pthread_join(t, NULL);
    def->release(&st);
}

int main(void)
{
    snprintf(name, sizeof name, "lf-ctest-unity-%ld", (long)getpid());
    test_definition();
    test_process_and_mapping();
    test_unbind_while_mixing();
    TP_DONE();
}
