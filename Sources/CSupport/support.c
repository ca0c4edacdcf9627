// See CSupport.h. Everything here is a thin wrapper; policy lives in Swift.
#define _GNU_SOURCE
#include "CSupport.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>

#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cpuid.h>
#include <x86intrin.h>

long mp_ptrace(long request, pid_t pid, uint64_t addr, uint64_t data) {
    errno = 0;
    long r = ptrace((enum __ptrace_request)request, pid, (void *)addr, (void *)data);
    return r == -1 && errno ? -errno : r;
}

long mp_ptrace_peek(long request, pid_t pid, uint64_t addr, uint64_t *peek_out) {
    errno = 0;
    long r = ptrace((enum __ptrace_request)request, pid, (void *)addr, NULL);
    if (r == -1 && errno) return -errno;
    *peek_out = (uint64_t)r;
    return 0;
}

long mp_get_regs(pid_t pid, struct user_regs_struct *regs) {
    return mp_ptrace(PTRACE_GETREGS, pid, 0, (uint64_t)(uintptr_t)regs);
}

long mp_set_regs(pid_t pid, const struct user_regs_struct *regs) {
    return mp_ptrace(PTRACE_SETREGS, pid, 0, (uint64_t)(uintptr_t)regs);
}

long mp_get_fpregs(pid_t pid, struct user_fpregs_struct *fpregs) {
    return mp_ptrace(PTRACE_GETFPREGS, pid, 0, (uint64_t)(uintptr_t)fpregs);
}

long mp_get_syscall_info(pid_t pid, mp_syscall_info *out) {
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    long r = mp_ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, (uint64_t)(uintptr_t)&info);
    if (r < 0) return r;
    memset(out, 0, sizeof *out);
    out->op = info.op;
    out->arch = info.arch;
    out->instruction_pointer = info.instruction_pointer;
    out->stack_pointer = info.stack_pointer;
    switch (info.op) {
    case PTRACE_SYSCALL_INFO_ENTRY:
        out->nr = info.entry.nr;
        memcpy(out->args, info.entry.args, sizeof out->args);
        break;
    case PTRACE_SYSCALL_INFO_EXIT:
        out->rval = info.exit.rval;
        out->is_error = info.exit.is_error;
        break;
    case PTRACE_SYSCALL_INFO_SECCOMP:
        out->nr = info.seccomp.nr;
        memcpy(out->args, info.seccomp.args, sizeof out->args);
        out->ret_data = info.seccomp.ret_data;
        break;
    }
    return r;
}

/// The filter: syscalls of another ABI (i386 via int 0x80, x32) always stop so the
/// supervisor can see and refuse them; listed syscalls run free; when `trusted_ip` is not 0,
/// the `trusted` numbers run free too, but only when the syscall instruction is the one that
/// ends at `trusted_ip` (seccomp_data.instruction_pointer is the address after it) and, for
/// a number whose `stop_bits` entry is not 0, argument 2 has none of those bits (openat's
/// flags: O_CREAT, O_TRUNC, a write access mode stop), or, when the entry has bit 31 set
/// (`TRUSTED_ARG1_ALLOW_LIST`), the low half of argument 1 is one of the values whose bits
/// (0-30) the entry's low bits set (fcntl's F_GETFD 1 and F_GETFL 3, nothing else): the
/// syscall buffer's trusted instruction (Recorder/SyscallBuffer.swift); everything else stops.
#define TRUSTED_ARG1_ALLOW_LIST 0x80000000u

/// Instructions of one trusted number's check (see install_filter).
static int trusted_check_length(uint32_t bits) {
    if (bits & TRUSTED_ARG1_ALLOW_LIST) return 4 + __builtin_popcount(bits & ~TRUSTED_ARG1_ALLOW_LIST);
    return bits ? 5 : 2;
}

static int install_filter(const int *pass, int npass, uint64_t trusted_ip, const int *trusted,
                          const uint32_t *stop_bits, int ntrusted) {
    int n = 0;
    size_t capacity = 16 + (size_t)npass * 2;
    for (int i = 0; i < ntrusted; i++) capacity += (size_t)trusted_check_length(stop_bits ? stop_bits[i] : 0);
    struct sock_filter *prog = calloc(capacity, sizeof *prog);
    if (!prog) return -ENOMEM;
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1); // x32 bit
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    for (int i = 0; i < npass; i++) {
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)pass[i], 0, 1);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    if (trusted_ip != 0 && ntrusted > 0) {
        // The trusted block: one load of nr, then per number 2 instructions, or 5 with a
        // check of argument 2's low half.
        int block = 1;
        for (int i = 0; i < ntrusted; i++) block += trusted_check_length(stop_bits ? stop_bits[i] : 0);
        // instruction_pointer is a u64 at offset 8; classic BPF loads 32 bits at a time
        // (little-endian: the low half first).
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer));
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)trusted_ip, 0, (uint8_t)(2 + block));
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4);
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(trusted_ip >> 32), 0, (uint8_t)block);
        prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        for (int i = 0; i < ntrusted; i++) {
            if (stop_bits && (stop_bits[i] & TRUSTED_ARG1_ALLOW_LIST)) {
                // nr, then argument 1 against each allowed value: ALLOW on a match, else TRACE.
                uint32_t values = stop_bits[i] & ~TRUSTED_ARG1_ALLOW_LIST;
                int k = __builtin_popcount(values);
                prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)trusted[i], 0, (uint8_t)(k + 3));
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
                for (int v = 0, j = 0; v < 31; v++) {
                    if (!(values & (1u << v))) continue;
                    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)v, (uint8_t)(k - j), 0);
                    j++;
                }
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
            } else if (stop_bits && stop_bits[i]) {
                prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)trusted[i], 0, 4);
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2]));
                prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, stop_bits[i], 0, 1);
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
            } else {
                prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)trusted[i], 0, 1);
                prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
            }
        }
    }
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
    int e = errno;
    free(prog);
    return r < 0 ? -e : 0;
}

pid_t mp_spawn_traced(const char *file, char *const argv[], char *const envp[],
                      const char *cwd, const int *pass, int npass, uint64_t trusted_ip,
                      const int *trusted, const uint32_t *trusted_stop_bits, int ntrusted, int use_filter, int *status_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) { int e = errno; close(fds[0]); close(fds[1]); return -e; }
    if (pid == 0) {
        close(fds[0]);
        int err = 0;
        int foreground = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
        if (setpgid(0, 0) == 0 && foreground) {
            // Ctrl-C and job control now reach the command's group, not the recorder's.
            signal(SIGTTOU, SIG_IGN);
            (void)tcsetpgrp(STDIN_FILENO, getpid());
            signal(SIGTTOU, SIG_DFL);
        }
        raise(SIGSTOP); // the supervisor seizes us while we are stopped
        if (cwd && chdir(cwd) < 0) err = errno;
        if (use_filter) {
            if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) err = errno;
            if (!err && prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) < 0) err = errno;
            if (!err) { int r = install_filter(pass, npass, trusted_ip, trusted, trusted_stop_bits, ntrusted); if (r < 0) err = -r; }
        }
        if (!err) { execvpe(file, argv, envp); err = errno; }
        (void)!write(fds[1], &err, sizeof err);
        _exit(127);
    }
    close(fds[1]);
    *status_fd = fds[0];
    return pid;
}

long mp_prctl(int option, uint64_t arg2, uint64_t arg3, uint64_t arg4, uint64_t arg5) {
    long r = prctl(option, arg2, arg3, arg4, arg5);
    return r < 0 ? -errno : r;
}

long mp_set_rlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard) {
    struct rlimit limit = { .rlim_cur = soft, .rlim_max = hard };
    return prlimit(pid, resource, &limit, NULL) < 0 ? -errno : 0;
}

pid_t mp_wait_any(int *status, int nohang) {
    pid_t r = waitpid(-1, status, __WALL | (nohang ? WNOHANG : 0));
    return r < 0 ? -errno : r;
}

void mp_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
}

uint64_t mp_rdtsc(void) { return __rdtsc(); }

uint64_t mp_xcr0(void) {
    uint32_t a, b, c, d;
    __cpuid(1, a, b, c, d);
    if (!(c & (1u << 27))) return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
uint64_t mp_rdtscp(uint32_t *aux) { unsigned int a; uint64_t v = __rdtscp(&a); *aux = a; return v; }

/* rdrand/rdseed on the recorder's CPU for a tracee's rewritten instruction: the carry flag
   (1: a value) is the result, the value goes to *value (0 when the carry is clear). */
int mp_rdrand64(uint64_t *value) {
    unsigned char ok; uint64_t v;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
    *value = ok ? v : 0;
    return ok;
}
int mp_rdseed64(uint64_t *value) {
    unsigned char ok; uint64_t v;
    __asm__ volatile("rdseed %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
    *value = ok ? v : 0;
    return ok;
}

long mp_read_task_memory(pid_t pid, void *local, uint64_t remote, uint64_t length) {
    struct iovec l = { local, length }, r = { (void *)remote, length };
    ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
    return n < 0 ? -errno : n;
}

long mp_tgkill(pid_t tgid, pid_t tid, int sig) {
    long r = syscall(SYS_tgkill, tgid, tid, sig);
    return r < 0 ? -errno : r;
}

int mp_pidfd_open(pid_t pid) {
    long r = syscall(SYS_pidfd_open, pid, 0);
    return r < 0 ? -errno : (int)r;
}

int mp_copy_task_descriptor(pid_t pid, int fd) {
    // PIDFD_THREAD (O_EXCL, Linux 6.9): a pidfd of this very thread, whose descriptor table
    // pidfd_getfd then reads (a thread may have its own: clone without CLONE_FILES); plain
    // pidfd_open refuses a thread that is not its group's leader. Older kernels: the group.
    long r = syscall(SYS_pidfd_open, pid, O_EXCL);
    if (r < 0 && errno == EINVAL) r = syscall(SYS_pidfd_open, pid, 0);
    if (r < 0) return -errno;
    int pidfd = (int)r;
    long copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    int e = errno;
    close(pidfd);
    return copy < 0 ? -e : (int)copy;
}

int mp_open_pty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    char *name = (grantpt(m) == 0 && unlockpt(m) == 0) ? ptsname(m) : NULL;
    int s = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    if (s < 0) { int e = errno; close(m); return -e; }
    *master = m;
    *slave = s;
    return 0;
}

int mp_terminal_foreground_group(int fd) {
    pid_t group = 0;
    return ioctl(fd, TIOCGPGRP, &group) < 0 ? -errno : group;
}

int mp_wifexited(int s) { return WIFEXITED(s); }
int mp_wexitstatus(int s) { return WEXITSTATUS(s); }
int mp_wifsignaled(int s) { return WIFSIGNALED(s); }
int mp_wtermsig(int s) { return WTERMSIG(s); }
int mp_wifstopped(int s) { return WIFSTOPPED(s); }
int mp_wstopsig(int s) { return WSTOPSIG(s); }
int mp_ptrace_event(int s) { return (s >> 16) & 0xff; }

const char *mp_errno_name(int err) { return strerrorname_np(err); }

const char *mp_signal_abbreviation(int sig) { return sigabbrev_np(sig); }

long mp_write_task_memory(pid_t pid, const void *local, uint64_t remote, uint64_t length) {
    struct iovec l = { (void *)local, length }, r = { (void *)remote, length };
    ssize_t n = process_vm_writev(pid, &l, 1, &r, 1, 0);
    return n < 0 ? -errno : n;
}
