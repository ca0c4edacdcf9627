// Opens descriptors until the kernel refuses (EMFILE), then still reads a file through a
// freed descriptor. The supervisor runs in its own process with its own limits, so the
// tracee's exhaustion must not blind it: every open and the final read are recorded.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int last = -1, count = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) break;
        last = fd;
        count++;
    }
    if (last >= 0) close(last);
    char buf[64] = { 0 };
    int fd = open(argc > 1 ? argv[1] : "/etc/hostname", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    printf("opened %d, then read %zd\n", count, n);
    return n > 0 ? 0 : 1;
}
