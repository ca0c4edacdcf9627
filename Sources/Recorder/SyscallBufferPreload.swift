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
 * stopping path. Reentrancy (a signal handler calling write) is caught by `locked`. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* `generation` counts resets: the supervisor, which never writes here, tells a reset
 * buffer from a grown one by it. */
struct mp_header { uint32_t magic, size, used, locked, generation, reserved; };
struct mp_record {
    uint32_t length;       /* of the whole record, 8-aligned */
    uint32_t data_length;  /* bytes after the record: what a read returned, what a write passed */
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

static void mp_commit(struct mp_header *h, struct mp_record *r, long number, long a0, long a1, long a2, long a3,
                      long result, const void *data, size_t length) {
    r->number = (uint64_t)number;
    r->result = result;
    r->args[0] = (uint64_t)a0; r->args[1] = (uint64_t)a1; r->args[2] = (uint64_t)a2;
    r->args[3] = (uint64_t)a3; r->args[4] = 0; r->args[5] = 0;
    r->data_length = (uint32_t)length;
    if (length) memcpy(r + 1, data, length);
    r->length = (uint32_t)((sizeof *r + length + 7) & ~(size_t)7);
    /* The record becomes visible to the supervisor with this store, never half-written. */
    __atomic_store_n(&h->used, h->used + r->length, __ATOMIC_RELEASE);
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
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
MP_REAL(read_fn, read)
MP_REAL(write_fn, write)
MP_REAL(pread_fn, pread64)
MP_REAL(pwrite_fn, pwrite64)
MP_REAL(close_fn, close)
MP_REAL(dup2_fn, dup2)
MP_REAL(dup3_fn, dup3)

/* These stop as before; they only keep the ESPIPE marks true. */
int close(int fd) {
    mp_mark(fd, 0);
    return mp_real_close()(fd);
}

int dup2(int old, int new) {
    mp_mark(new, 0);
    return mp_real_dup2()(old, new);
}

int dup3(int old, int new, int flags) {
    mp_mark(new, 0);
    return mp_real_dup3()(old, new, flags);
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
"""#
}
