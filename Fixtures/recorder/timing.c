// Reads the time three ways through libc (clock_gettime, gettimeofday, time) and the
// timestamp counter with rdtsc, and prints the rdtsc value.
// Exercises: the vDSO is gone (time calls are real syscalls); rdtsc traps and is recorded.
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <x86intrin.h>

int main(void) {
    struct timespec ts;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &ts);
    gettimeofday(&tv, 0);
    time_t t = time(0);
    unsigned long long tsc = __rdtsc();
    printf("tsc=%llu\n", tsc);
    return (ts.tv_sec > 0 && tv.tv_sec > 0 && t > 0) ? 0 : 1;
}
