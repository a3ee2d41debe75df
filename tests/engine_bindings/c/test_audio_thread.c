/* The real-time reader under concurrency (run under ThreadSanitizer): a producer thread
 * (the protocol's lf_audio_write on its own mapping) and a reader thread calling
 * lf_read_audio at a 256-frame cadence. Real frames must arrive in order with no loss or
 * duplication; a producer pause must turn into counted underrun silence, then resume. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <pthread.h>
#include <unistd.h>

enum { CH = 2, TOTAL = 120000, PAUSE_AT = 60000, BLOCK = 256 };

static char name[64];
static lf_session_t *session;

static void *producer(void *arg)
{
    tp_peer_t *p = (tp_peer_t *)arg;
    float buf[333 * CH];
    uint32_t next = 1, paused = 0;
    while (next <= TOTAL) {
        uint32_t n = 1 + (next * 7919u) % 333u, i, wrote;
        if (next + n - 1 > TOTAL) n = TOTAL - next + 1;
        for (i = 0; i < n; ++i) {
            buf[i * CH] = (float)(next + i);
            buf[i * CH + 1] = -(float)(next + i);
        }
        wrote = tp_write_audio(p, buf, n);
        next += wrote;
        if (!paused && next > PAUSE_AT) {
            paused = 1;
            tp_sleep_ms(60); /* long enough for the reader to drain and underrun */
        }
        if (wrote < n) tp_sleep_ms(1);
    }
    return NULL;
}

static void *reader(void *arg)
{
    float out[BLOCK * CH];
    uint32_t expect = 1, i, errors = 0;
    int32_t got;
    (void)arg;
    while (expect <= TOTAL) {
        got = lf_read_audio(session, out, BLOCK);
        if (got < 0) { ++errors; break; }
        for (i = 0; i < (uint32_t)got; ++i, ++expect)
            if (out[i * CH] != (float)expect || out[i * CH + 1] != -(float)expect) ++errors;
        for (i = (uint32_t)got * CH; i < BLOCK * CH; ++i)
            if (out[i] != 0.0f) ++errors;
        if (got < BLOCK) tp_sleep_ms(1); /* a 48 kHz callback would come ~5 ms later */
    }
    CHECK(errors == 0, "%u samples torn, lost, duplicated or not silent", errors);
    CHECK(expect == TOTAL + 1, "reader expected to reach %d, stopped at %u", TOTAL, expect);
    return NULL;
}

int main(void)
{
    lf_session_config_t cfg;
    tp_peer_t *p = NULL;
    pthread_t tp, tr;
    lf_stats_t st;
    snprintf(name, sizeof name, "lf-ctest-thread-%ld", (long)getpid());
    lf_session_config_init(&cfg);
    cfg.channels = CH;
    cfg.ring_capacity_frames = 2048;
    CHECK_RC(lf_session_create(name, &cfg, &session), LF_OK);
    CHECK(tp_open(name, &p) == 0, "peer open");
    pthread_create(&tr, NULL, reader, NULL);
    pthread_create(&tp, NULL, producer, p);
    pthread_join(tp, NULL);
    pthread_join(tr, NULL);
    memset(&st, 0, sizeof st);
    CHECK_RC(lf_session_stats(session, &st), LF_OK);
    CHECK(st.underrun_events > 0 && st.underrun_frames > 0,
          "the producer pause must show as underruns, found %llu events",
          (unsigned long long)st.underrun_events);
    CHECK(st.audio_frames_written == TOTAL, "written expected %d, found %llu", TOTAL,
          (unsigned long long)st.audio_frames_written);
    tp_close(p);
    CHECK_RC(lf_session_destroy(session, 0), LF_OK);
    TP_DONE();
}
