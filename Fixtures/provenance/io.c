// Provenance fixture: data syscalls. Usage: io MODE DIR (DIR/in must exist).
// "control" opens DIR/in and DIR/out only; every other mode adds one syscall to that.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *m = argv[1];
    char path[4096], buf[64];
    snprintf(path, sizeof path, "%s/in", argv[2]);
    int in = open(path, O_RDONLY);
    snprintf(path, sizeof path, "%s/out", argv[2]);
    int out = open(path, O_RDWR | O_CREAT, 0644);
    if (in < 0 || out < 0) return 3;
    struct iovec iov = { buf, sizeof buf };
    if (!strcmp(m, "read")) read(in, buf, sizeof buf);
    else if (!strcmp(m, "pread")) pread(in, buf, 4, 2);
    else if (!strcmp(m, "readv")) readv(in, &iov, 1);
    else if (!strcmp(m, "write")) write(out, "data", 4);
    else if (!strcmp(m, "pwrite")) pwrite(out, "data", 4, 8);
    else if (!strcmp(m, "writev")) { iov.iov_base = "data"; iov.iov_len = 4; writev(out, &iov, 1); }
    else if (!strcmp(m, "mmap_read")) mmap(0, 4096, PROT_READ, MAP_PRIVATE, in, 0);
    else if (!strcmp(m, "mmap_write")) mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, out, 0);
    else if (!strcmp(m, "read_bad_fd")) { if (read(99, buf, 1) >= 0) return 5; }
    else if (strcmp(m, "control")) return 4;
    return 0;
}
