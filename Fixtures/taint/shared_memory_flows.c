// Flows through memory that is shared without a syscall per byte (issue 10, "Memory
// shared without syscalls"). Each mode gets secret.txt's bytes into out.txt through one
// kind of shared memory; the test's secret is exactly SECRET_LENGTH bytes, so a mapping of
// out.txt can be sized before the secret is read (a later ftruncate would itself be an
// edge from the process that read the secret, and hide what the mode checks).
//   threads       main writes early.txt, then a worker thread reads the secret into a
//                 global buffer; main joins it and writes the buffer to out.txt
//   map-before    out.txt is mapped MAP_SHARED writable, then the secret is read and
//                 copied into the mapping (no write(2) ever names out.txt)
//   map-msync     out.txt is mapped writable, public bytes stored and msync()ed, cp (by
//                 posix_spawn) copies out.txt to early.txt, and only then the secret is
//                 read and stored: early.txt predates the read
//   map-after     the secret is read first, then out.txt is mapped and written
//   mprotect      out.txt is mapped read-only, the secret read, the mapping mprotect()ed
//                 writable and written
//   proc-pwrite   out.txt is mapped writable (the kernel refuses /proc/self/mem writes into
//                 a shared mapping that is not), but no instruction stores into it: the
//                 secret goes in with pwrite(2) on /proc/self/mem at the mapping's address.
//                 Should the open fail with EPERM (the recorder refuses opening a memory
//                 file for writing when its syscall buffer is on), the mode writes "EPERM"
//                 to refused.txt and stops, without out.txt.
//   proc-write    the same with lseek(2) and write(2), which the recorder refuses (only
//                 pwrite64 may write a process's memory): "EPERM" in refused.txt
//   map-reader    a child maps carrier.txt MAP_SHARED read-only, creates mapped.flag and
//                 polls the mapping (nanosleep, no other syscall) until a sibling, which
//                 waits for mapped.flag, pwrite()s the secret into the file; then it copies
//                 the mapping to out.txt
//   anon-fork     MAP_SHARED|MAP_ANONYMOUS made before two sibling forks: the writer
//                 stores the secret, the reader polls and copies it to out.txt
//   sysv-fork     the same through a SysV segment the parent attaches before the forks
//   memfd-fork    the same through a memfd the parent maps shared before the forks
//   sysv-shm      the same through a SysV segment (shmget in the parent, shmat in both;
//                 the writer attaches once the reader created mapped.flag after its attach)
//   vfork         a vfork child reads the secret into its parent's memory (borrowed until
//                 it exits); the parent writes it to out.txt
//   memfd         the same through a memfd each sibling maps from the inherited descriptor
//                 (the writer maps once the reader created mapped.flag after its mapping)
//   sysv-key      the same through a SysV segment each sibling finds by its key (shmget
//                 with a key, then shmat): nothing is shared before the mappings (the
//                 writer attaches after mapped.flag, as in sysv-shm)
//   file-shared   the same through carrier.txt, mapped MAP_SHARED by both siblings (the
//                 writer writable, the reader read-only), as SQLite's -shm file is; the
//                 writer maps once the reader created mapped.flag after its mapping
//   memfd-scm     the writer creates a memfd, maps it writable and passes it to the reader
//                 over a unix socket (SCM_RIGHTS); the reader maps it read-only and
//                 acknowledges, and only then the writer stores the secret
//   vm-shared     MAP_SHARED|MAP_ANONYMOUS made before the parent forks a reader (one
//                 group); the parent reads the secret and process_vm_writev()s it into the
//                 reader's view of the shared page while the reader blocks in read(2) on a
//                 pipe, then writes the pipe a byte; the reader copies the page to out.txt
//   proc-mem      the parent forks a reader, then reads the secret and pwrite()s it into
//                 the reader's buffer through /proc/<reader>/mem while the reader blocks in
//                 read(2) on a pipe, then writes the pipe a byte; the reader copies its
//                 buffer to out.txt (refused at the open like proc-pwrite: refused.txt,
//                 the reader is killed)
//   anon-spin     MAP_SHARED|MAP_ANONYMOUS counter: the child increments it in a loop
//                 with no syscall until the parent sets a stop flag (the parent yields
//                 until the counter passed 1000); the parent writes the final count to
//                 count.txt. The child's registers repeat in the loop: only the shared
//                 pages tell its preemption points apart.
//   anon-pipe     the child read()s from a pipe straight into MAP_SHARED|MAP_ANONYMOUS
//                 memory and blocks; the parent sleeps, runs, writes the secret into the
//                 pipe and waits: the kernel filled the shared pages while the parent ran
//                 user code, which a trace cannot order. The child writes them to out.txt.
//   exec-file     file-shared, with each sibling exec()ing this program anew (modes
//                 role-file-reader and role-file-writer): two separately exec'd programs
//                 map carrier.txt shared, as two sqlite3 processes map one -shm file
//   exec-sysv     sysv-key the same way (role-key-reader KEY, role-key-writer KEY): two
//                 separately exec'd programs attach one SysV segment found by its key
//   mprotect-shared  both siblings map carrier.txt MAP_SHARED read-only (no group yet);
//                 the writer, once the reader announced its mapping, mprotect()s its
//                 mapping writable and stores the secret through it
// The siblings synchronise only through the shared memory (polling with nanosleep): no
// pipe, signal, fork or wait4 edge carries the secret to out.txt.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_LENGTH 24

extern char **environ;

static char secret[256];
static ssize_t secret_length;

static void read_secret(void) {
    int fd = open("secret.txt", O_RDONLY);
    if (fd < 0) { perror("secret.txt"); exit(2); }
    secret_length = read(fd, secret, sizeof secret);
    close(fd);
    if (secret_length != SECRET_LENGTH) exit(2);
}

static void write_file(const char *name, const void *bytes, size_t length) {
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, bytes, length) != (ssize_t)length) { perror(name); exit(3); }
    close(fd);
}

static void wait_child(pid_t child) {
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) exit(4);
}

/// out.txt, SECRET_LENGTH bytes long, mapped shared with `prot`.
static char *map_out(int prot, int *descriptor) {
    int fd = open("out.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, SECRET_LENGTH)) { perror("out.txt"); exit(3); }
    char *map = mmap(NULL, SECRET_LENGTH, prot, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) { perror("mmap"); exit(3); }
    if (descriptor) *descriptor = fd; else close(fd);
    return map;
}

/// Polls `bytes` (shared memory) until its last byte is the secret's last, a newline.
static int poll_shared(volatile char *bytes) {
    for (int tries = 0; tries < 20000; tries++) {
        if (bytes[SECRET_LENGTH - 1] == '\n') return 0;
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
    return 7;
}

static void *worker(void *argument) {
    (void)argument;
    read_secret();
    return NULL;
}

/// Runs `reader` and then `writer` in two sibling processes and waits for both.
static void siblings(int (*reader)(void), int (*writer)(void)) {
    pid_t r = fork();
    if (r == 0) _exit(reader());
    pid_t w = fork();
    if (w == 0) { read_secret(); _exit(writer()); }
    wait_child(w);
    wait_child(r);
}

static char *shared;
static int shared_reader(void) {
    if (poll_shared(shared)) return 7;
    write_file("out.txt", shared, SECRET_LENGTH);
    return 0;
}
static int shared_writer(void) { memcpy(shared, secret, SECRET_LENGTH); return 0; }

/// Creates mapped.flag: the reader's mapping exists.
static void announce_mapping(void) { close(open("mapped.flag", O_WRONLY | O_CREAT, 0644)); }
/// Waits (nanosleep) until the reader announced its mapping; 0 when it did.
static int await_mapping(void) {
    for (int tries = 0; access("mapped.flag", F_OK) != 0; tries++) {
        if (tries > 20000) return 9;
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
    return 0;
}

static int segment;
static int shm_reader(void) {
    shared = shmat(segment, NULL, SHM_RDONLY);
    if (shared == (void *)-1) return 6;
    announce_mapping();
    return shared_reader();
}
static int shm_writer(void) {
    if (await_mapping()) return 9;
    shared = shmat(segment, NULL, 0);
    if (shared == (void *)-1) return 6;
    return shared_writer();
}

static int memory_fd;
static int memfd_reader(void) {
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ, MAP_SHARED, memory_fd, 0);
    if (shared == MAP_FAILED) return 6;
    announce_mapping();
    return shared_reader();
}
static int memfd_writer(void) {
    if (await_mapping()) return 9;
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, memory_fd, 0);
    if (shared == MAP_FAILED) return 6;
    return shared_writer();
}

static key_t segment_key;
static int key_attach(int flags) {
    int id = shmget(segment_key, 4096, IPC_CREAT | 0600);
    if (id < 0) return 6;
    shared = shmat(id, NULL, flags);
    return shared == (void *)-1 ? 6 : 0;
}
static int key_reader(void) {
    if (key_attach(SHM_RDONLY)) return 6;
    announce_mapping();
    return shared_reader();
}
static int key_writer(void) { return await_mapping() ? 9 : key_attach(0) ? 6 : shared_writer(); }

static int file_reader(void) {
    int fd = open("carrier.txt", O_RDONLY);
    if (fd < 0) return 6;
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED) return 6;
    announce_mapping();
    return shared_reader();
}
static int file_writer(void) {
    if (await_mapping()) return 9;
    int fd = open("carrier.txt", O_RDWR);
    if (fd < 0) return 6;
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return shared == MAP_FAILED ? 6 : shared_writer();
}

static int channel[2];
static int scm_reader(void) {
    char byte;
    struct iovec data = { &byte, 1 };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
    if (recvmsg(channel[1], &message, 0) != 1) return 6;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_type != SCM_RIGHTS) return 6;
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED || write(channel[1], "k", 1) != 1) return 6;
    return shared_reader();
}
static int scm_writer(void) {
    int fd = memfd_create("magprov-passed", 0);
    if (fd < 0 || ftruncate(fd, 4096)) return 6;
    shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED) return 6;
    char byte = 'f', ack;
    struct iovec data = { &byte, 1 };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof fd);
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
    if (sendmsg(channel[0], &message, 0) != 1 || read(channel[0], &ack, 1) != 1) return 6;
    return shared_writer();
}

static int carrier_reader(void) {
    int fd = open("carrier.txt", O_RDONLY);
    if (fd < 0) return 6;
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED) return 6;
    close(open("mapped.flag", O_WRONLY | O_CREAT, 0644));
    return shared_reader();
}
static int carrier_writer(void) {
    // The write must come while the reader's mapping exists (else the mapping's recorded
    // bytes already hold it).
    for (int tries = 0; access("mapped.flag", F_OK) != 0; tries++) {
        if (tries > 20000) return 9;
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
    int fd = open("carrier.txt", O_WRONLY);
    return fd >= 0 && pwrite(fd, secret, SECRET_LENGTH, 0) == SECRET_LENGTH ? 0 : 8;
}

static int mprotect_writer(void) {
    if (await_mapping()) return 9;
    int fd = open("carrier.txt", O_RDWR);
    if (fd < 0) return 6;
    shared = mmap(NULL, SECRET_LENGTH, PROT_READ, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED || mprotect(shared, SECRET_LENGTH, PROT_READ | PROT_WRITE)) return 6;
    return shared_writer();
}

/// Runs this program anew (execv of /proc/self/exe) with `role` and `argument` in each of
/// two sibling processes, the reader's first, and waits for both.
static void exec_siblings(const char *reader, const char *writer, const char *argument) {
    const char *roles[2] = { reader, writer };
    pid_t children[2];
    for (int i = 0; i < 2; i++) {
        children[i] = fork();
        if (children[i] == 0) {
            char *child_argv[] = { "shared_memory_flows", (char *)roles[i], (char *)argument, NULL };
            execv("/proc/self/exe", child_argv);
            _exit(127);
        }
    }
    wait_child(children[1]);
    wait_child(children[0]);
}

static char target_buffer[SECRET_LENGTH];

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "threads")) {
        write_file("early.txt", "early\n", 6);
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker, NULL) || pthread_join(thread, NULL)) return 5;
        write_file("out.txt", secret, (size_t)secret_length);
    } else if (!strcmp(mode, "map-before")) {
        char *map = map_out(PROT_READ | PROT_WRITE, NULL);
        read_secret();
        memcpy(map, secret, SECRET_LENGTH);
        munmap(map, SECRET_LENGTH);
    } else if (!strcmp(mode, "map-msync")) {
        char *map = map_out(PROT_READ | PROT_WRITE, NULL);
        memcpy(map, "public-bytes-before-read", SECRET_LENGTH);
        if (msync(map, SECRET_LENGTH, MS_SYNC)) return 5;
        pid_t cp;
        char *cp_argv[] = { "cp", "out.txt", "early.txt", NULL };
        if (posix_spawn(&cp, "/bin/cp", NULL, NULL, cp_argv, environ)) return 5;
        wait_child(cp);
        read_secret();
        memcpy(map, secret, SECRET_LENGTH);
        munmap(map, SECRET_LENGTH);
    } else if (!strcmp(mode, "map-after")) {
        read_secret();
        char *map = map_out(PROT_READ | PROT_WRITE, NULL);
        memcpy(map, secret, SECRET_LENGTH);
        // No munmap: the mapping ends with the process.
    } else if (!strcmp(mode, "mprotect")) {
        char *map = map_out(PROT_READ, NULL);
        read_secret();
        if (mprotect(map, SECRET_LENGTH, PROT_READ | PROT_WRITE)) return 5;
        memcpy(map, secret, SECRET_LENGTH);
        munmap(map, SECRET_LENGTH);
    } else if (!strcmp(mode, "proc-pwrite") || !strcmp(mode, "proc-write")) {
        char *map = map_out(PROT_READ | PROT_WRITE, NULL);
        read_secret();
        int mem = open("/proc/self/mem", O_RDWR);
        if (mem < 0 && errno == EPERM) { write_file("refused.txt", "EPERM\n", 6); return 0; }
        if (mem < 0) { perror("/proc/self/mem"); return 5; }
        ssize_t n;
        if (!strcmp(mode, "proc-pwrite")) {
            n = pwrite(mem, secret, SECRET_LENGTH, (off_t)(uintptr_t)map);
        } else {
            if (lseek(mem, (off_t)(uintptr_t)map, SEEK_SET) == (off_t)-1) return 5;
            n = write(mem, secret, SECRET_LENGTH);
        }
        if (n < 0 && errno == EPERM) { write_file("refused.txt", "EPERM\n", 6); return 0; }
        if (n != SECRET_LENGTH) { perror("/proc/self/mem"); return 6; }
        close(mem);
        munmap(map, SECRET_LENGTH);
    } else if (!strcmp(mode, "map-reader")) {
        char zeros[SECRET_LENGTH] = { 0 };
        write_file("carrier.txt", zeros, SECRET_LENGTH);
        siblings(carrier_reader, carrier_writer);
    } else if (!strcmp(mode, "anon-fork")) {
        shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) return 5;
        siblings(shared_reader, shared_writer);
    } else if (!strcmp(mode, "anon-spin")) {
        volatile long *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (counter == MAP_FAILED) return 5;
        volatile long *stop = counter + 1;
        pid_t child = fork();
        if (child == 0) {
            // pause: ~100 cycles natively, one instruction to replay.
            while (!*stop) { (*counter)++; __builtin_ia32_pause(); }
            _exit(0);
        }
        while (*counter < 1000) sched_yield();
        *stop = 1;
        wait_child(child);
        char text[32];
        int n = snprintf(text, sizeof text, "%ld\n", *counter);
        write_file("count.txt", text, (size_t)n);
    } else if (!strcmp(mode, "anon-pipe")) {
        shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        int channel[2];
        if (shared == MAP_FAILED || pipe(channel)) return 5;
        pid_t child = fork();
        if (child == 0) {
            if (read(channel[0], shared, SECRET_LENGTH) != SECRET_LENGTH) _exit(6);
            write_file("out.txt", shared, SECRET_LENGTH);
            _exit(0);
        }
        struct timespec pause = { 0, 50000000 };
        nanosleep(&pause, NULL);
        read_secret();
        if (write(channel[1], secret, SECRET_LENGTH) != SECRET_LENGTH) return 6;
        wait_child(child);
    } else if (!strcmp(mode, "sysv-fork")) {
        segment = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (segment < 0) return 5;
        shared = shmat(segment, NULL, 0);
        if (shared == (void *)-1) return 5;
        siblings(shared_reader, shared_writer);
        shmdt(shared);
        shmctl(segment, IPC_RMID, NULL);
    } else if (!strcmp(mode, "memfd-fork")) {
        memory_fd = memfd_create("magprov-shared", 0);
        if (memory_fd < 0 || ftruncate(memory_fd, 4096)) return 5;
        shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memory_fd, 0);
        if (shared == MAP_FAILED) return 5;
        siblings(shared_reader, shared_writer);
    } else if (!strcmp(mode, "vfork")) {
        // The child borrows the parent's memory until it exits: its read lands in the
        // parent's `secret`, which the parent then writes.
        pid_t child = vfork();
        if (child == 0) {
            int fd = open("secret.txt", O_RDONLY);
            if (fd < 0 || read(fd, secret, SECRET_LENGTH) != SECRET_LENGTH) _exit(2);
            _exit(0);
        }
        wait_child(child);
        write_file("out.txt", secret, SECRET_LENGTH);
    } else if (!strcmp(mode, "sysv-shm")) {
        segment = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (segment < 0) return 5;
        siblings(shm_reader, shm_writer);
        shmctl(segment, IPC_RMID, NULL);
    } else if (!strcmp(mode, "memfd")) {
        memory_fd = memfd_create("magprov-shared", 0);
        if (memory_fd < 0 || ftruncate(memory_fd, 4096)) return 5;
        siblings(memfd_reader, memfd_writer);
    } else if (!strcmp(mode, "sysv-key")) {
        segment_key = (key_t)(0x6d700000 | (getpid() & 0xffff));
        siblings(key_reader, key_writer);
        int id = shmget(segment_key, 0, 0);
        if (id >= 0) shmctl(id, IPC_RMID, NULL);
    } else if (!strcmp(mode, "file-shared")) {
        char zeros[SECRET_LENGTH] = { 0 };
        write_file("carrier.txt", zeros, SECRET_LENGTH);
        siblings(file_reader, file_writer);
    } else if (!strcmp(mode, "exec-file")) {
        char zeros[SECRET_LENGTH] = { 0 };
        write_file("carrier.txt", zeros, SECRET_LENGTH);
        exec_siblings("role-file-reader", "role-file-writer", "");
    } else if (!strcmp(mode, "role-file-reader")) {
        return file_reader();
    } else if (!strcmp(mode, "role-file-writer")) {
        read_secret();
        return file_writer();
    } else if (!strcmp(mode, "exec-sysv")) {
        char key[32];
        snprintf(key, sizeof key, "%d", 0x6d710000 | (getpid() & 0xffff));
        exec_siblings("role-key-reader", "role-key-writer", key);
        int id = shmget((key_t)atoi(key), 0, 0);
        if (id >= 0) shmctl(id, IPC_RMID, NULL);
    } else if (!strcmp(mode, "role-key-reader") || !strcmp(mode, "role-key-writer")) {
        if (argc < 3) return 1;
        segment_key = (key_t)atoi(argv[2]);
        if (!strcmp(mode, "role-key-reader")) return key_reader();
        read_secret();
        return key_writer();
    } else if (!strcmp(mode, "mprotect-shared")) {
        char zeros[SECRET_LENGTH] = { 0 };
        write_file("carrier.txt", zeros, SECRET_LENGTH);
        siblings(file_reader, mprotect_writer);
    } else if (!strcmp(mode, "memfd-scm")) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, channel)) return 5;
        siblings(scm_reader, scm_writer);
    } else if (!strcmp(mode, "vm-shared")) {
        shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) return 5;
        int go[2];
        if (pipe(go)) return 5;
        pid_t reader = fork();
        if (reader == 0) {
            // Blocked in read(2) while the bytes arrive: no user code to order them against.
            char byte;
            if (read(go[0], &byte, 1) != 1) _exit(6);
            _exit(shared_reader());
        }
        read_secret();
        struct iovec local = { secret, SECRET_LENGTH }, remote = { shared, SECRET_LENGTH };
        if (process_vm_writev(reader, &local, 1, &remote, 1, 0) != SECRET_LENGTH) { perror("process_vm_writev"); return 6; }
        if (write(go[1], "g", 1) != 1) return 6;
        wait_child(reader);
    } else if (!strcmp(mode, "proc-mem")) {
        int go[2];
        if (pipe(go)) return 5;
        pid_t reader = fork();
        if (reader == 0) {
            // Blocked in read(2) while the bytes arrive: no user code to order them against.
            char byte;
            if (read(go[0], &byte, 1) != 1) _exit(6);
            if (poll_shared(target_buffer)) _exit(7);
            write_file("out.txt", target_buffer, SECRET_LENGTH);
            _exit(0);
        }
        read_secret();
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)reader);
        int mem = open(path, O_RDWR);
        if (mem < 0 && errno == EPERM) {
            write_file("refused.txt", "EPERM\n", 6);
            kill(reader, SIGKILL);
            waitpid(reader, NULL, 0);
            return 0;
        }
        if (mem < 0) { perror(path); return 5; }
        if (pwrite(mem, secret, SECRET_LENGTH, (off_t)(uintptr_t)target_buffer) != SECRET_LENGTH) { perror(path); return 6; }
        close(mem);
        if (write(go[1], "g", 1) != 1) return 6;
        wait_child(reader);
    } else {
        fprintf(stderr, "usage: shared_memory_flows threads|map-before|map-msync|map-after|mprotect|proc-pwrite|proc-write|"
                        "map-reader|anon-fork|anon-spin|anon-pipe|sysv-fork|memfd-fork|vfork|sysv-shm|memfd|sysv-key|file-shared|"
                        "memfd-scm|vm-shared|proc-mem|exec-file|exec-sysv|mprotect-shared\n");
        return 1;
    }
    return 0;
}
