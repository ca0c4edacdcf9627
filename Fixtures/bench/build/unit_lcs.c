/* Longest common subsequence of two 1,000-letter strings (dynamic programming, two rows). */
#include "units.h"

uint64_t unit_lcs(uint64_t seed) {
    enum { n = 1000 };
    static char a[n], b[n];
    static uint16_t prev[n + 1], cur[n + 1];
    for (int i = 0; i < n; i++) { a[i] = 'a' + next_random(&seed) % 4; b[i] = 'a' + next_random(&seed) % 4; }
    for (int j = 0; j <= n; j++) prev[j] = 0;
    for (int i = 1; i <= n; i++) {
        cur[0] = 0;
        for (int j = 1; j <= n; j++)
            cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        for (int j = 0; j <= n; j++) prev[j] = cur[j];
    }
    return prev[n];
}
