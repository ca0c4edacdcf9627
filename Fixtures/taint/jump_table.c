// Ground truth: a `switch` compiled to a jump table indexed by input bytes -> no alert.
// Usage: jump_table IN OUT
// Build: gcc -O2 -fno-tree-switch-conversion (PIE, Debian's default). Twelve dense cases
// 'a'..'l' become `sub $0x61; cmp $0xb; ja default` and a PIE jump table:
// `movslq (%rdx,%rax,4),%rax; add %rdx,%rax; jmp *%rax`. The jump target is loaded at an
// address computed from the input byte (address dependency), never computed from the
// byte's value, so it is not an alert. (Without -fno-tree-switch-conversion gcc replaces
// the switch by a table of the constants and there is no jump at all.)
//
// OUT[k] is a constant character chosen by the case IN[k] selects.
//
// True flows:
//   alerts: none
//   OUT <- IN: implicit (the bounds check `cmp; ja` branches on IN's bytes; no byte of IN
//              is copied or computed with, and the jump target is address-only)
#include "slurp.h"

static char letter(unsigned char c) {
    switch (c) {
    case 'a': return '1';
    case 'b': return '2';
    case 'c': return '3';
    case 'd': return '5';
    case 'e': return '8';
    case 'f': return 'D';
    case 'g': return 'L';
    case 'h': return 'Y';
    case 'i': return 'x';
    case 'j': return '!';
    case 'k': return '#';
    case 'l': return '%';
    default: return '-';
    }
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    size_t n;
    unsigned char *in = slurp(argv[1], &n);
    if (!in) return 1;
    char *out = malloc(n ? n : 1);
    for (size_t k = 0; k < n; k++) out[k] = letter(in[k]);
    return spill(argv[2], out, n) ? 1 : 0;
}
