/* Recorder fixture for `record --syscall-buffer` (Recorder/SyscallBuffer.swift).
 * Usage: syscall_buffer MODE [DIR]
 *   io DIR     copies DIR/in to DIR/out in 7-byte read/write calls, then a pread of 4
 *              bytes at offset 2 and a pwrite at offset 0; a stat of DIR/out
 *   page       tries to unmap, unprotect, replace, zero and (through /proc/self/mem)
 *              write the trusted syscall page; prints one line per attempt, "refused" when
 *              it failed with EPERM, and exits 0 only when every attempt was refused and
 *              the page still holds `syscall; ret`
 *   untrusted  calls the trusted instruction itself with getppid, a number the filter
 *              does not let through there: it must stop like any other syscall
 *   forge      reads one byte of DIR/in through the trusted instruction without logging
 *              it: the recording misses the call, so replay must diverge there
 *   files DIR  with no stopping call in between: opens DIR/sub (O_DIRECTORY), stats
 *              DIR/sub/data under it and DIR/missing (ENOENT), tries to open DIR/missing,
 *              reads the clock (clock_gettime), opens sub/data under the
 *              directory descriptor, dups it, closes the original, reads 5 bytes through
 *              the copy and closes it and the directory; then opens DIR/written O_WRONLY
 *              (a write open: stops) and DIR/made through the trusted instruction with
 *              O_CREAT (the filter stops it there too); prints the bytes read
 *   vectors DIR  readv of DIR/in into 3 + 0 + 5 bytes, then writev of those 8 bytes to
 *              DIR/out as 5 + 3
 *   lookups DIR  with no stopping call in between: readlink of DIR/link, readlinkat of
 *              "link" under a descriptor of DIR, access of DIR/in and DIR/missing (ENOENT),
 *              faccessat of "in" under DIR, getcwd, getdents64 of DIR and lseek of DIR/in to
 *              offset 3; then getpid, getuid, geteuid, getgid and getegid; prints what
 *              they answered
 *   many DIR N   opens, reads (up to 2,048 bytes) and closes DIR/f0 ... DIR/f(N-1): enough
 *              records to fill the buffer several times, so that resets fall between an
 *              open or a close and the records naming its descriptor
 *   blocked DIR  a thread blocks in read of an empty pipe; meanwhile the main thread waits
 *              until /proc shows that thread sleeping, makes 100 one-byte buffered reads
 *              of DIR/in, and only then writes the byte the thread is waiting for: a
 *              recording that stalled the siblings of a thread blocked in a read never ends */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TRUSTED_PAGE 0x6d700000UL

static long trusted_syscall(long n, long a, long b, long c) {
    long ret;
    __asm__ volatile("sub $128, %%rsp\n\tcall *%[entry]\n\tadd $128, %%rsp"
                     : "=a"(ret)
                     : "0"(n), "D"(a), "S"(b), "d"(c), [entry] "r"(TRUSTED_PAGE)
                     : "rcx", "r11", "memory");
    return ret;
}

static int blocked_pipe[2];
static volatile pid_t blocked_tid;

static void *blocked_reader(void *arg) {
    (void)arg;
    blocked_tid = (pid_t)syscall(SYS_gettid);
    char byte = 0;
    ssize_t n = read(blocked_pipe[0], &byte, 1);
    return (void *)(long)(n == 1 && byte == 'x');
}

/* The state letter of /proc/self/task/TID/stat (the field after the parenthesized name). */
static char task_state(pid_t tid) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return '?';
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return '?';
    text[n] = 0;
    char *end = strrchr(text, ')');
    return end && end[1] == ' ' ? end[2] : '?';
}

static int attempt(const char *what, int result) {
    int refused = result < 0 && errno == EPERM;
    printf("%s: %s\n", what, refused ? "refused" : result < 0 ? strerror(errno) : "allowed");
    return refused;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *mode = argv[1];
    char path[4096];
    if (!strcmp(mode, "io") && argc > 2) {
        snprintf(path, sizeof path, "%s/in", argv[2]);
        int in = open(path, O_RDONLY);
        snprintf(path, sizeof path, "%s/out", argv[2]);
        int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0) return 3;
        char buf[7];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) return 4;
        if (pread(in, buf, 4, 2) != 4) return 5;
        if (pwrite(out, buf, 4, 0) != 4) return 6;
        struct stat st;
        if (fstat(out, &st) != 0) return 7;
        close(in);
        close(out);
        printf("copied %lld bytes\n", (long long)st.st_size);
        return 0;
    }
    if (!strcmp(mode, "page")) {
        int all = 1;
        all &= attempt("munmap", munmap((void *)TRUSTED_PAGE, 4096));
        all &= attempt("mprotect", mprotect((void *)TRUSTED_PAGE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
        void *p = mmap((void *)TRUSTED_PAGE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        all &= attempt("mmap MAP_FIXED", p == MAP_FAILED ? -1 : 0);
        all &= attempt("madvise", madvise((void *)TRUSTED_PAGE, 4096, MADV_DONTNEED));
        int mem = open("/proc/self/mem", O_RDWR);
        if (mem >= 0) {
            all &= attempt("/proc/self/mem write", (int)pwrite(mem, "\x90\x90", 2, (off_t)TRUSTED_PAGE));
            close(mem);
        } else {
            all &= attempt("/proc/self/mem open", -1);
        }
        const unsigned char *code = (const unsigned char *)TRUSTED_PAGE;
        int intact = code[0] == 0x0f && code[1] == 0x05 && code[2] == 0xc3;
        printf("page %s\n", intact ? "intact" : "changed");
        return all && intact ? 0 : 1;
    }
    if (!strcmp(mode, "untrusted")) {
        long parent = trusted_syscall(SYS_getppid, 0, 0, 0);
        printf("getppid through the trusted instruction: %s\n", parent == getppid() ? "same" : "different");
        return parent == getppid() ? 0 : 1;
    }
    if (!strcmp(mode, "forge") && argc > 2) {
        snprintf(path, sizeof path, "%s/in", argv[2]);
        int in = open(path, O_RDONLY);
        char byte = 0;
        long n = trusted_syscall(SYS_read, in, (long)&byte, 1);
        close(in);
        printf("unlogged read: %ld\n", n);
        return n == 1 ? 0 : 1;
    }
    if (!strcmp(mode, "files") && argc > 2) {
        char sub[4096], missing[4096], made[4096];
        snprintf(sub, sizeof sub, "%s/sub", argv[2]);
        snprintf(missing, sizeof missing, "%s/missing", argv[2]);
        snprintf(path, sizeof path, "%s/written", argv[2]);
        snprintf(made, sizeof made, "%s/made", argv[2]);
        struct stat st, gone;
        char buf[6] = {0};
        int dir = open(sub, O_RDONLY | O_DIRECTORY);
        int stat_ok = fstatat(dir, "data", &st, 0);
        int missing_result = stat(missing, &gone);
        int missing_open = open(missing, O_RDONLY);
        struct timespec now = {0, 0};
        int clock_ok = clock_gettime(CLOCK_REALTIME, &now);
        int fd = openat(dir, "data", O_RDONLY);
        int copy = dup(fd);
        close(fd);
        ssize_t n = read(copy, buf, 5);
        close(copy);
        close(dir);
        int written = open(path, O_WRONLY);
        long created = trusted_syscall(SYS_openat, AT_FDCWD, (long)made, O_RDONLY | O_CREAT);
        if (written >= 0) close(written);
        if (created >= 0) close((int)created);
        printf("read %s (%zd bytes, stat %d, size %lld, missing %d)\n", buf, n, stat_ok, (long long)st.st_size,
               missing_result);
        return dir >= 0 && stat_ok == 0 && missing_result == -1 && missing_open == -1 && clock_ok == 0 && now.tv_sec > 0 &&
               n == 5 && written >= 0 && created >= 0 ? 0 : 1;
    }
    if (!strcmp(mode, "vectors") && argc > 2) {
        snprintf(path, sizeof path, "%s/in", argv[2]);
        int in = open(path, O_RDONLY);
        snprintf(path, sizeof path, "%s/out", argv[2]);
        int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0) return 3;
        char a[3], b[1], c[5];
        struct iovec into[3] = {{a, 3}, {b, 0}, {c, 5}};
        ssize_t got = readv(in, into, 3);
        char joined[8];
        memcpy(joined, a, 3);
        memcpy(joined + 3, c, 5);
        struct iovec from[2] = {{joined, 5}, {joined + 5, 3}};
        ssize_t put = writev(out, from, 2);
        close(in);
        close(out);
        printf("readv %zd, writev %zd\n", got, put);
        return got == 8 && put == 8 ? 0 : 1;
    }
    if (!strcmp(mode, "lookups") && argc > 2) {
        char target[256] = {0}, relative[256] = {0}, cwd[4096], entries[4096];
        snprintf(path, sizeof path, "%s/link", argv[2]);
        ssize_t link = readlink(path, target, sizeof target - 1);
        int dir = open(argv[2], O_RDONLY | O_DIRECTORY);
        ssize_t linkat = readlinkat(dir, "link", relative, sizeof relative - 1);
        snprintf(path, sizeof path, "%s/in", argv[2]);
        int readable = access(path, R_OK);
        snprintf(path, sizeof path, "%s/missing", argv[2]);
        int missing = access(path, F_OK);
        int under = faccessat(dir, "in", R_OK, 0);
        char *here = getcwd(cwd, sizeof cwd);
        ssize_t listed = getdents64(dir, entries, sizeof entries);
        snprintf(path, sizeof path, "%s/in", argv[2]);
        int in = open(path, O_RDONLY);
        off_t offset = lseek(in, 3, SEEK_SET);
        close(in);
        close(dir);
        long ids = (long)getpid() + getuid() + geteuid() + getgid() + getegid();
        printf("link %s, %s; access %d %d %d; cwd %s; %zd bytes of entries; offset %lld; ids %ld\n", target, relative,
               readable, missing, under, here ? here : "?", listed, (long long)offset, ids);
        return link > 0 && linkat == link && readable == 0 && missing == -1 && under == 0 && here && listed > 0 &&
               offset == 3 ? 0 : 1;
    }
    if (!strcmp(mode, "many") && argc > 3) {
        int count = atoi(argv[3]), total = 0;
        char data[2048];
        for (int i = 0; i < count; i++) {
            snprintf(path, sizeof path, "%s/f%d", argv[2], i);
            int fd = open(path, O_RDONLY);
            if (fd < 0) return 3;
            total += (int)read(fd, data, sizeof data);
            close(fd);
        }
        printf("%d files, %d bytes\n", count, total);
        return 0;
    }
    if (!strcmp(mode, "blocked") && argc > 2) {
        if (pipe(blocked_pipe) != 0) return 3;
        pthread_t reader;
        if (pthread_create(&reader, NULL, blocked_reader, NULL) != 0) return 3;
        int polls = 0;
        while ((blocked_tid == 0 || task_state(blocked_tid) != 'S') && polls < 100000) { sched_yield(); polls++; }
        snprintf(path, sizeof path, "%s/in", argv[2]);
        int in = open(path, O_RDONLY);
        char byte;
        int reads = 0;
        for (int i = 0; i < 100; i++) reads += read(in, &byte, 1) == 1;
        close(in);
        if (write(blocked_pipe[1], "x", 1) != 1) return 4;
        void *ok = NULL;
        pthread_join(reader, &ok);
        printf("reader %s, %d reads while it was blocked\n", ok ? "woke" : "failed", reads);
        return ok && reads == 100 && polls < 100000 ? 0 : 1;
    }
    return 2;
}
