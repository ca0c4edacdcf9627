// Ground truth: the output is built from one of three inputs.
// Usage: one_of_three IN1 IN2 IN3 OUT     (IN2 must have at least 200 bytes)
//
// Reads IN1, IN2 and IN3 completely (slurp.h: 4096-byte reads, no branch on content), then
// copies bytes [100, 200) of IN2 into a fresh buffer and writes that buffer to OUT with
// one write(2).
//
// True flows (what refinement must find):
//   OUT[0, 100) <- IN2[100, 200), byte for byte: OUT[k] = IN2[100 + k]   -> confirmed
//   IN2 bytes outside [100, 200) reach nothing.
//   IN1, IN3: read completely, never used, never branched on            -> refuted for OUT
// Control flow depends only on read(2) return values and on IN2's size, never on content.
#include <stdio.h>
#include <string.h>
#include "slurp.h"

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    size_t n1, n2, n3;
    unsigned char *in1 = slurp(argv[1], &n1);
    unsigned char *in2 = slurp(argv[2], &n2);
    unsigned char *in3 = slurp(argv[3], &n3);
    if (!in1 || !in2 || !in3 || n2 < 200) return 1;
    unsigned char out[100];
    for (int k = 0; k < 100; k++) out[k] = in2[100 + k];
    return spill(argv[4], out, sizeof out) ? 1 : 0;
}
