/*
 * A stand-in sidecar for the spawn/await tests and the Mono test: `fake_sidecar serve
 * --session NAME [--model M]`. It attaches through the protocol core, beats, marks the
 * session ready and keeps the ring topped up with a known signal (channel c carries
 * 0.5 * sin(2 pi 440 t) / (c + 1)), until the host closes the session, the host dies, or
 * SIGTERM. LF_FAKE_MODE selects a failure: "exit3" exits 3 at once, "silent" attaches but
 * never beats. LF_FAKE_ARGV_FILE, if set, receives the argv it was started with.
 */
#define _POSIX_C_SOURCE 200809L
#include "livefoley/protocol.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    const char *mode = getenv("LF_FAKE_MODE");
    const char *argv_file = getenv("LF_FAKE_ARGV_FILE");
    const char *name = NULL;
    char err[256] = "";
    lf_shm_t shm;
    const lf_header_t *h;
    float block[256 * LF_MAX_CHANNELS];
    uint64_t n = 0;
    int i, rc;
    signal(SIGTERM, on_term);
    if (argv_file && *argv_file) {
        FILE *f = fopen(argv_file, "w");
        if (f) {
            for (i = 0; i < argc; ++i) fprintf(f, "%s\n", argv[i]);
            fclose(f);
        }
    }
    for (i = 1; i + 1 < argc; ++i)
        if (strcmp(argv[i], "--session") == 0) name = argv[i + 1];
    if (argc < 2 || strcmp(argv[1], "serve") != 0 || !name) {
        fprintf(stderr, "usage: fake_sidecar serve --session NAME [--model M]\n");
        return 2;
    }
    if (mode && strcmp(mode, "exit3") == 0) return 3;
    memset(&shm, 0, sizeof shm);
    if ((rc = lf_session_open(&shm, name, err, sizeof err)) != LF_OK) {
        fprintf(stderr, "fake_sidecar: %s (%s)\n", err, lf_strerror(rc));
        return 4;
    }
    h = (const lf_header_t *)shm.base;
    if (mode && strcmp(mode, "silent") == 0) {
        while (!stop && lf_state_get(shm.base) != LF_STATE_CLOSED) sleep_ms(5);
        lf_shm_close(&shm);
        return 0;
    }
    lf_state_set(shm.base, LF_STATE_READY);
    while (!stop && lf_state_get(shm.base) != LF_STATE_CLOSED) {
        lf_peer_t host;
        uint64_t target = h->ring_capacity_frames / 2u;
        lf_heartbeat(shm.base, LF_ROLE_SIDECAR, lf_now_ns(), lf_current_pid());
        if (lf_peer_status(shm.base, LF_ROLE_HOST, lf_now_ns(), 5000000000LL, &host) == LF_OK &&
            host.state == LF_PEER_DEAD)
            break;
        while (lf_audio_fill_frames(shm.base) < target) {
            uint32_t f, c, frames = 256;
            for (f = 0; f < frames; ++f, ++n) {
                float v = 0.5f * (float)sin(2.0 * 3.14159265358979 * 440.0 * (double)n /
                                            (double)h->sample_rate_hz);
                for (c = 0; c < h->channels; ++c)
                    block[f * h->channels + c] = v / (float)(c + 1u);
            }
            frames = lf_audio_write(shm.base, block, frames);
            n -= 256u - frames;
            if (frames < 256u) break;
        }
        sleep_ms(2);
    }
    lf_shm_close(&shm);
    return 0;
}
