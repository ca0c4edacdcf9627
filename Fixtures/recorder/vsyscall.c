// Calls the three entry points of the legacy vsyscall page (gettimeofday, time, getcpu at
// 0xffffffffff600000, +0x400, +0x800), which the kernel emulates, and prints what each
// returned and wrote: "r tv_sec tv_usec t t2 g cpu node".
// Exercises: the recorder answers these calls (they have no syscall-exit stop) and records
// the kernel's writes; replay injects them.
#include <stdio.h>
#include <sys/time.h>

typedef long (*gettimeofday_fn)(struct timeval *, void *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

int main(void) {
    struct timeval tv = {0, 0};
    long t2 = 0;
    unsigned cpu = 99, node = 99;
    long r = ((gettimeofday_fn)0xffffffffff600000UL)(&tv, 0);
    long t = ((time_fn)0xffffffffff600400UL)(&t2);
    long g = ((getcpu_fn)0xffffffffff600800UL)(&cpu, &node, 0);
    long t3 = ((time_fn)0xffffffffff600400UL)(0);  // no pointer: the result only
    printf("%ld %ld %ld %ld %ld %ld %u %u %ld\n", r, (long)tv.tv_sec, (long)tv.tv_usec, t, t2, g, cpu, node, t3);
    return 0;
}
