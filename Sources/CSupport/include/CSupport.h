// Non-variadic, Swift-callable wrappers over the kernel interfaces the recorder needs.
// glibc declares ptrace() and prctl() variadic, which Swift cannot call; seccomp filter
// programs and the cpuid/rdtsc instructions are macro- or asm-only. Nothing here keeps
// state; every function reports failure as -errno (negative) unless stated otherwise.
#ifndef MAGPROV_CSUPPORT_H
#define MAGPROV_CSUPPORT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/// ptrace(2) with errno folded into the result: returns the call's value, or -errno.
/// PEEK* requests return data through *peek_out instead (their -1 is valid data).
long mp_ptrace(long request, pid_t pid, uint64_t addr, uint64_t data);
long mp_ptrace_peek(long request, pid_t pid, uint64_t addr, uint64_t *peek_out);

long mp_get_regs(pid_t pid, struct user_regs_struct *regs);
long mp_set_regs(pid_t pid, const struct user_regs_struct *regs);
/// 512-byte FXSAVE area (x87, MMX, SSE state) via PTRACE_GETFPREGS.
long mp_get_fpregs(pid_t pid, struct user_fpregs_struct *fpregs);

/// PTRACE_GET_SYSCALL_INFO, flattened. op: 0 none, 1 entry, 2 exit, 3 seccomp.
typedef struct {
    uint8_t op;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t stack_pointer;
    uint64_t nr;
    uint64_t args[6];
    int64_t rval;
    uint8_t is_error;
    uint32_t ret_data;
} mp_syscall_info;
long mp_get_syscall_info(pid_t pid, mp_syscall_info *info);

/// Forks a child that moves to a process group of its own (taking the terminal's
/// foreground from the parent's group when that group had it, so that group signals from
/// the recorded tree cannot reach the recorder), stops itself (SIGSTOP) so the parent can
/// PTRACE_SEIZE it, then
/// installs the seccomp filter, turns rdtsc into SIGSEGV (PR_SET_TSC), optionally
/// disables ASLR, and execs argv[0] (PATH search). Exec failure: the child exits 127
/// after writing errno to the status pipe; *status_fd receives the pipe's read end,
/// which yields 4 bytes (errno) on exec failure and EOF on success.
/// `pass_through` lists syscall numbers the filter lets run without a stop; with
/// `use_filter` 0 no filter and no rdtsc trap are installed (lockstep single-stepping).
/// With `trusted_ip` not 0, the `trusted` syscall numbers also run without a stop when made
/// by the syscall instruction that ends at `trusted_ip` (the syscall buffer's trusted page),
/// unless argument 2 has a bit of the number's `trusted_stop_bits` entry (0: no check;
/// NULL: no checks at all).
pid_t mp_spawn_traced(const char *file, char *const argv[], char *const envp[],
                      const char *cwd, const int *pass_through, int pass_through_count,
                      uint64_t trusted_ip, const int *trusted, const uint32_t *trusted_stop_bits, int trusted_count,
                      int use_filter, int *status_fd);

/// prctl(2) with five explicit arguments; returns the call's value or -errno.
long mp_prctl(int option, uint64_t arg2, uint64_t arg3, uint64_t arg4, uint64_t arg5);

/// prlimit(2) setting one resource of another process (soft, hard); 0 or -errno.
long mp_set_rlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard);

/// Wait for any traced child (__WALL). Returns pid, 0 on WNOHANG with nothing, or -errno.
pid_t mp_wait_any(int *status, int nohang);

/// cpuid with explicit subleaf.
void mp_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
uint64_t mp_rdtsc(void);
/// XCR0 via xgetbv(0), or 0 when the OS has not enabled XSAVE (CPUID.1:ECX.OSXSAVE).
uint64_t mp_xcr0(void);
uint64_t mp_rdtscp(uint32_t *aux);
/* rdrand/rdseed (64-bit) on this CPU: returns the carry flag; *value is 0 without one. */
int mp_rdrand64(uint64_t *value);
int mp_rdseed64(uint64_t *value);

/// process_vm_readv(2) of one remote range into one local buffer; bytes read or -errno.
long mp_read_task_memory(pid_t pid, void *local, uint64_t remote, uint64_t length);

/// process_vm_writev(2) of one local buffer into one remote range; bytes written or
/// -errno. Unlike /proc/PID/mem it honours the page protections (EFAULT on read-only or
/// unmapped memory), as the task's own stores would.
long mp_write_task_memory(pid_t pid, const void *local, uint64_t remote, uint64_t length);

/// tgkill(2); returns 0 or -errno.
long mp_tgkill(pid_t tgid, pid_t tid, int sig);

/// pidfd_open(2) with no flags (the descriptor is close-on-exec); the pidfd or -errno.
int mp_pidfd_open(pid_t pid);

/// A copy of descriptor `fd` of process `pid` (pidfd_open(2) then pidfd_getfd(2)), with
/// O_CLOEXEC; the descriptor or -errno. Needs ptrace access to `pid` (a tracer has it).
int mp_copy_task_descriptor(pid_t pid, int fd);

/// The foreground process group of the terminal open as `fd` (tcgetpgrp(3) via
/// ioctl TIOCGPGRP; on a pty master, the slave's), or -errno.
int mp_terminal_foreground_group(int fd);
/// A new pseudo-terminal pair (posix_openpt, grantpt, unlockpt, then the slave opened
/// O_NOCTTY), both close-on-exec. 0 or -errno.
int mp_open_pty(int *master, int *slave);

/// Status-word decoding helpers (the W* macros).
int mp_wifexited(int s);
int mp_wexitstatus(int s);
int mp_wifsignaled(int s);
int mp_wtermsig(int s);
int mp_wifstopped(int s);
int mp_wstopsig(int s);
/// The PTRACE_EVENT_* number carried in a stop status (status >> 16).
int mp_ptrace_event(int s);

/// glibc's strerrorname_np(3): "EACCES" for EACCES; NULL for a number glibc does not name
/// (the kernel-internal 512-529 included). Declared here because Swift's Glibc module does
/// not see GNU extensions.
const char *mp_errno_name(int err);
/// glibc's sigabbrev_np(3): "SEGV" for SIGSEGV (no "SIG" prefix); NULL for an invalid number.
const char *mp_signal_abbreviation(int sig);

// MARK: Host FPU (the interpreter's microarchitecture-specific instructions)
//
// x87 transcendental instructions and the SSE reciprocal estimates are not specified to
// the bit: each CPU model computes its own result. The interpreter runs these on this
// CPU's own unit (docs/ARCHITECTURE.md, "Host FPU"). All exceptions are masked while they
// run; the host's control word, status word and MXCSR are restored afterwards.

/// The x87 register stack as FXSAVE lays it out: ST(0)..ST(7) in stack order, the
/// abridged tag word (bit r set: physical register r in use), the status word with TOP.
typedef struct {
    uint16_t control;
    uint16_t status;
    uint8_t tags;
    long double st[8];
} mp_x87_state;

/// Runs the D9 F0-FF x87 instruction whose second opcode byte is `op` (f2xm1 F0, fyl2x F1,
/// fptan F2, fpatan F3, fxtract F4, fprem1 F5, fprem F8, fyl2xp1 F9, fsqrt FA, fsincos FB,
/// frndint FC, fscale FD, fsin FE, fcos FF; any other byte runs nothing) on the host FPU
/// over `*state`, which receives the state afterwards. Costs two FXSAVE/FXRSTOR pairs.
void mp_x87_execute(uint8_t op, mp_x87_state *state);

/// One two-operand x87 operation on the host FPU under `control` (exceptions masked),
/// with ST(0) = st0 and ST(1) = st1: op 0 fadd, 1 fsub, 2 fsubr, 3 fmul, 4 fdiv, 5 fdivr
/// (`fop st(0), st(1)`, the result in *result), 6 fcom st(1), 7 fucom st(1) (*result is
/// st0). Returns the status word right after the operation: exception flags, C1 (rounded
/// up), C0/C2/C3 for the compares.
uint16_t mp_x87_binary(uint8_t op, uint16_t control, long double st0, long double st1, long double *result);

/// rcpps (square_root 0) or rsqrtps (1) of four singles on the host's SSE unit, under the
/// guest's MXCSR control bits (DAZ, FTZ, rounding); raises nothing.
void mp_sse_reciprocal_estimate(uint8_t square_root, uint32_t mxcsr, const uint32_t in[4], uint32_t out[4]);

#endif
