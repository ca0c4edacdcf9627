// Fixture for the X86 end-to-end test: a static glibc program. Its startup exercises what
// real binaries run first (TLS setup via arch_prctl, IFUNC selection from CPUID, brk
// malloc), then printf of double and long double (SSE2 and x87), string functions,
// qsort and strtod. Output is compared with the native run.
// Build: gcc -O2 -static -o libc_hello libc_hello.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    double third = 1.0 / 3;
    long double precise = (long double)1 / 3;
    printf("%.17g %.21Lg %s %zu\n", third, precise, argv[0], strlen(argv[0]));
    char *buffer = malloc(1000);
    memset(buffer, 'x', 999);
    buffer[999] = 0;
    strcpy(buffer + 500, "needle in a haystack");
    printf("%zu %s %d\n", strlen(buffer), strstr(buffer, "hay"), (int)(strchr(buffer, 'n') - buffer));
    long values[64];
    for (int i = 0; i < 64; i++) values[i] = (i * 7919L) % 101 - 50;
    qsort(values, 64, sizeof values[0], compare);
    long sum = 0;
    for (int i = 0; i < 64; i++) sum = sum * 31 + values[i];
    printf("%ld %ld %ld\n", values[0], values[63], sum);
    printf("%.10f %g %e\n", strtod("2.718281828459045", NULL) * argc, 1e300 * 1e10, -0.0);
    free(buffer);
    return 0;
}
