// Ground truth: a code pointer whose VALUE is built from input bytes -> an alert.
// Usage: code_pointer IN OUT     (IN must have at least 16 bytes)
// Build: gcc -O2.
//
// key = IN[0, 8) as a little-endian 64-bit word. The handler's address is XOR-ed with key,
// an empty asm hides the value from the optimizer, and it is XOR-ed with key again: the
// pointer is the right one whatever the input is, but by value flow every byte of it
// came from IN[0, 8) (byte j of the pointer from IN[j]). The program then calls through it
// (`call *%reg`), and the handler writes IN[8, 16) to OUT.
//
// True flows:
//   alert: the indirect call in main loads a target computed from IN[0, 8) by value
//          (sources: IN bytes [0, 8)); exactly one alert, in this process
//   OUT[0, 8) <- IN[8, 16), byte for byte                           -> confirmed
// No branch looks at IN's bytes.
#include <stdint.h>
#include <string.h>
#include "slurp.h"

typedef int (*handler)(const unsigned char *, const char *);

__attribute__((noinline)) static int write_payload(const unsigned char *in, const char *path) {
    return spill(path, in + 8, 8);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    size_t n;
    unsigned char *in = slurp(argv[1], &n);
    if (!in || n < 16) return 1;
    uint64_t key;
    memcpy(&key, in, 8);
    uintptr_t target = (uintptr_t)&write_payload;
    target ^= key;
    __asm__ volatile("" : "+r"(target));   // the optimizer may not fold the two XORs
    target ^= key;
    return ((handler)target)(in, argv[2]) ? 1 : 0;
}
