/* Spawning and awaiting the sidecar with a real child process (fake_sidecar, built beside
 * this test): ready, audio flows, stop on destroy, and every failure by name: missing
 * executable, early exit, no heartbeat (timeout), wrong role, stale heartbeat. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef LF_FAKE_SIDECAR
#error "build with -DLF_FAKE_SIDECAR=\"/path/to/fake_sidecar\""
#endif

static char name[64];

static lf_session_t *make(void)
{
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    lf_session_config_init(&cfg);
    cfg.ring_capacity_frames = 8192;
    cfg.max_frame_width = 64;
    cfg.max_frame_height = 64;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    return s;
}

static void test_spawn_await_audio_stop(void)
{
    char argv_file[128], line[256], *lines[8];
    lf_session_t *s = make();
    lf_stats_t st;
    float out[512 * 2];
    int32_t got;
    int i, n = 0;
    int64_t pid;
    FILE *f;
    snprintf(argv_file, sizeof argv_file, "/tmp/lf-ctest-argv-%ld", (long)getpid());
    setenv("LF_FAKE_ARGV_FILE", argv_file, 1);
    unsetenv("LF_FAKE_MODE");
    CHECK_RC(lf_sidecar_spawn(s, LF_FAKE_SIDECAR, "tiny-model"), LF_OK);
    CHECK_RC(lf_sidecar_spawn(s, LF_FAKE_SIDECAR, NULL), LF_ERR_WRONG_ROLE);
    CHECK_MSG("already running");
    CHECK_RC(lf_sidecar_await(s, 10000), LF_OK);
    CHECK_RC(lf_sidecar_check(s, 2000), LF_OK);
    memset(&st, 0, sizeof st);
    CHECK_RC(lf_session_stats(s, &st), LF_OK);
    CHECK(st.sidecar_alive == 1, "stats: sidecar expected alive");
    CHECK(st.sidecar_pid > 0 && st.sidecar_heartbeat_age_ns >= 0, "pid %lld age %lld",
          (long long)st.sidecar_pid, (long long)st.sidecar_heartbeat_age_ns);
    pid = st.sidecar_pid;
    /* The argv the sidecar saw: serve --session NAME --model tiny-model. */
    f = fopen(argv_file, "r");
    CHECK(f != NULL, "sidecar wrote no argv file");
    while (f && n < 8 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        lines[n++] = strdup(line);
    }
    if (f) fclose(f);
    CHECK(n == 6, "argv expected 6 entries, found %d", n);
    if (n == 6) {
        CHECK(strcmp(lines[1], "serve") == 0 && strcmp(lines[2], "--session") == 0 &&
              strcmp(lines[3], name) == 0 && strcmp(lines[4], "--model") == 0 &&
              strcmp(lines[5], "tiny-model") == 0,
              "argv expected 'serve --session %s --model tiny-model', found '%s %s %s %s %s'",
              name, lines[1], lines[2], lines[3], lines[4], lines[5]);
    }
    for (i = 0; i < n; ++i) free(lines[i]);
    unlink(argv_file);
    /* Audio flows: within a second the reader gets a full block of the known signal. */
    for (i = 0, got = 0; i < 500 && got < 512; ++i) {
        got = lf_read_audio(s, out, 512);
        if (got < 512) tp_sleep_ms(2);
    }
    CHECK(got == 512, "expected a full block of sidecar audio, found %d frames", got);
    {
        float peak0 = 0, peak1 = 0;
        for (i = 0; i < 512; ++i) {
            if (out[2 * i] > peak0) peak0 = out[2 * i];
            if (out[2 * i + 1] > peak1) peak1 = out[2 * i + 1];
        }
        CHECK(peak0 > 0.45f && peak0 <= 0.5f, "left peak expected ~0.5, found %f",
              (double)peak0);
        CHECK(peak1 > 0.2f && peak1 <= 0.25f, "right peak expected ~0.25, found %f",
              (double)peak1);
    }
    /* Destroy closes the session; the sidecar leaves and the segment is gone. */
    CHECK_RC(lf_session_destroy(s, 3000), LF_OK);
    CHECK(kill((pid_t)pid, 0) != 0, "sidecar pid %lld still alive after destroy",
          (long long)pid);
    CHECK(!tp_segment_exists(name), "segment still exists after destroy");
}

static void test_missing_executable(void)
{
    lf_session_t *s = make();
    CHECK_RC(lf_sidecar_spawn(s, "livefoley-no-such-binary-xyz", NULL), LF_ERR_SPAWN);
    CHECK_MSG("livefoley-no-such-binary-xyz");
    CHECK_MSG("No such file");
    CHECK_RC(lf_session_destroy(s, 100), LF_OK);
}

static void test_early_exit(void)
{
    lf_session_t *s = make();
    setenv("LF_FAKE_MODE", "exit3", 1);
    CHECK_RC(lf_sidecar_spawn(s, LF_FAKE_SIDECAR, NULL), LF_OK);
    CHECK_RC(lf_sidecar_await(s, 10000), LF_ERR_SIDECAR_EXITED);
    CHECK_MSG("exited with status 3");
    unsetenv("LF_FAKE_MODE");
    CHECK_RC(lf_session_destroy(s, 100), LF_OK);
}

static void test_timeout_and_stop(void)
{
    lf_session_t *s = make();
    int64_t t0, ms;
    setenv("LF_FAKE_MODE", "silent", 1);
    CHECK_RC(lf_sidecar_spawn(s, LF_FAKE_SIDECAR, NULL), LF_OK);
    t0 = tp_now_ns();
    CHECK_RC(lf_sidecar_await(s, 300), LF_ERR_TIMEOUT);
    ms = (tp_now_ns() - t0) / 1000000;
    CHECK(ms >= 290 && ms < 2000, "await(300 ms) returned after %lld ms", (long long)ms);
    CHECK_MSG("within 300 ms");
    CHECK_RC(lf_sidecar_check(s, 1000), LF_ERR_PEER_DEAD);
    CHECK_MSG("none yet");
    CHECK_RC(lf_sidecar_stop(s, 2000), LF_OK);
    CHECK_RC(lf_sidecar_stop(s, 2000), LF_OK); /* idempotent */
    unsetenv("LF_FAKE_MODE");
    CHECK_RC(lf_session_destroy(s, 100), LF_OK);
}

static void test_await_external_and_stale(void)
{
    /* A sidecar started by someone else (here: the test, through the protocol). */
    lf_session_t *s = make();
    tp_peer_t *p = NULL;
    CHECK(tp_open(name, &p) == 0, "peer open");
    tp_sidecar_beat(p, 0);
    CHECK_RC(lf_sidecar_await(s, 1000), LF_OK);
    tp_sleep_ms(120);
    CHECK_RC(lf_sidecar_check(s, 50), LF_ERR_PEER_DEAD);
    CHECK_MSG("within 50 ms");
    CHECK_RC(lf_sidecar_check(s, 5000), LF_OK);
    tp_close(p);
    CHECK_RC(lf_session_destroy(s, 100), LF_OK);
}

int main(void)
{
    snprintf(name, sizeof name, "lf-ctest-spawn-%ld", (long)getpid());
    test_spawn_await_audio_stop();
    test_missing_executable();
    test_early_exit();
    test_timeout_and_stop();
    test_await_external_and_stale();
    TP_DONE();
}
