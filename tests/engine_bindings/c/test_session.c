/* Session lifecycle and validation: create, attach, every bad-header case, detach vs
 * destroy, names, config, error strings, ABI query. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <stdlib.h>
#include <unistd.h>

static char name[64];

static void test_create_attach_roundtrip(void)
{
    lf_session_config_t cfg;
    lf_session_t *owner = NULL, *att = NULL;
    lf_stats_t st;
    lf_session_config_init(&cfg);
    cfg.channels = 4;
    cfg.sample_rate_hz = 44100;
    cfg.ring_capacity_frames = 4096;
    CHECK_RC(lf_session_create(name, &cfg, &owner), LF_OK);
    CHECK(owner != NULL, "owner handle NULL");
    CHECK(tp_segment_exists(name), "segment /dev/shm/%s missing after create", name);
    CHECK_RC(lf_session_attach(name, &att), LF_OK);
    CHECK(lf_session_channels(att) == 4, "channels expected 4, found %u",
          lf_session_channels(att));
    CHECK(lf_session_sample_rate_hz(att) == 44100, "rate expected 44100, found %u",
          lf_session_sample_rate_hz(att));
    CHECK(strcmp(lf_session_name(att), name) == 0, "name expected %s, found %s", name,
          lf_session_name(att));
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_RC(lf_session_stats(att, &st), LF_OK);
    CHECK(st.role == LF_ROLE_ATTACHED, "role expected attached, found %u", st.role);
    CHECK(st.ring_capacity_frames == 4096, "capacity expected 4096, found %u",
          st.ring_capacity_frames);
    CHECK(st.sidecar_alive == 0 && st.sidecar_heartbeat_age_ns == -1,
          "no sidecar expected, found alive=%u age=%lld", st.sidecar_alive,
          (long long)st.sidecar_heartbeat_age_ns);
    /* An attached handle cannot spawn, and destroying it only detaches. */
    CHECK_RC(lf_sidecar_spawn(att, "/bin/true", NULL), LF_ERR_WRONG_ROLE);
    CHECK_MSG("expected the owner");
    CHECK_RC(lf_session_destroy(att, 0), LF_OK);
    CHECK(tp_segment_exists(name), "an attached destroy must not unlink %s", name);
    CHECK_RC(lf_session_create(name, &cfg, &att), LF_ERR_EXISTS);
    CHECK_MSG(name);
    CHECK_RC(lf_session_destroy(owner, 100), LF_OK);
    CHECK(!tp_segment_exists(name), "owner destroy must unlink %s", name);
}

static void test_detach_keeps_segment(void)
{
    lf_session_t *owner = NULL, *again = NULL;
    CHECK_RC(lf_session_create(name, NULL, &owner), LF_OK);
    CHECK_RC(lf_session_detach(owner), LF_OK);
    CHECK(tp_segment_exists(name), "detach must not unlink %s", name);
    CHECK_RC(lf_session_attach(name, &again), LF_OK);
    CHECK(lf_session_channels(again) == 2, "default channels expected 2, found %u",
          lf_session_channels(again));
    CHECK_RC(lf_session_detach(again), LF_OK);
    /* Clean up through a fresh owner-less path: create must now fail, unlink by hand. */
    CHECK_RC(lf_session_create(name, NULL, &again), LF_ERR_EXISTS);
    {
        char path[128];
        snprintf(path, sizeof path, "/dev/shm/%s", name);
        unlink(path);
    }
}

static void test_attach_missing(void)
{
    lf_session_t *s = (lf_session_t *)1;
    CHECK_RC(lf_session_attach("lf-test-no-such-session", &s), LF_ERR_NOT_FOUND);
    CHECK(s == NULL, "out handle must be NULL on failure");
    CHECK_MSG("lf-test-no-such-session");
    CHECK_MSG("found none");
}

static void corrupt_case(int what, int want_rc, const char *needle)
{
    lf_session_t *owner = NULL, *att = NULL;
    CHECK_RC(lf_session_create(name, NULL, &owner), LF_OK);
    CHECK(tp_corrupt(name, what) == 0, "could not corrupt %s", name);
    CHECK_RC(lf_session_attach(name, &att), want_rc);
    CHECK(att == NULL, "handle must be NULL after a failed attach");
    CHECK_MSG(needle);
    CHECK_RC(lf_session_destroy(owner, 0), LF_OK);
}

static void test_bad_headers(void)
{
    corrupt_case(TP_CORRUPT_MAGIC, LF_ERR_BAD_MAGIC, "magic");
    corrupt_case(TP_CORRUPT_ABI, LF_ERR_ABI_MISMATCH, "99");
    corrupt_case(TP_CORRUPT_TRUNCATE, LF_ERR_BAD_LAYOUT, "expected");
    corrupt_case(TP_CORRUPT_AUDIO_OFFSET, LF_ERR_BAD_LAYOUT, "expected");
}

static void test_bad_config_and_names(void)
{
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    lf_session_config_init(&cfg);
    cfg.ring_capacity_frames = 1000;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_ERR_INVALID_ARG);
    CHECK_MSG("power of two");
    CHECK_MSG("1000");
    CHECK(!tp_segment_exists(name), "a refused create must leave no segment");
    lf_session_config_init(&cfg);
    cfg.channels = 0;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_ERR_INVALID_ARG);
    CHECK_MSG("channels");
    lf_session_config_init(&cfg);
    cfg.frame_mode = 7;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_ERR_INVALID_ARG);
    CHECK_MSG("found 7");
    lf_session_config_init(&cfg);
    cfg.struct_size = 8;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_ERR_INVALID_ARG);
    CHECK_MSG("found 8");
    CHECK_RC(lf_session_create("bad/name", NULL, &s), LF_ERR_INVALID_ARG);
    CHECK_MSG("0x2f");
    CHECK_RC(lf_session_create("", NULL, &s), LF_ERR_INVALID_ARG);
    CHECK_MSG("found 0");
    CHECK_RC(lf_session_create(NULL, NULL, &s), LF_ERR_INVALID_ARG);
    CHECK_RC(lf_session_create(name, NULL, NULL), LF_ERR_INVALID_ARG);
    CHECK_RC(lf_session_detach(NULL), LF_ERR_INVALID_ARG);
    CHECK_RC(lf_session_stats(NULL, NULL), LF_ERR_INVALID_ARG);
}

static void test_error_strings_and_versions(void)
{
    static const int codes[] = {LF_OK, LF_ERR_INVALID_ARG, LF_ERR_NOT_FOUND, LF_ERR_EXISTS,
        LF_ERR_BAD_MAGIC, LF_ERR_ABI_MISMATCH, LF_ERR_BAD_LAYOUT, LF_ERR_UNSUPPORTED,
        LF_ERR_FRAME_TOO_LARGE, LF_ERR_WOULD_BLOCK, LF_ERR_NO_MEMORY, LF_ERR_SYSTEM,
        LF_ERR_PEER_DEAD, LF_ERR_WRONG_ROLE, LF_ERR_SPAWN, LF_ERR_SIDECAR_EXITED,
        LF_ERR_TIMEOUT, LF_ERR_NO_CUDA, LF_ERR_CUDA, LF_ERR_PROTOCOL};
    size_t i, j, n = sizeof codes / sizeof codes[0];
    for (i = 0; i < n; ++i) {
        const char *m = lf_error_string(codes[i]);
        CHECK(m && *m && strcmp(m, "unknown error code") != 0, "code %d has no message",
              codes[i]);
        for (j = 0; j < i; ++j)
            CHECK(strcmp(m, lf_error_string(codes[j])) != 0, "codes %d and %d share \"%s\"",
                  codes[i], codes[j], m);
    }
    CHECK(strcmp(lf_error_string(-999), "unknown error code") == 0, "unknown code message");
    CHECK(lf_abi_version() == LF_LIB_ABI_VERSION, "abi expected %u, found %u",
          LF_LIB_ABI_VERSION, lf_abi_version());
    CHECK(lf_protocol_version() >= 1, "protocol version expected >= 1, found %u",
          lf_protocol_version());
}

int main(void)
{
    snprintf(name, sizeof name, "lf-ctest-session-%ld", (long)getpid());
    test_create_attach_roundtrip();
    test_detach_keeps_segment();
    test_attach_missing();
    test_bad_headers();
    test_bad_config_and_names();
    test_error_strings_and_versions();
    TP_DONE();
}
