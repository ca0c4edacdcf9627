// Calls the syscall table refuses (issue 10): a number outside the pinned kernel table,
// io_setup (AIO: the kernel writes the completion ring later), perf_event_open (its mmap
// ring likewise) and a legacy ioctl with no _IOC encoding magprov does not know
// (KDGKBTYPE). Each must fail with ENOSYS; the program exits 0 only if all four did.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int refused(long result) { return result == -1 && errno == ENOSYS; }

int main(void) {
    unsigned long context = 0;
    char type = 0;
    int ok = 0;
    errno = 0; ok += refused(syscall(400, 0, 0, 0));
    errno = 0; ok += refused(syscall(SYS_io_setup, 1, &context));
    errno = 0; ok += refused(syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
    errno = 0; ok += refused(syscall(SYS_ioctl, 0, 0x4B33 /* KDGKBTYPE */, &type));
    printf("%d of 4 refused\n", ok);
    return ok == 4 ? 0 : 1;
}
