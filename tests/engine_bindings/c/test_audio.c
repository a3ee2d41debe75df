/* lf_read_audio semantics, single-threaded: empty ring, partial, exact, wrap-around,
 * underrun counting, channel counts, bad arguments. The producer is the protocol core
 * itself (tp_write_audio = lf_audio_write on a second mapping). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <unistd.h>

static char name[64];

static void fill_seq(float *buf, uint32_t frames, uint32_t ch, uint32_t *next)
{
    uint32_t i, c;
    for (i = 0; i < frames; ++i, ++*next)
        for (c = 0; c < ch; ++c) buf[i * ch + c] = (float)(*next) + 0.25f * (float)c;
}

static void test_semantics(uint32_t channels)
{
    enum { CAP = 256 };
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    tp_peer_t *p = NULL;
    lf_stats_t st;
    float in[CAP * 8], out[CAP * 2 * 8];
    uint32_t next_in = 1, next_out = 1, i, c, round;
    int32_t got;
    lf_session_config_init(&cfg);
    cfg.channels = channels;
    cfg.ring_capacity_frames = CAP;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    CHECK(tp_open(name, &p) == 0, "peer open failed");

    /* Empty ring: all silence, one underrun event of 64 frames. */
    for (i = 0; i < 64 * channels; ++i) out[i] = 7.0f;
    got = lf_read_audio(s, out, 64);
    CHECK(got == 0, "empty read expected 0 real frames, found %d", got);
    for (i = 0; i < 64 * channels; ++i) CHECK(out[i] == 0.0f, "sample %u not silent", i);
    memset(&st, 0, sizeof st);
    lf_session_stats(s, &st);
    CHECK(st.underrun_frames == 64 && st.underrun_events == 1,
          "underrun expected 64 frames / 1 event, found %llu / %llu",
          (unsigned long long)st.underrun_frames, (unsigned long long)st.underrun_events);

    /* Partial: 100 real frames then 28 of silence. */
    fill_seq(in, 100, channels, &next_in);
    CHECK(tp_write_audio(p, in, 100) == 100, "write 100");
    got = lf_read_audio(s, out, 128);
    CHECK(got == 100, "partial read expected 100, found %d", got);
    for (i = 0; i < 100; ++i, ++next_out)
        for (c = 0; c < channels; ++c)
            CHECK(out[i * channels + c] == (float)next_out + 0.25f * (float)c,
                  "frame %u ch %u expected %f found %f", i, c,
                  (double)((float)next_out + 0.25f * (float)c), (double)out[i * channels + c]);
    for (i = 100 * channels; i < 128 * channels; ++i)
        CHECK(out[i] == 0.0f, "tail sample %u expected silence, found %f", i, (double)out[i]);

    /* Exactly the capacity, then wrap-around many times with odd block sizes. */
    fill_seq(in, CAP, channels, &next_in);
    CHECK(tp_write_audio(p, in, CAP) == CAP, "write exactly capacity");
    fill_seq(in, 1, channels, &next_in);
    CHECK(tp_write_audio(p, in, 1) == 0, "a full ring must refuse more");
    next_in -= 1;
    got = lf_read_audio(s, out, CAP);
    CHECK(got == CAP, "full read expected %d, found %d", CAP, got);
    for (i = 0; i < CAP; ++i, ++next_out)
        CHECK(out[i * channels] == (float)next_out, "full read frame %u expected %u found %f",
              i, next_out, (double)out[i * channels]);
    for (round = 0; round < 200; ++round) {
        uint32_t n = 1 + (round * 37u) % (CAP - 1);
        fill_seq(in, n, channels, &next_in);
        CHECK(tp_write_audio(p, in, n) == n, "round %u write %u", round, n);
        got = lf_read_audio(s, out, n);
        CHECK(got == (int32_t)n, "round %u read expected %u, found %d", round, n, got);
        for (i = 0; i < n; ++i, ++next_out)
            if (out[i * channels] != (float)next_out) {
                CHECK(0, "round %u frame %u expected %u found %f", round, i, next_out,
                      (double)out[i * channels]);
                break;
            }
    }
    memset(&st, 0, sizeof st);
    lf_session_stats(s, &st);
    CHECK(st.underrun_frames == 64 + 28, "underrun frames expected 92, found %llu",
          (unsigned long long)st.underrun_frames);
    CHECK(st.underrun_events == 2, "underrun events expected 2, found %llu",
          (unsigned long long)st.underrun_events);
    CHECK(st.audio_fill_frames == 0, "fill expected 0, found %llu",
          (unsigned long long)st.audio_fill_frames);
    CHECK(st.channels == channels, "stats channels expected %u found %u", channels,
          st.channels);

    /* Bad arguments never write and never crash. */
    CHECK(lf_read_audio(NULL, out, 4) == LF_ERR_INVALID_ARG, "NULL session");
    CHECK(lf_read_audio(s, NULL, 4) == LF_ERR_INVALID_ARG, "NULL buffer");
    CHECK(lf_read_audio(s, out, 0) == 0, "zero frames reads nothing");
    tp_close(p);
    CHECK_RC(lf_session_destroy(s, 0), LF_OK);
}

int main(void)
{
    snprintf(name, sizeof name, "lf-ctest-audio-%ld", (long)getpid());
    test_semantics(1);
    test_semantics(2);
    test_semantics(6);
    TP_DONE();
}
