// Fixture for the syscall buffer's patched glibc call sites (Recorder/SyscallBufferPreload.swift):
// every call here reaches the kernel from inside glibc (stdio, opendir/readdir), never
// through the PLT, so the preload library's interposed wrappers do not see them.
//
//   syscall_buffer_stdio DIR   fread DIR/in (fopen, the stdio buffer's fstat, read),
//                              fwrite its bytes to DIR/out (a creating fopen: stops),
//                              list DIR with opendir/readdir (openat, fstat, getdents64,
//                              close), then print "BYTES ENTRIES"
//   syscall_buffer_stdio DIR fcntl
//                              as above, and on the open directory fcntl F_GETFL and F_GETFD
//                              (buffered through libc's patched fcntl), F_SETFD (stops), and
//                              F_SETFD and F_DUPFD made at the trusted instruction itself
//                              (numbers' arguments the filter does not allow: they stop)
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TRUSTED_PAGE 0x6d700000UL

/* A call made at the syscall buffer's trusted instruction (below the red zone). */
static long trusted_syscall(long n, long a, long b, long c) {
    long ret;
    __asm__ volatile("sub $128, %%rsp\n\tcall *%[entry]\n\tadd $128, %%rsp"
                     : "=a"(ret)
                     : "0"(n), "D"(a), "S"(b), "d"(c), [entry] "r"(TRUSTED_PAGE)
                     : "rcx", "r11", "memory");
    return ret;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/in", argv[1]);
    FILE *in = fopen(path, "r");
    if (!in) return 3;
    static char data[65536];
    size_t n = fread(data, 1, sizeof data, in);
    fclose(in);
    snprintf(path, sizeof path, "%s/out", argv[1]);
    FILE *out = fopen(path, "w");
    if (!out) return 4;
    if (fwrite(data, 1, n, out) != n) return 5;
    fclose(out);
    DIR *d = opendir(argv[1]);
    if (!d) return 6;
    int entries = 0;
    while (readdir(d)) entries++;
    if (argc > 2 && !strcmp(argv[2], "fcntl")) {
        int fd = dirfd(d);
        int flags = fcntl(fd, F_GETFL), descriptor = fcntl(fd, F_GETFD);
        if (!(flags & O_DIRECTORY) || !(descriptor & FD_CLOEXEC)) return 7;
        if (fcntl(fd, F_SETFD, 0) != 0 || fcntl(fd, F_GETFD) != 0) return 8;
        if (trusted_syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_GETFD) != FD_CLOEXEC) return 9;
        long copy = trusted_syscall(SYS_fcntl, fd, F_DUPFD, 100);
        if (copy < 100) return 10;
        close((int)copy);
    }
    closedir(d);
    printf("%zu %d\n", n, entries);
    return 0;
}
