// Ground truth: a table lookup (data through address dependency only) and a `switch`
// (control only), in one process with two outputs.
// Usage: table_and_switch IN1 IN2 OUT_B64 OUT_SWITCH
//   (the test gives IN1 a size that is a multiple of 3: no padding branch runs)
// Build: gcc -O2 -fno-tree-switch-conversion -fno-jump-tables. Without the first flag gcc
// turns a switch that picks constants into a load from a constant table indexed by the
// byte (data flow through address dependency, not control); without the second it may
// compile it into a jump table. Either would change the truth below. Every case returns
// its own constant: cases sharing one result let gcc lower them to a bit test
// (`shl %cl, mask; and; cmp; sbb`), arithmetic on the byte, which is data flow. As built,
// the switch is compare-and-branch plus `cmove` (a cmov on input flags is control too).
//
// Order of events: read IN1, read IN2, write OUT_B64, then branch on IN2, write OUT_SWITCH.
//
//  1. OUT_B64 = base64 of IN1. Every output character is ALPHABET[i], i computed from
//     IN1 bytes by shifts, masks and ors; no branch looks at IN1's bytes. For each group
//     k (IN1 bytes [3k, 3k+3), OUT_B64 bytes [4k, 4k+4)):
//        OUT_B64[4k]   <- IN1[3k]
//        OUT_B64[4k+1] <- IN1[3k], IN1[3k+1]
//        OUT_B64[4k+2] <- IN1[3k+1], IN1[3k+2]
//        OUT_B64[4k+3] <- IN1[3k+2]
//     all through the index of a load only (address dependency), never by value.
//  2. OUT_SWITCH[k] = a constant character chosen by `switch (IN2[k])` (a compare-and-
//     branch chain): IN2 steers branches, no IN2 byte is copied or computed with.
//
// True flows and the statuses refinement must give:
//   OUT_B64    <- IN1: confirmed with address dependency on (the flows are address-only);
//                      refuted with it off (no value flow, no branch on IN1)
//   OUT_B64    <- IN2: refuted (read before OUT_B64 was written, but it steered no branch
//                      until after that write)
//   OUT_SWITCH <- IN2: implicit (branches only)
//   OUT_SWITCH <- IN1: refuted (no data; never branched on)
#include "slurp.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64(const unsigned char *in, size_t n, char *out) {
    size_t o = 0, k = 0;
    for (; k + 3 <= n; k += 3) {
        unsigned v = (unsigned)in[k] << 16 | (unsigned)in[k + 1] << 8 | in[k + 2];
        out[o++] = ALPHABET[v >> 18 & 63];
        out[o++] = ALPHABET[v >> 12 & 63];
        out[o++] = ALPHABET[v >> 6 & 63];
        out[o++] = ALPHABET[v & 63];
    }
    if (n - k == 1) {
        unsigned v = (unsigned)in[k] << 16;
        out[o++] = ALPHABET[v >> 18 & 63];
        out[o++] = ALPHABET[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - k == 2) {
        unsigned v = (unsigned)in[k] << 16 | (unsigned)in[k + 1] << 8;
        out[o++] = ALPHABET[v >> 18 & 63];
        out[o++] = ALPHABET[v >> 12 & 63];
        out[o++] = ALPHABET[v >> 6 & 63];
        out[o++] = '=';
    }
    return o;
}

static char classify(unsigned char c) {
    switch (c) {
    case 'a': return 'A';
    case 'e': return 'E';
    case 'o': return 'O';
    case ' ': return '_';
    case '\n': return '|';
    case '0': return 'Z';
    case '{': return '<';
    case 200: return 'H';
    default: return '.';
    }
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    size_t n1, n2;
    unsigned char *in1 = slurp(argv[1], &n1);
    unsigned char *in2 = slurp(argv[2], &n2);
    if (!in1 || !in2) return 1;
    char *encoded = malloc(n1 / 3 * 4 + 8);
    if (spill(argv[3], encoded, base64(in1, n1, encoded))) return 1;
    char *classes = malloc(n2 ? n2 : 1);
    for (size_t k = 0; k < n2; k++) classes[k] = classify(in2[k]);
    return spill(argv[4], classes, n2) ? 1 : 0;
}
