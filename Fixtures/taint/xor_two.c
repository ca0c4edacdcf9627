// Ground truth: the output is the byte-wise XOR of two inputs; a third is read and dropped.
// Usage: xor_two IN1 IN2 IN3 OUT
//
// Reads the three files completely (slurp.h), then OUT[k] = IN1[k] ^ IN2[k] for
// k < min(size of IN1, size of IN2), written with one write(2). gcc -O2 vectorizes the
// loop (pxor on 16 bytes at a time); byte k of a pxor result depends on byte k of each
// operand only.
//
// True flows:
//   OUT[k] <- IN1[k] and IN2[k], for every k of the output         -> confirmed, both
//   IN3: read completely, never used, never branched on            -> refuted for OUT
// Control flow depends only on read(2) return values and the two sizes.
// The test gives IN1 and IN2 different bytes at every position (k ^ k would be a known
// zero, and an x86 `xor r, r` idiom clears labels by design).
#include "slurp.h"

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    size_t n1, n2, n3;
    unsigned char *in1 = slurp(argv[1], &n1);
    unsigned char *in2 = slurp(argv[2], &n2);
    unsigned char *in3 = slurp(argv[3], &n3);
    if (!in1 || !in2 || !in3) return 1;
    size_t n = n1 < n2 ? n1 : n2;
    unsigned char *out = malloc(n ? n : 1);
    for (size_t k = 0; k < n; k++) out[k] = in1[k] ^ in2[k];
    return spill(argv[4], out, n) ? 1 : 0;
}
