/* Base64 (RFC 4648) encode then decode 3 KiB; checksum of the round trip. */
#include <string.h>
#include "units.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t encode(const uint8_t *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 3; k >= 0; k--) out[o++] = alphabet[(v >> (6 * k)) & 63];
    }
    return o;
}

static size_t decode(const char *in, size_t n, uint8_t *out) {
    size_t o = 0;
    for (size_t i = 0; i + 3 < n; i += 4) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) v = v << 6 | (uint32_t)(strchr(alphabet, in[i + k]) - alphabet);
        out[o++] = v >> 16; out[o++] = v >> 8; out[o++] = v;
    }
    return o;
}

uint64_t unit_base64(uint64_t seed) {
    static uint8_t data[3072], back[3072];
    static char text[4096];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)next_random(&seed);
    size_t t = encode(data, sizeof data, text);
    size_t b = decode(text, t, back);
    uint64_t sum = t * 1000003 + b;
    for (size_t i = 0; i < b; i++) sum = sum * 31 + (back[i] == data[i]) + text[i % t];
    return sum;
}
