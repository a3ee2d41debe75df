/* Deterministic test streams shared by the C test programs and (in numpy) by stream.py.
 * Audio: block `seq` has block_len(seed, seq) frames; frame j of it carries two 32-bit
 * words: the sequence number and a hash of (seq, j), stored bit-exact in the float32
 * channels. Frames: frame k has a size and a byte pattern derived from k. */
#ifndef LF_TEST_STREAM_H
#define LF_TEST_STREAM_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#define MAX_BLOCK_FRAMES 64u
#define MAX_FRAME_W 64u
#define MAX_FRAME_H 48u

static inline uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint32_t block_len(uint64_t seed, uint64_t seq)
{
    return 1u + (uint32_t)(splitmix64(seed + seq) % MAX_BLOCK_FRAMES);
}

static inline uint32_t frame_check(uint64_t seq, uint32_t j)
{
    return (uint32_t)(splitmix64((seq << 16) + j) >> 32);
}

/* Two channels per frame: word0 = seq, word1 = check. */
static inline void make_block(float *out, uint64_t seq, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) {
        uint32_t w0 = (uint32_t)seq, w1 = frame_check(seq, j);
        memcpy(&out[2 * j], &w0, 4);
        memcpy(&out[2 * j + 1], &w1, 4);
    }
}

static inline uint32_t frame_width(uint64_t seed, uint64_t k)
{
    return 1u + (uint32_t)(splitmix64(seed ^ (k * 2654435761u)) % MAX_FRAME_W);
}

static inline uint32_t frame_height(uint64_t seed, uint64_t k)
{
    return 1u + (uint32_t)((splitmix64(seed ^ (k * 2654435761u)) >> 20) % MAX_FRAME_H);
}

/* Byte i of row y of frame k (RGBA8, tight rows); the first 8 bytes hold k itself. */
static inline uint8_t frame_byte(uint64_t k, uint32_t y, uint32_t x)
{
    return (uint8_t)(k * 7u + y * 13u + x * 3u);
}

static inline void fill_frame(uint8_t *dst, uint64_t k, uint32_t w, uint32_t h, uint32_t pitch)
{
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w * 4u; x++) {
            dst[(uint64_t)y * pitch + x] = frame_byte(k, y, x);
        }
    }
    if (w * 4u * h >= 8u && pitch == w * 4u) {
        memcpy(dst, &k, 8);
    }
}

static inline int check_frame(const uint8_t *src, uint64_t k, uint32_t w, uint32_t h, uint32_t pitch)
{
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w * 4u; x++) {
            uint64_t i = (uint64_t)y * pitch + x;
            if (pitch == w * 4u && i < 8 && w * 4u * h >= 8u) {
                continue;
            }
            if (src[i] != frame_byte(k, y, x)) {
                return 0;
            }
        }
    }
    if (w * 4u * h >= 8u && pitch == w * 4u) {
        uint64_t got;
        memcpy(&got, src, 8);
        return got == k;
    }
    return 1;
}

static inline void nap_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

#endif
