// The C source of the syscall buffer's preload library, compiled by `magprov record
// --syscall-buffer` with the system C compiler (once per source and constants: the result
// is cached). The layout and constants it shares with the supervisor come from
// `SyscallBufferABI` as -D flags, so they have one home (SyscallBuffer.swift).
//
// Why compiled at record time rather than built by SwiftPM: the library must be a plain
// shared object found at a stable path by every recorded process, with or without a
// `swift build` of a dynamic-library product next to the magprov binary; a fresh machine
// has gcc (Scripts/setup installs it for the fixtures) and the compile takes ~0.1 s once.

import Foundation

enum SyscallBufferPreload {
    /// The library's C source (`-D` constants from `SyscallBufferABI.compilerDefinitions`).
    static let source = #"""
/* magprov's syscall buffer: a preload library (LD_PRELOAD) injected by
 * `magprov record --syscall-buffer`. Frequent data calls on seekable descriptors run
 * through one trusted syscall instruction at MP_TRUSTED_PAGE, which magprov's seccomp filter
 * lets through without a ptrace stop, and are logged here, in a per-thread buffer that
 * the supervisor reads at the thread's next stop (Recorder/SyscallBuffer.swift holds the
 * layout and the constants, passed in with -D when magprov compiles this file).
 *
 * Never blocks holding the buffer: read and write first probe the descriptor with
 * lseek(fd, 0, SEEK_CUR); pipes, sockets and terminals answer ESPIPE and take the ordinary,
 * stopping path. open first stats the path (only regular files and directories open
 * without waiting), close first fstats the descriptor (only regular files and directories
 * are closed here: closing a pipe or socket reaches another process). An open, a close and
 * a dup log the identity of the descriptor (fstat and readlink of /proc/self/fd/N) so the
 * supervisor can name it after it is gone. Reentrancy (a signal handler calling write) is
 * caught by `locked`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* `generation` counts resets: the supervisor, which never writes here, tells a reset
 * buffer from a grown one by it. */
struct mp_header { uint32_t magic, size, used, locked, generation, reserved; };
struct mp_record {
    uint32_t length;       /* of the whole record, 8-aligned */
    uint32_t data_length;  /* bytes after the record: what a read returned, what a write passed */
    uint32_t path_length;  /* then the pointer argument's bytes: the path (no NUL) of open, stat,
                              readlink; the iovec array of readv, writev */
    uint32_t reserved;
    uint64_t number;
    int64_t result;
    uint64_t args[6];
};

static int mp_ready;
static __thread struct mp_header *mp_buffer __attribute__((tls_model("initial-exec")));
static __thread int mp_unavailable __attribute__((tls_model("initial-exec")));

/* The trusted instruction: `syscall; ret` at MP_TRUSTED_PAGE. Built with -mno-red-zone,
 * so the call's return address cannot land on a live red zone. */
static inline long mp_trusted(long n, long a, long b, long c, long d) {
    register long r10 __asm__("r10") = d;
    long ret;
    __asm__ volatile("call *%[entry]"
                     : "=a"(ret)
                     : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10), [entry] "r"((long)MP_TRUSTED_PAGE)
                     : "rcx", "r11", "memory");
    return ret;
}

__attribute__((constructor(101))) static void mp_init(void) {
    int saved = errno;
    void *page = mmap((void *)MP_TRUSTED_PAGE, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page == (void *)MP_TRUSTED_PAGE) {
        static const unsigned char code[] = { 0x0f, 0x05, 0xc3 };  /* syscall; ret */
        memcpy(page, code, sizeof code);
        /* The supervisor refuses later changes to this page once a buffer is registered. */
        if (mprotect(page, 4096, PROT_READ | PROT_EXEC) == 0) mp_ready = 1;
    }
    errno = saved;
}

static struct mp_header *mp_get_buffer(void);

/* The main thread announces its buffer now: that also seals the trusted page before the
 * program's own code runs. */
__attribute__((constructor(102))) static void mp_init_buffer(void) {
    if (mp_ready) (void)mp_get_buffer();
}

/* The thread's buffer, mapped and announced to the supervisor on first use; NULL when
 * there is none (no trusted page, not recording, or a failure: the stopping path). */
static struct mp_header *mp_get_buffer(void) {
    struct mp_header *h = mp_buffer;
    if (__builtin_expect(h != NULL, 1)) return h;
    if (!mp_ready || mp_unavailable) return NULL;
    mp_unavailable = 1;
    int saved = errno;
    void *p = mmap(NULL, MP_BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        h = p;
        h->magic = MP_MAGIC;
        h->size = MP_BUFFER_SIZE;
        h->used = sizeof *h;
        h->locked = 0;
        h->generation = 0;
        h->reserved = 0;
        if (syscall(MP_BUFFER_CALL, p, (long)MP_BUFFER_SIZE, 0L, 0L, 0L, 0L) == 0) {
            mp_buffer = h;
            mp_unavailable = 0;
        } else {
            munmap(p, MP_BUFFER_SIZE);
            h = NULL;
        }
    } else {
        h = NULL;
    }
    errno = saved;
    return h;
}

/* Room for a record with `data` bytes; when the buffer is full, the traced buffer call
 * lets the supervisor drain it (it reads at every stop), then the buffer starts over. */
static struct mp_record *mp_reserve(struct mp_header *h, size_t data) {
    size_t need = (sizeof(struct mp_record) + data + 7) & ~(size_t)7;
    if (h->used + need > h->size) {
        int saved = errno;
        syscall(MP_BUFFER_CALL, (long)h, (long)h->size, 0L, 0L, 0L, 0L);
        errno = saved;
        /* In this order: a stop between the two stores sees nothing new to read. */
        __atomic_store_n(&h->used, (uint32_t)sizeof *h, __ATOMIC_RELEASE);
        __atomic_store_n(&h->generation, h->generation + 1, __ATOMIC_RELEASE);
    }
    return (struct mp_record *)((char *)h + h->used);
}

/* Room for records totalling `bytes` before a group that must reach the supervisor in one
 * drain: an open and the fstat and readlink naming its descriptor, or the fstat and readlink
 * naming a descriptor and its close. A buffer call between them would drain the open
 * without its identity, or the close without the descriptor's. */
#define MP_RECORD_ROOM(data) ((sizeof(struct mp_record) + (size_t)(data) + 7) & ~(size_t)7)
#define MP_NAMING_ROOM (MP_RECORD_ROOM(sizeof(struct stat)) + MP_RECORD_ROOM(MP_MAX_PATH + 40))
static void mp_room(struct mp_header *h, size_t bytes) {
    if (h->used + bytes > h->size) (void)mp_reserve(h, h->size);
}

static void mp_commit_path(struct mp_header *h, struct mp_record *r, long number, long a0, long a1, long a2, long a3,
                           long result, const void *data, size_t length, const char *path, size_t path_length) {
    r->number = (uint64_t)number;
    r->result = result;
    r->args[0] = (uint64_t)a0; r->args[1] = (uint64_t)a1; r->args[2] = (uint64_t)a2;
    r->args[3] = (uint64_t)a3; r->args[4] = 0; r->args[5] = 0;
    r->data_length = (uint32_t)length;
    r->path_length = (uint32_t)path_length;
    r->reserved = 0;
    if (length) memcpy(r + 1, data, length);
    if (path_length) memcpy((char *)(r + 1) + length, path, path_length);
    r->length = (uint32_t)((sizeof *r + length + path_length + 7) & ~(size_t)7);
    /* The record becomes visible to the supervisor with this store, never half-written. */
    __atomic_store_n(&h->used, h->used + r->length, __ATOMIC_RELEASE);
}

static void mp_commit(struct mp_header *h, struct mp_record *r, long number, long a0, long a1, long a2, long a3,
                      long result, const void *data, size_t length) {
    mp_commit_path(h, r, number, a0, a1, a2, a3, result, data, length, NULL, 0);
}

/* Descriptors that answered ESPIPE, so that a pipe costs one probe, not one per call.
 * Forgetting is on close and dup2/dup3 through this library; a descriptor closed another
 * way (glibc's own fclose) stays marked and only loses the fast path: never wrong. */
#define MP_MARKED_FDS 1024
static uint64_t mp_unseekable[MP_MARKED_FDS / 64];

static int mp_marked(int fd) {
    return fd >= 0 && fd < MP_MARKED_FDS && (__atomic_load_n(&mp_unseekable[fd / 64], __ATOMIC_RELAXED) >> (fd % 64)) & 1;
}

static void mp_mark(int fd, int unseekable) {
    if (fd < 0 || fd >= MP_MARKED_FDS) return;
    uint64_t bit = (uint64_t)1 << (fd % 64);
    if (unseekable) __atomic_fetch_or(&mp_unseekable[fd / 64], bit, __ATOMIC_RELAXED);
    else __atomic_fetch_and(&mp_unseekable[fd / 64], ~bit, __ATOMIC_RELAXED);
}

/* lseek(fd, 0, SEEK_CUR), logged: seekable descriptors (regular files, block and most
 * character devices) do not block; pipes, sockets and terminals answer ESPIPE. */
static int mp_seekable(struct mp_header *h, int fd) {
    if (mp_marked(fd)) return 0;
    struct mp_record *r = mp_reserve(h, 0);
    long pos = mp_trusted(SYS_lseek, fd, 0, SEEK_CUR, 0);
    mp_commit(h, r, SYS_lseek, fd, 0, SEEK_CUR, 0, pos, NULL, 0);
    if (pos == -ESPIPE) mp_mark(fd, 1);
    return pos >= 0;
}

static long mp_result(long n) {
    if (n < 0) { errno = (int)-n; return -1; }
    return n;
}

#define MP_REAL(type, name) \
    static type real_##name; \
    static type mp_real_##name(void) { \
        if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name); \
        return real_##name; \
    }

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*close_fn)(int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*fstatat_fn)(int, const char *, struct stat *, int);
MP_REAL(read_fn, read)
MP_REAL(write_fn, write)
MP_REAL(pread_fn, pread64)
MP_REAL(pwrite_fn, pwrite64)
MP_REAL(close_fn, close)
MP_REAL(dup_fn, dup)
MP_REAL(dup2_fn, dup2)
MP_REAL(dup3_fn, dup3)
MP_REAL(openat_fn, openat)
MP_REAL(fstatat_fn, fstatat)

/* The length of a path the buffer may carry, or MP_MAX_PATH when it is too long (or NULL). */
#define MP_MAX_PATH 4096
static size_t mp_path_length(const char *path) {
    return path ? strnlen(path, MP_MAX_PATH) : MP_MAX_PATH;
}

/* fstat(fd), logged: the descriptor's (device, inode, mode). 0 or -errno. */
static long mp_fstat(struct mp_header *h, int fd, struct stat *st) {
    struct mp_record *r = mp_reserve(h, sizeof *st);
    long n = mp_trusted(SYS_fstat, fd, (long)st, 0, 0);
    mp_commit(h, r, SYS_fstat, fd, (long)st, 0, 0, n, st, n == 0 ? sizeof *st : 0);
    return n;
}

/* readlink("/proc/self/fd/N"), logged: the kernel's name for the descriptor's object. */
static void mp_readlink_fd(struct mp_header *h, int fd) {
    char path[40], target[MP_MAX_PATH];
    char digits[16];
    int k = 0, length = 0;
    unsigned value = (unsigned)fd;
    do { digits[k++] = (char)('0' + value % 10); value /= 10; } while (value);
    memcpy(path, "/proc/self/fd/", 14);
    length = 14;
    while (k) path[length++] = digits[--k];
    path[length] = 0;
    struct mp_record *r = mp_reserve(h, sizeof target + (size_t)length);
    long n = mp_trusted(SYS_readlinkat, AT_FDCWD, (long)path, (long)target, sizeof target);
    mp_commit_path(h, r, SYS_readlinkat, AT_FDCWD, (long)path, (long)target, sizeof target, n, target,
                   n > 0 ? (size_t)n : 0, path, (size_t)length);
}

/* The stat family's one call, logged with the path and the struct the kernel wrote. */
static long mp_newfstatat(struct mp_header *h, int dirfd, const char *path, size_t path_length, struct stat *st, int flags) {
    struct mp_record *r = mp_reserve(h, sizeof *st + path_length);
    long n = mp_trusted(SYS_newfstatat, dirfd, (long)path, (long)st, flags);
    mp_commit_path(h, r, SYS_newfstatat, dirfd, (long)path, (long)st, flags, n, st, n == 0 ? sizeof *st : 0,
                   path, path_length);
    return n;
}

static int mp_waits_not(const struct stat *st) { return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode); }

/* close: buffered for regular files and directories (closing one reaches no other
 * process and never waits), after logging what the descriptor names; the rest stop. */
int close(int fd) {
    mp_mark(fd, 0);
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked && fd >= 0) {
        h->locked = 1;
        mp_room(h, MP_NAMING_ROOM + MP_RECORD_ROOM(0));
        struct stat st;
        if (mp_fstat(h, fd, &st) == 0 && mp_waits_not(&st)) {
            mp_readlink_fd(h, fd);
            struct mp_record *r = mp_reserve(h, 0);
            long n = mp_trusted(SYS_close, fd, 0, 0, 0);
            mp_commit(h, r, SYS_close, fd, 0, 0, 0, n, NULL, 0);
            h->locked = 0;
            return (int)mp_result(n);
        }
        h->locked = 0;
    }
    return mp_real_close()(fd);
}

/* dup never waits: buffered for every descriptor (the new one keeps the old one's mark). */
int dup(int fd) {
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked) {
        h->locked = 1;
        struct mp_record *r = mp_reserve(h, 0);
        long n = mp_trusted(SYS_dup, fd, 0, 0, 0);
        mp_commit(h, r, SYS_dup, fd, 0, 0, 0, n, NULL, 0);
        if (n >= 0) mp_mark((int)n, mp_marked(fd));
        h->locked = 0;
        return (int)mp_result(n);
    }
    return mp_real_dup()(fd);
}

/* These stop as before; they only keep the ESPIPE marks true. */
int dup2(int old, int new) {
    mp_mark(new, 0);
    return mp_real_dup2()(old, new);
}

int dup3(int old, int new, int flags) {
    mp_mark(new, 0);
    return mp_real_dup3()(old, new, flags);
}

/* Opens that create, truncate or write stop (the seccomp filter stops them at the trusted
 * instruction too); so does an open of an existing object that is not a regular file or a
 * directory (a FIFO's open waits for the other end; the probe stat decides). */
#define MP_OPEN_STOPS (O_ACCMODE | O_CREAT | O_TRUNC | 020000000 /* __O_TMPFILE */)

static int mp_openat(int dirfd, const char *path, int flags, mode_t mode) {
    struct mp_header *h = mp_get_buffer();
    size_t length = mp_path_length(path);
    if (h && !h->locked && !(flags & MP_OPEN_STOPS) && length < MP_MAX_PATH) {
        h->locked = 1;
        struct stat st;
        long probe = mp_newfstatat(h, dirfd, path, length, &st, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0);
        /* A path that does not exist cannot be a FIFO to wait on: its open fails the same
         * way here (a FIFO made between the two calls would block: a race only a program
         * racing itself can win, and the mode trusts the program anyway). */
        if ((probe == 0 && mp_waits_not(&st)) || probe == -ENOENT || probe == -ENOTDIR) {
            mp_room(h, MP_RECORD_ROOM(length) + MP_NAMING_ROOM);
            struct mp_record *r = mp_reserve(h, length);
            long fd = mp_trusted(SYS_openat, dirfd, (long)path, flags, (long)mode);
            mp_commit_path(h, r, SYS_openat, dirfd, (long)path, flags, (long)mode, fd, NULL, 0, path, length);
            if (fd >= 0) {
                mp_mark((int)fd, 0);
                struct stat opened;
                /* The identity the supervisor records for the new descriptor. */
                mp_fstat(h, (int)fd, &opened);
                mp_readlink_fd(h, (int)fd);
            }
            h->locked = 0;
            return (int)mp_result(fd);
        }
        h->locked = 0;
    }
    return mp_real_openat()(dirfd, path, flags, mode);
}

static mode_t mp_mode(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & 020000000) == 020000000 ? va_arg(ap, mode_t) : 0;
}

int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t mode = mp_mode(flags, ap); va_end(ap);
    return mp_openat(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t mode = mp_mode(flags, ap); va_end(ap);
    return mp_openat(dirfd, path, flags, mode);
}
int open(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t mode = mp_mode(flags, ap); va_end(ap);
    return mp_openat(AT_FDCWD, path, flags, mode);
}
int open64(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t mode = mp_mode(flags, ap); va_end(ap);
    return mp_openat(AT_FDCWD, path, flags, mode);
}
/* _FORTIFY_SOURCE's checked forms (no mode: they refuse O_CREAT without one). */
int __open_2(const char *path, int flags) { return mp_openat(AT_FDCWD, path, flags, 0); }
int __open64_2(const char *path, int flags) { return mp_openat(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char *path, int flags) { return mp_openat(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char *path, int flags) { return mp_openat(dirfd, path, flags, 0); }

/* The stat family: every form is newfstatat (glibc 2.33+ makes the same call). */
static int mp_fstatat(int dirfd, const char *path, struct stat *st, int flags) {
    struct mp_header *h = mp_get_buffer();
    size_t length = mp_path_length(path);
    if (h && !h->locked && st && length < MP_MAX_PATH) {
        h->locked = 1;
        long n = mp_newfstatat(h, dirfd, path, length, st, flags);
        h->locked = 0;
        return (int)mp_result(n);
    }
    return mp_real_fstatat()(dirfd, path, st, flags);
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags) { return mp_fstatat(dirfd, path, st, flags); }
int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
    return mp_fstatat(dirfd, path, (struct stat *)st, flags);
}
int stat(const char *path, struct stat *st) { return mp_fstatat(AT_FDCWD, path, st, 0); }
int stat64(const char *path, struct stat64 *st) { return mp_fstatat(AT_FDCWD, path, (struct stat *)st, 0); }
int lstat(const char *path, struct stat *st) { return mp_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW); }
int lstat64(const char *path, struct stat64 *st) {
    return mp_fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}
int fstat(int fd, struct stat *st) { return mp_fstatat(fd, "", st, AT_EMPTY_PATH); }
int fstat64(int fd, struct stat64 *st) { return mp_fstatat(fd, "", (struct stat *)st, AT_EMPTY_PATH); }
/* The versioned forms of programs built against glibc before 2.33 (_STAT_VER 1 on x86-64:
 * the kernel's struct stat). */
int __xstat(int version, const char *path, struct stat *st) { (void)version; return stat(path, st); }
int __xstat64(int version, const char *path, struct stat64 *st) { (void)version; return stat64(path, st); }
int __lxstat(int version, const char *path, struct stat *st) { (void)version; return lstat(path, st); }
int __lxstat64(int version, const char *path, struct stat64 *st) { (void)version; return lstat64(path, st); }
int __fxstat(int version, int fd, struct stat *st) { (void)version; return fstat(fd, st); }
int __fxstat64(int version, int fd, struct stat64 *st) { (void)version; return fstat64(fd, st); }
int __fxstatat(int version, int dirfd, const char *path, struct stat *st, int flags) {
    (void)version; return fstatat(dirfd, path, st, flags);
}
int __fxstatat64(int version, int dirfd, const char *path, struct stat64 *st, int flags) {
    (void)version; return fstatat64(dirfd, path, st, flags);
}

ssize_t read(int fd, void *buf, size_t count) {
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked && count <= MP_MAX_DATA) {
        h->locked = 1;
        if (mp_seekable(h, fd)) {
            struct mp_record *r = mp_reserve(h, count);
            long n = mp_trusted(SYS_read, fd, (long)buf, (long)count, 0);
            mp_commit(h, r, SYS_read, fd, (long)buf, (long)count, 0, n, buf, n > 0 ? (size_t)n : 0);
            h->locked = 0;
            return mp_result(n);
        }
        h->locked = 0;
    }
    return mp_real_read()(fd, buf, count);
}

ssize_t write(int fd, const void *buf, size_t count) {
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked && count <= MP_MAX_DATA) {
        h->locked = 1;
        if (mp_seekable(h, fd)) {
            struct mp_record *r = mp_reserve(h, count);
            long n = mp_trusted(SYS_write, fd, (long)buf, (long)count, 0);
            /* The bytes passed, for the same digest a stopped write records. */
            mp_commit(h, r, SYS_write, fd, (long)buf, (long)count, 0, n, buf, n >= 0 && buf ? count : 0);
            h->locked = 0;
            return mp_result(n);
        }
        h->locked = 0;
    }
    return mp_real_write()(fd, buf, count);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t offset) {
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked && count <= MP_MAX_DATA) {
        h->locked = 1;
        /* pread on a pipe or socket fails at once with ESPIPE: it never blocks. */
        struct mp_record *r = mp_reserve(h, count);
        long n = mp_trusted(SYS_pread64, fd, (long)buf, (long)count, (long)offset);
        mp_commit(h, r, SYS_pread64, fd, (long)buf, (long)count, (long)offset, n, buf, n > 0 ? (size_t)n : 0);
        h->locked = 0;
        return mp_result(n);
    }
    return mp_real_pread64()(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked && count <= MP_MAX_DATA) {
        h->locked = 1;
        struct mp_record *r = mp_reserve(h, count);
        long n = mp_trusted(SYS_pwrite64, fd, (long)buf, (long)count, (long)offset);
        mp_commit(h, r, SYS_pwrite64, fd, (long)buf, (long)count, (long)offset, n, buf, n >= 0 && buf ? count : 0);
        h->locked = 0;
        return mp_result(n);
    }
    return mp_real_pwrite64()(fd, buf, count, offset);
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset) { return pread64(fd, buf, count, offset); }
ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) { return pwrite64(fd, buf, count, offset); }
/* readv/writev on seekable descriptors, as read/write: the record carries the bytes read
 * (gathered from the iovecs, as many as the result) or passed (all of them), then the
 * iovec array itself, which the supervisor needs to place them. At most MP_MAX_IOV
 * vectors and MP_MAX_DATA bytes; otherwise, and on pipes and sockets, the call stops. */
#define MP_MAX_IOV 64
static size_t mp_iov_total(const struct iovec *iov, int count) {
    if (!iov || count <= 0 || count > MP_MAX_IOV) return (size_t)-1;
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        if (iov[i].iov_len > MP_MAX_DATA) return (size_t)-1;
        total += iov[i].iov_len;
    }
    return total;
}

static void mp_commit_iov(struct mp_header *h, struct mp_record *r, long number, int fd, const struct iovec *iov, int count,
                          long result, size_t gather) {
    r->number = (uint64_t)number;
    r->result = result;
    r->args[0] = (uint64_t)fd; r->args[1] = (uint64_t)iov; r->args[2] = (uint64_t)count;
    r->args[3] = 0; r->args[4] = 0; r->args[5] = 0;
    char *out = (char *)(r + 1);
    size_t copied = 0;
    for (int i = 0; i < count && copied < gather; i++) {
        size_t part = iov[i].iov_len < gather - copied ? iov[i].iov_len : gather - copied;
        if (part) memcpy(out + copied, iov[i].iov_base, part);
        copied += part;
    }
    size_t vectors = (size_t)count * sizeof *iov;
    memcpy(out + copied, iov, vectors);
    r->data_length = (uint32_t)copied;
    r->path_length = (uint32_t)vectors;
    r->reserved = 0;
    r->length = (uint32_t)((sizeof *r + copied + vectors + 7) & ~(size_t)7);
    __atomic_store_n(&h->used, h->used + r->length, __ATOMIC_RELEASE);
}

typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
MP_REAL(readv_fn, readv)
MP_REAL(readv_fn, writev)

/* readv and writev share one path: the record carries the iovec array and the data
 * (what the kernel wrote for readv, what the program handed it for writev). */
static ssize_t mp_vectored(long nr, int fd, const struct iovec *iov, int count, readv_fn real) {
    struct mp_header *h = mp_get_buffer();
    size_t total = mp_iov_total(iov, count);
    if (h && !h->locked && total <= MP_MAX_DATA) {
        h->locked = 1;
        if (mp_seekable(h, fd)) {
            struct mp_record *r = mp_reserve(h, total + (size_t)count * sizeof *iov);
            long n = mp_trusted(nr, fd, (long)iov, count, 0);
            size_t data = nr == SYS_readv ? (n > 0 ? (size_t)n : 0) : (n >= 0 ? total : 0);
            mp_commit_iov(h, r, nr, fd, iov, count, n, data);
            h->locked = 0;
            return mp_result(n);
        }
        h->locked = 0;
    }
    return real(fd, iov, count);
}

ssize_t readv(int fd, const struct iovec *iov, int count) {
    return mp_vectored(SYS_readv, fd, iov, count, mp_real_readv());
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    return mp_vectored(SYS_writev, fd, iov, count, mp_real_writev());
}
/* Lookups that never wait and change nothing: the link's target, the access check, the
 * working directory, a directory's entries and the file offset. Each record carries the bytes
 * the kernel wrote and the path, as the other path calls' do; the numbers are the ones
 * glibc's own wrappers make, so the trace reads as a stopped recording's. */
/* What mp_lookup answers when the call must take the ordinary path (no buffer, a signal
 * handler inside a wrapper, a path or buffer too long): never a kernel result. */
#define MP_NOT_BUFFERED (-ENOSYS - 4096)
static long mp_lookup(long number, long a0, long a1, long a2, long a3, const char *path, void *out, size_t out_size) {
    struct mp_header *h = mp_get_buffer();
    size_t length = path ? mp_path_length(path) : 0;
    if (!h || h->locked || length >= MP_MAX_PATH || out_size > MP_MAX_DATA) return MP_NOT_BUFFERED;
    h->locked = 1;
    struct mp_record *r = mp_reserve(h, out_size + length);
    long n = mp_trusted(number, a0, a1, a2, a3);
    mp_commit_path(h, r, number, a0, a1, a2, a3, n, out, out && n > 0 ? (size_t)n : 0, path, length);
    h->locked = 0;
    return n;
}

typedef ssize_t (*readlink_fn)(const char *, char *, size_t);
typedef ssize_t (*readlinkat_fn)(int, const char *, char *, size_t);
typedef int (*access_fn)(const char *, int);
typedef int (*faccessat_fn)(int, const char *, int, int);
typedef char *(*getcwd_fn)(char *, size_t);
typedef ssize_t (*getdents64_fn)(int, void *, size_t);
typedef off_t (*lseek_fn)(int, off_t, int);
MP_REAL(readlink_fn, readlink)
MP_REAL(readlinkat_fn, readlinkat)
MP_REAL(access_fn, access)
MP_REAL(faccessat_fn, faccessat)
MP_REAL(getcwd_fn, getcwd)
MP_REAL(getdents64_fn, getdents64)
MP_REAL(lseek_fn, lseek64)

ssize_t readlink(const char *path, char *buf, size_t size) {
    long n = path ? mp_lookup(SYS_readlink, (long)path, (long)buf, (long)size, 0, path, buf, size) : MP_NOT_BUFFERED;
    return n == MP_NOT_BUFFERED ? mp_real_readlink()(path, buf, size) : mp_result(n);
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size) {
    long n = path ? mp_lookup(SYS_readlinkat, dirfd, (long)path, (long)buf, (long)size, path, buf, size) : MP_NOT_BUFFERED;
    return n == MP_NOT_BUFFERED ? mp_real_readlinkat()(dirfd, path, buf, size) : mp_result(n);
}

int access(const char *path, int mode) {
    long n = path ? mp_lookup(SYS_access, (long)path, mode, 0, 0, path, NULL, 0) : MP_NOT_BUFFERED;
    return n == MP_NOT_BUFFERED ? mp_real_access()(path, mode) : (int)mp_result(n);
}

/* glibc's faccessat makes faccessat2 (Linux 5.8+); on an older kernel's ENOSYS (logged as
 * it happened) glibc's own fallback runs, stopping. */
int faccessat(int dirfd, const char *path, int mode, int flags) {
    long n = path ? mp_lookup(SYS_faccessat2, dirfd, (long)path, mode, flags, path, NULL, 0) : MP_NOT_BUFFERED;
    return n == MP_NOT_BUFFERED || n == -ENOSYS ? mp_real_faccessat()(dirfd, path, mode, flags) : (int)mp_result(n);
}

/* Only into the caller's buffer: getcwd(NULL, ...) allocates, which glibc does. As glibc,
 * a directory outside the process's root (the kernel's "(unreachable)" answer) is ENOENT. */
char *getcwd(char *buf, size_t size) {
    long n = buf && size ? mp_lookup(SYS_getcwd, (long)buf, (long)size, 0, 0, NULL, buf, size) : MP_NOT_BUFFERED;
    if (n == MP_NOT_BUFFERED) return mp_real_getcwd()(buf, size);
    if (n < 0) { errno = (int)-n; return NULL; }
    if (n == 0 || buf[0] != '/') { errno = ENOENT; return NULL; }
    return buf;
}

/* A directory's entries (a descriptor that is no directory fails at once: ENOTDIR). */
ssize_t getdents64(int fd, void *buf, size_t size) {
    long n = mp_lookup(SYS_getdents64, fd, (long)buf, (long)size, 0, NULL, buf, size);
    return n == MP_NOT_BUFFERED ? mp_real_getdents64()(fd, buf, size) : mp_result(n);
}

/* lseek never waits (a pipe answers ESPIPE at once, and is marked as the probe marks it). */
static off_t mp_lseek(int fd, off_t offset, int whence) {
    long n = mp_lookup(SYS_lseek, fd, (long)offset, whence, 0, NULL, NULL, 0);
    if (n == MP_NOT_BUFFERED) return mp_real_lseek64()(fd, offset, whence);
    if (n == -ESPIPE) mp_mark(fd, 1);
    return (off_t)mp_result(n);
}
off_t lseek(int fd, off_t offset, int whence) { return mp_lseek(fd, offset, whence); }
off_t lseek64(int fd, off_t offset, int whence) { return mp_lseek(fd, offset, whence); }

/* The process's and user's ids: no argument, nothing written, only the result (shells ask
 * for all five at start-up). getppid stays a stopping call. */
#define MP_ID_CALL(type, name, number) \
    typedef type (*name##_fn)(void); \
    MP_REAL(name##_fn, name) \
    type name(void) { \
        long n = mp_lookup(number, 0, 0, 0, 0, NULL, NULL, 0); \
        return n == MP_NOT_BUFFERED ? mp_real_##name()() : (type)n; \
    }
MP_ID_CALL(pid_t, getpid, SYS_getpid)
MP_ID_CALL(uid_t, getuid, SYS_getuid)
MP_ID_CALL(uid_t, geteuid, SYS_geteuid)
MP_ID_CALL(gid_t, getgid, SYS_getgid)
MP_ID_CALL(gid_t, getegid, SYS_getegid)

/* clock_gettime: the vDSO is gone while recording, so every time call is a syscall; the
 * record carries the timespec the kernel wrote (the program's word for the time, like
 * every buffered result). */
typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
MP_REAL(clock_gettime_fn, clock_gettime)

int clock_gettime(clockid_t clock, struct timespec *ts) {
    struct mp_header *h = mp_get_buffer();
    if (h && !h->locked && ts) {
        h->locked = 1;
        struct mp_record *r = mp_reserve(h, sizeof *ts);
        long n = mp_trusted(SYS_clock_gettime, clock, (long)ts, 0, 0);
        mp_commit(h, r, SYS_clock_gettime, clock, (long)ts, 0, 0, n, ts, n == 0 ? sizeof *ts : 0);
        h->locked = 0;
        return (int)mp_result(n);
    }
    return mp_real_clock_gettime()(clock, ts);
}

/* ---- glibc's own call sites (after rr's monkeypatcher) ----
 *
 * The wrappers above catch calls made through the PLT; glibc's internal calls (stdio's
 * read, write and lseek, opendir's openat, getdents64, fstat and close, locale loading)
 * reach its own wrapper functions directly and would stop. So the constructor below
 * rewrites the `syscall` instruction of those wrapper functions, in this process's copy of
 * libc's code, into a jump to a per-site stub that calls mp_patched_syscall, which takes
 * the buffered path or makes the same call itself (an ordinary, stopping syscall).
 *
 * A site is patched only when it matches glibc 2.36's pattern exactly, in a function found
 * by name whose system call number is known: `mov $NR,%eax` (or `xor %eax,%eax` for read)
 * right before `syscall`, and right after it `cmp $-4096,%rax` (8 bytes with the syscall),
 * `cmp $-4096,%eax` (7) or `cmp $-4095,%rax` (8), then `ja`/`jae`. The `syscall` and the
 * `cmp` become `jmp stub` (5 bytes) and nops; the stub steps over the red zone, calls
 * mp_patch_entry, runs the displaced `cmp` and jumps back after it, so the flags the `ja`
 * tests are the same. The multi-threaded (cancellable) paths of read, write, open ... are
 * left alone: their `syscall` is bracketed by glibc's asynchronous-cancellation calls, and a
 * cancellation unwinding through a stub (no unwind tables) would abort; they keep stopping.
 *
 * The patch is the program's own stores, made by code in its memory after an mprotect
 * that stops (and is recorded), so replay, which interprets this constructor, makes the
 * same stores; the interpreter drops decoded blocks on pages that are written.
 * MAGPROV_SYSCALL_BUFFER_NO_PATCH=1 in the environment turns the patching off (to
 * measure it). */
static __thread int mp_in_patch __attribute__((tls_model("initial-exec")));

/* The same call, made from this library's code: not the trusted instruction, so it stops. */
static long mp_raw(long n, const long *a) {
    register long r10 __asm__("r10") = a[3];
    register long r8 __asm__("r8") = a[4];
    register long r9 __asm__("r9") = a[5];
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(n), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* A libc-style result (-1 and errno) as the kernel's (-errno). */
static long mp_kernel_result(long n) { return n == -1 ? -(long)errno : n; }

/* What a patched site calls (through mp_patch_entry): number and the six argument
 * registers (rdi, rsi, rdx, r10, r8, r9). Returns what the kernel would have in rax;
 * errno is left as it was, as a syscall leaves it. A wrapper's own fallback to libc's
 * function reaches a patched site again: mp_in_patch sends that call straight to mp_raw. */
__attribute__((visibility("hidden"), used)) long mp_patched_syscall(long n, const long *a) {
    if (mp_in_patch || !mp_buffer) return mp_raw(n, a);
    int saved = errno;
    long r;
    mp_in_patch = 1;
    switch (n) {
    case SYS_read: r = mp_kernel_result(read((int)a[0], (void *)a[1], (size_t)a[2])); break;
    case SYS_write: r = mp_kernel_result(write((int)a[0], (const void *)a[1], (size_t)a[2])); break;
    case SYS_pread64: r = mp_kernel_result(pread64((int)a[0], (void *)a[1], (size_t)a[2], (off_t)a[3])); break;
    case SYS_pwrite64: r = mp_kernel_result(pwrite64((int)a[0], (const void *)a[1], (size_t)a[2], (off_t)a[3])); break;
    case SYS_readv: r = mp_kernel_result(readv((int)a[0], (const struct iovec *)a[1], (int)a[2])); break;
    case SYS_writev: r = mp_kernel_result(writev((int)a[0], (const struct iovec *)a[1], (int)a[2])); break;
    case SYS_close: r = mp_kernel_result(close((int)a[0])); break;
    case SYS_dup: r = mp_kernel_result(dup((int)a[0])); break;
    case SYS_openat: r = mp_kernel_result(mp_openat((int)a[0], (const char *)a[1], (int)a[2], (mode_t)a[3])); break;
    case SYS_newfstatat:
        r = mp_kernel_result(mp_fstatat((int)a[0], (const char *)a[1], (struct stat *)a[2], (int)a[3]));
        break;
    case SYS_lseek:
        r = mp_lookup(SYS_lseek, a[0], a[1], a[2], 0, NULL, NULL, 0);
        if (r == -ESPIPE) mp_mark((int)a[0], 1);
        break;
    case SYS_getdents64: r = mp_lookup(SYS_getdents64, a[0], a[1], a[2], 0, NULL, (void *)a[1], (size_t)a[2]); break;
    case SYS_getcwd:
        r = a[0] && a[1] ? mp_lookup(SYS_getcwd, a[0], a[1], 0, 0, NULL, (void *)a[0], (size_t)a[1]) : MP_NOT_BUFFERED;
        break;
    case SYS_readlink:
        r = a[0] ? mp_lookup(SYS_readlink, a[0], a[1], a[2], 0, (const char *)a[0], (void *)a[1], (size_t)a[2])
                 : MP_NOT_BUFFERED;
        break;
    case SYS_readlinkat:
        r = a[1] ? mp_lookup(SYS_readlinkat, a[0], a[1], a[2], a[3], (const char *)a[1], (void *)a[2], (size_t)a[3])
                 : MP_NOT_BUFFERED;
        break;
    case SYS_access:
        r = a[0] ? mp_lookup(SYS_access, a[0], a[1], 0, 0, (const char *)a[0], NULL, 0) : MP_NOT_BUFFERED;
        break;
    case SYS_faccessat2:
        r = a[1] ? mp_lookup(SYS_faccessat2, a[0], a[1], a[2], a[3], (const char *)a[1], NULL, 0) : MP_NOT_BUFFERED;
        break;
    case SYS_fcntl:
        /* Only the two reads of a descriptor's flags (the filter lets nothing else through). */
        r = (unsigned)a[1] == F_GETFD || (unsigned)a[1] == F_GETFL
                ? mp_lookup(SYS_fcntl, a[0], (unsigned)a[1], 0, 0, NULL, NULL, 0) : MP_NOT_BUFFERED;
        break;
    default: r = MP_NOT_BUFFERED; break;
    }
    if (r == MP_NOT_BUFFERED) r = mp_raw(n, a);
    mp_in_patch = 0;
    errno = saved;
    return r;
}

/* Saves what a syscall preserves (all but rax, rcx, r11; the vector registers too, which
 * the C code may use), aligns the stack, calls mp_patched_syscall(rax, &saved rdi..r9). */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".type mp_patch_entry,@function\n"
    "mp_patch_entry:\n"
    "  push %rbp\n"
    "  mov %rsp, %rbp\n"
    "  push %r9\n  push %r8\n  push %r10\n  push %rdx\n  push %rsi\n  push %rdi\n"
    "  push %rcx\n  push %r11\n"
    "  and $-16, %rsp\n"
    "  sub $256, %rsp\n"
    "  movdqu %xmm0, 0(%rsp)\n  movdqu %xmm1, 16(%rsp)\n  movdqu %xmm2, 32(%rsp)\n  movdqu %xmm3, 48(%rsp)\n"
    "  movdqu %xmm4, 64(%rsp)\n  movdqu %xmm5, 80(%rsp)\n  movdqu %xmm6, 96(%rsp)\n  movdqu %xmm7, 112(%rsp)\n"
    "  movdqu %xmm8, 128(%rsp)\n  movdqu %xmm9, 144(%rsp)\n  movdqu %xmm10, 160(%rsp)\n  movdqu %xmm11, 176(%rsp)\n"
    "  movdqu %xmm12, 192(%rsp)\n  movdqu %xmm13, 208(%rsp)\n  movdqu %xmm14, 224(%rsp)\n  movdqu %xmm15, 240(%rsp)\n"
    "  mov %rax, %rdi\n"
    "  lea -48(%rbp), %rsi\n"
    "  call mp_patched_syscall\n"
    "  movdqu 0(%rsp), %xmm0\n  movdqu 16(%rsp), %xmm1\n  movdqu 32(%rsp), %xmm2\n  movdqu 48(%rsp), %xmm3\n"
    "  movdqu 64(%rsp), %xmm4\n  movdqu 80(%rsp), %xmm5\n  movdqu 96(%rsp), %xmm6\n  movdqu 112(%rsp), %xmm7\n"
    "  movdqu 128(%rsp), %xmm8\n  movdqu 144(%rsp), %xmm9\n  movdqu 160(%rsp), %xmm10\n  movdqu 176(%rsp), %xmm11\n"
    "  movdqu 192(%rsp), %xmm12\n  movdqu 208(%rsp), %xmm13\n  movdqu 224(%rsp), %xmm14\n  movdqu 240(%rsp), %xmm15\n"
    "  lea -64(%rbp), %rsp\n"
    "  pop %r11\n  pop %rcx\n"
    "  pop %rdi\n  pop %rsi\n  pop %rdx\n  pop %r10\n  pop %r8\n  pop %r9\n"
    "  pop %rbp\n"
    "  ret\n"
    ".size mp_patch_entry, .-mp_patch_entry\n");
extern char mp_patch_entry[] __attribute__((visibility("hidden")));

/* glibc 2.36's wrapper functions whose single-threaded `syscall` is patched, by name (as
 * dlsym finds them past this library), with the number each makes. */
static const struct { const char *name; int number; } mp_patch_functions[] = {
    { "read", SYS_read }, { "__read_nocancel", SYS_read }, { "write", SYS_write },
    { "__write_nocancel", SYS_write }, { "pread64", SYS_pread64 }, { "__pread64_nocancel", SYS_pread64 },
    { "pwrite64", SYS_pwrite64 }, { "readv", SYS_readv }, { "writev", SYS_writev }, { "lseek64", SYS_lseek },
    { "close", SYS_close }, { "__close_nocancel", SYS_close }, { "dup", SYS_dup },
    { "open64", SYS_openat }, { "openat64", SYS_openat }, { "__open64_nocancel", SYS_openat },
    { "fstatat64", SYS_newfstatat }, { "getdents64", SYS_getdents64 }, { "getcwd", SYS_getcwd },
    { "readlink", SYS_readlink }, { "readlinkat", SYS_readlinkat }, { "access", SYS_access },
    { "faccessat", SYS_faccessat2 },
    /* __fcntl64_nocancel and __fcntl64_nocancel_adjusted (which `fcntl` calls) are not
     * exported; in glibc 2.36 they follow __close_nocancel, within its window. */
    { "__close_nocancel", SYS_fcntl },
};
#define MP_PATCH_WINDOW 256
#define MP_STUB_SIZE 32
#define MP_MAX_SITES 120

struct mp_site { unsigned char *at; int length; };

/* The length (syscall + cmp) of a patchable site at `p` making `number`, or 0. */
static int mp_site_length(const unsigned char *start, const unsigned char *p, int number) {
    static const unsigned char cmp_rax[] = { 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff };
    static const unsigned char cmp_rax_4095[] = { 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff };
    static const unsigned char cmp_eax[] = { 0x3d, 0x00, 0xf0, 0xff, 0xff };
    static const unsigned char open_nocancel[] = { 0x48, 0x89, 0xfe, 0xbf, 0x9c, 0xff, 0xff, 0xff };
    if (p[0] != 0x0f || p[1] != 0x05) return 0;
    int length;
    if (!memcmp(p + 2, cmp_rax, 6) || !memcmp(p + 2, cmp_rax_4095, 6)) length = 8;
    else if (!memcmp(p + 2, cmp_eax, 5)) length = 7;
    else return 0;
    /* ja / jae, short or near */
    const unsigned char *j = p + length;
    int jump;
    if (j[0] == 0x77 || j[0] == 0x73) jump = 2;
    else if (j[0] == 0x0f && (j[1] == 0x87 || j[1] == 0x83)) jump = 6;
    else return 0;
    /* The cancellable path restores the cancellation type after the call. */
    const unsigned char *after = j + jump;
    if ((after[0] == 0x44 && after[1] == 0x89 && after[2] == 0xc7) || (after[0] == 0x89 && after[1] == 0xd7)) return 0;
    /* The number, set right before. */
    uint32_t nr;
    long before = (long)(p - start);
    if (before >= 5 && p[-5] == 0xb8) memcpy(&nr, p - 4, 4);
    else if (before >= 2 && p[-2] == 0x31 && p[-1] == 0xc0) nr = 0;
    else if (before >= 13 && p[-13] == 0xb8 && !memcmp(p - 8, open_nocancel, 8)) memcpy(&nr, p - 12, 4);
    else return 0;
    return (int)nr == number ? length : 0;
}

static int mp_in_range(const unsigned char *from, const unsigned char *to) {
    long distance = (long)(to - from);
    return distance > -0x7fff0000L && distance < 0x7fff0000L;
}

__attribute__((constructor(103))) static void mp_patch_libc(void) {
    if (!mp_buffer) return;
    const char *off = getenv("MAGPROV_SYSCALL_BUFFER_NO_PATCH");
    if (off && *off && *off != '0') return;
    int saved = errno;
    /* Resolve the fallbacks now: a patched site must never reach dlsym. */
    (void)mp_real_read(); (void)mp_real_write(); (void)mp_real_pread64(); (void)mp_real_pwrite64();
    (void)mp_real_close(); (void)mp_real_dup(); (void)mp_real_openat(); (void)mp_real_fstatat();
    (void)mp_real_readv(); (void)mp_real_writev();
    struct mp_site sites[MP_MAX_SITES];
    int count = 0;
    unsigned char *low = NULL, *high = NULL;
    for (size_t f = 0; f < sizeof mp_patch_functions / sizeof *mp_patch_functions; f++) {
        unsigned char *start = dlsym(RTLD_NEXT, mp_patch_functions[f].name);
        if (!start) continue;
        for (unsigned char *p = start; p < start + MP_PATCH_WINDOW && count < MP_MAX_SITES; p++) {
            int length = mp_site_length(start, p, mp_patch_functions[f].number);
            if (!length) continue;
            int seen = 0;
            for (int i = 0; i < count; i++) seen |= sites[i].at == p;
            if (seen) continue;
            sites[count].at = p;
            sites[count].length = length;
            count++;
            if (!low || p < low) low = p;
            if (!high || p + length > high) high = p + length;
        }
    }
    if (count == 0) { errno = saved; return; }
    /* The stubs, near libc (a rel32 jump each way). */
    long page = 4096;
    size_t stub_bytes = (size_t)(16 + count * MP_STUB_SIZE + page - 1) & ~(size_t)(page - 1);
    unsigned char *hint = (unsigned char *)(((uintptr_t)low & ~(uintptr_t)(page - 1)) - 16 * (uintptr_t)page * 256);
    unsigned char *stubs = mmap(hint, stub_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stubs == MAP_FAILED) { errno = saved; return; }
    if (!mp_in_range(stubs, low) || !mp_in_range(stubs + stub_bytes, high)) {
        munmap(stubs, stub_bytes);
        errno = saved;
        return;
    }
    void *entry = (void *)mp_patch_entry;
    memcpy(stubs, &entry, sizeof entry);
    for (int i = 0; i < count; i++) {
        unsigned char *s = stubs + 16 + i * MP_STUB_SIZE, *at = sites[i].at;
        int32_t rel;
        unsigned char *q = s;
        static const unsigned char below_red_zone[] = { 0x48, 0x8d, 0x64, 0x24, 0x80 };             /* lea -128(%rsp),%rsp */
        static const unsigned char above_red_zone[] = { 0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0 };    /* lea 128(%rsp),%rsp */
        memcpy(q, below_red_zone, sizeof below_red_zone); q += sizeof below_red_zone;
        q[0] = 0xff; q[1] = 0x15;                                                                   /* call *slot(%rip) */
        rel = (int32_t)(stubs - (q + 6)); memcpy(q + 2, &rel, 4); q += 6;
        memcpy(q, above_red_zone, sizeof above_red_zone); q += sizeof above_red_zone;
        memcpy(q, at + 2, (size_t)sites[i].length - 2); q += sites[i].length - 2;                   /* the displaced cmp */
        q[0] = 0xe9; rel = (int32_t)((at + sites[i].length) - (q + 5)); memcpy(q + 1, &rel, 4);     /* jmp back */
    }
    if (mprotect(stubs, stub_bytes, PROT_READ | PROT_EXEC) != 0) { munmap(stubs, stub_bytes); errno = saved; return; }
    unsigned char *first = (unsigned char *)((uintptr_t)low & ~(uintptr_t)(page - 1));
    size_t span = (size_t)(high - first + page - 1) & ~(size_t)(page - 1);
    if (mprotect(first, span, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) { errno = saved; return; }
    for (int i = 0; i < count; i++) {
        unsigned char *at = sites[i].at, *s = stubs + 16 + i * MP_STUB_SIZE;
        unsigned char patch[8];
        int32_t rel = (int32_t)(s - (at + 5));
        patch[0] = 0xe9; memcpy(patch + 1, &rel, 4);
        for (int k = 5; k < sites[i].length; k++) patch[k] = 0x90;
        memcpy(at, patch, (size_t)sites[i].length);
    }
    mprotect(first, span, PROT_READ | PROT_EXEC);
    errno = saved;
}
"""#
}
