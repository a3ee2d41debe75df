/* Frame publishing from host memory in both modes, checked from the consumer side through
 * the protocol core: newest-wins mailbox (latest), back-pressure queue (fifo), pixels,
 * descriptor fields, and every refusal by name. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "peer.h"

#include <stdlib.h>
#include <unistd.h>

enum { W = 8, H = 4, BPP = 4, SRC_PITCH = W * BPP + 12 };

static char name[64];
static uint8_t src[H * SRC_PITCH];

static void make_frame(uint32_t index)
{
    uint32_t x, y, c;
    memset(src, 0xEE, sizeof src); /* padding bytes must never reach the slot */
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x)
            for (c = 0; c < BPP; ++c)
                src[y * SRC_PITCH + x * BPP + c] = (uint8_t)(index * 31u + y * 7u + x * 3u + c);
}

static void check_pixels(const tp_frame_t *f, uint32_t index)
{
    uint32_t x, y, c, bad = 0;
    CHECK(f->pixels != NULL, "host frame without pixels");
    if (!f->pixels) return;
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x)
            for (c = 0; c < BPP; ++c)
                bad += f->pixels[y * f->row_pitch_bytes + x * BPP + c] !=
                       (uint8_t)(index * 31u + y * 7u + x * 3u + c);
    CHECK(bad == 0, "frame %u: %u pixel bytes differ from what was published", index, bad);
}

static int publish(lf_session_t *s, uint32_t index)
{
    make_frame(index);
    return lf_publish_frame_host(s, src, W, H, SRC_PITCH, LF_PIXEL_RGBA8, index,
                                 1000u * index, 0.5f, -0.25f, 0.125f);
}

static void test_latest(void)
{
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    tp_peer_t *p = NULL;
    tp_frame_t f;
    lf_stats_t st;
    uint32_t i;
    lf_session_config_init(&cfg);
    cfg.max_frame_width = 16;
    cfg.max_frame_height = 16;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    CHECK(tp_open(name, &p) == 0, "peer open");
    CHECK(tp_acquire_frame(p, &f) != 0, "nothing published: acquire must fail");
    for (i = 1; i <= 3; ++i) CHECK_RC(publish(s, i), LF_OK);
    CHECK(tp_acquire_frame(p, &f) == 0, "acquire after 3 publishes");
    CHECK(f.frame_index == 3, "newest expected 3, found %llu", (unsigned long long)f.frame_index);
    CHECK(f.capture_ns == 3000, "capture_ns expected 3000, found %lld", (long long)f.capture_ns);
    CHECK(f.width == W && f.height == H, "size expected %dx%d, found %ux%u", W, H, f.width,
          f.height);
    CHECK(f.row_pitch_bytes == W * BPP, "slot pitch expected %d (packed), found %u", W * BPP,
          f.row_pitch_bytes);
    CHECK(f.pixel_format == LF_PIXEL_RGBA8 && f.location == 0, "format/location");
    CHECK(f.yaw_rad == 0.5f && f.pitch_rad == -0.25f && f.roll_rad == 0.125f,
          "orientation expected (0.5,-0.25,0.125), found (%f,%f,%f)", (double)f.yaw_rad,
          (double)f.pitch_rad, (double)f.roll_rad);
    check_pixels(&f, 3);
    /* The consumer holds its slot; the producer must never wait meanwhile. */
    for (i = 4; i <= 20; ++i) CHECK_RC(publish(s, i), LF_OK);
    check_pixels(&f, 3); /* the held slot is untouched by later publishes */
    tp_release_frame(p, f.slot_index);
    CHECK(tp_acquire_frame(p, &f) == 0, "acquire newest again");
    CHECK(f.frame_index == 20, "newest expected 20, found %llu",
          (unsigned long long)f.frame_index);
    check_pixels(&f, 20);
    tp_release_frame(p, f.slot_index);
    memset(&st, 0, sizeof st);
    CHECK_RC(lf_session_stats(s, &st), LF_OK);
    CHECK(st.frames_published == 20, "published expected 20, found %llu",
          (unsigned long long)st.frames_published);
    CHECK(st.frames_dropped == 18, "dropped expected 18 (all but the 2 taken), found %llu",
          (unsigned long long)st.frames_dropped);

    /* Refusals by name. */
    CHECK_RC(lf_publish_frame_host(s, src, W, H, 0, 9, 0, 0, 0, 0, 0), LF_ERR_UNSUPPORTED);
    CHECK_MSG("found 9");
    CHECK_RC(lf_publish_frame_host(s, src, 0, H, 0, LF_PIXEL_RGBA8, 0, 0, 0, 0, 0),
             LF_ERR_INVALID_ARG);
    CHECK_MSG("found 0x4");
    CHECK_RC(lf_publish_frame_host(s, src, W, H, 16, LF_PIXEL_RGBA8, 0, 0, 0, 0, 0),
             LF_ERR_INVALID_ARG);
    CHECK_MSG("expected >= 32");
    {
        uint8_t *big = calloc(17 * 16 * 4, 1);
        CHECK_RC(lf_publish_frame_host(s, big, 17, 16, 0, LF_PIXEL_RGBA8, 0, 0, 0, 0, 0),
                 LF_ERR_FRAME_TOO_LARGE);
        CHECK_MSG("expected at most 1024");
        CHECK_RC(lf_publish_frame_host(s, big, 16, 16, 0, LF_PIXEL_RGB8, 0, 0, 0, 0, 0), LF_OK);
        free(big);
    }
    CHECK_RC(lf_publish_frame_host(s, NULL, W, H, 0, LF_PIXEL_RGBA8, 0, 0, 0, 0, 0),
             LF_ERR_INVALID_ARG);
    tp_close(p);
    CHECK_RC(lf_session_destroy(s, 0), LF_OK);
}

static void test_fifo(void)
{
    lf_session_config_t cfg;
    lf_session_t *s = NULL;
    tp_peer_t *p = NULL;
    tp_frame_t f;
    uint32_t i, expect = 1;
    lf_session_config_init(&cfg);
    cfg.frame_mode = LF_FRAME_MODE_FIFO;
    cfg.frame_slots = 4;
    cfg.max_frame_width = 16;
    cfg.max_frame_height = 16;
    CHECK_RC(lf_session_create(name, &cfg, &s), LF_OK);
    CHECK(tp_open(name, &p) == 0, "peer open");
    for (i = 1; i <= 4; ++i) CHECK_RC(publish(s, i), LF_OK);
    CHECK_RC(publish(s, 5), LF_ERR_WOULD_BLOCK);
    CHECK_MSG("expected a free slot, found all 4 queued");
    /* Nothing is dropped: every frame comes out in order once there is room. */
    for (i = 5; i <= 12; ++i) {
        CHECK(tp_acquire_frame(p, &f) == 0, "fifo acquire %u", expect);
        CHECK(f.frame_index == expect, "fifo order expected %u, found %llu", expect,
              (unsigned long long)f.frame_index);
        check_pixels(&f, expect);
        tp_release_frame(p, f.slot_index);
        ++expect;
        CHECK_RC(publish(s, i), LF_OK);
    }
    while (tp_acquire_frame(p, &f) == 0) {
        CHECK(f.frame_index == expect, "fifo tail expected %u, found %llu", expect,
              (unsigned long long)f.frame_index);
        check_pixels(&f, expect);
        tp_release_frame(p, f.slot_index);
        ++expect;
    }
    CHECK(expect == 13, "expected to drain frames 1..12, stopped before %u", expect);
    tp_close(p);
    CHECK_RC(lf_session_destroy(s, 0), LF_OK);
}

int main(void)
{
    snprintf(name, sizeof name, "lf-ctest-frames-%ld", (long)getpid());
    test_latest();
    test_fifo();
    TP_DONE();
}
