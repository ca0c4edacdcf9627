// A recorded program with a seccomp filter of its own (issue 11, part 1). Installed with
// seccomp(2), the filter answers getppid with ERRNO(77), uname with TRAP (data 5), writes
// to fd 99 with USER_NOTIF and allows everything else; a forked child inherits it. With
// argument "kill" it instead installs (through prctl) a filter that kills the process on
// getpid. Exits 0 when every answer is the one the kernel would have given.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int trapped_code, trapped_syscall, trapped_errno;

static void on_sigsys(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)context;
    trapped_code = info->si_code;
    trapped_syscall = info->si_syscall;
    trapped_errno = info->si_errno;
}

#define ANSWER(nr, action) \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (action))

int main(int argc, char **argv) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        struct sock_filter kill_getpid[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            ANSWER(SYS_getpid, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog program = { sizeof kill_getpid / sizeof kill_getpid[0], kill_getpid };
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) return 10;
        syscall(SYS_getpid);
        return 11;  // not reached: the filter kills the process
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigsys;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &action, NULL);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        ANSWER(SYS_getppid, SECCOMP_RET_ERRNO | 77),
        ANSWER(SYS_uname, SECCOMP_RET_TRAP | 5),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 99, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = { sizeof filter / sizeof filter[0], filter };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) return 20;

    if (syscall(SYS_getppid) != -1 || errno != 77) return 21;
    struct utsname name;
    long r = syscall(SYS_uname, &name);
    if (r != SYS_uname) return 22;  // the kernel's rollback leaves the syscall number
    if (trapped_code != 1 /* SYS_SECCOMP */ || trapped_syscall != SYS_uname || trapped_errno != 5) return 23;
    if (write(99, "x", 1) != -1 || errno != ENOSYS) return 24;
    pid_t child = fork();
    if (child == 0) _exit(syscall(SYS_getppid) == -1 && errno == 77 ? 0 : 1);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 25;
    static const char marker[] = "seccomp-filter-done\n";
    if (write(1, marker, sizeof marker - 1) != sizeof marker - 1) return 26;
    return 0;
}
