// A recorded program that attacks its recorder (issue 11, part 1): it signals the
// recorder (SIGUSR1 by pid; signal 0 by group and to everyone, so a broken guard cannot
// take the test run down), prlimits, ptraces and reads the recorder's memory, opens its
// /proc entries, routes SIGIO to it, joins its process group, makes itself non-dumpable,
// and rewrites, deletes and renames the trace (argv[1], the trace directory). With argv[2],
// a pidfd of the recorder it inherited (as if passed by a process outside the recording),
// it signals through it and steals a descriptor; with argv[3], the tid of another thread of
// the recorder, it signals that thread by tid; and it types into the terminal (TIOCSTI).
// It also asks for new namespaces (unshare, clone, clone3 with CLONE_NEW*) and enters one
// (setns): magprov refuses those rather than resolve paths and pids in the wrong one.
// Every attack must fail with EPERM; the program exits 0 only if all did, and prints the
// first one that did not.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void expect_eperm(const char *what, long r) {
    if (r == -1 && errno == EPERM) return;
    printf("attack succeeded or failed otherwise: %s (r=%ld errno=%d)\n", what, r, errno);
    failures++;
}

/* ptrace is refused for every target by the syscall table (ENOSYS: magprov cannot record
   a tracer), before the recorder's own guard would answer EPERM. */
static void expect_refused(const char *what, long r) {
    if (r == -1 && (errno == EPERM || errno == ENOSYS)) return;
    printf("attack succeeded or failed otherwise: %s (r=%ld errno=%d)\n", what, r, errno);
    failures++;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *trace = argv[1];
    pid_t recorder = getppid();
    pid_t group = getpgid(recorder);
    char path[4096];

    expect_eperm("kill(recorder, SIGUSR1)", kill(recorder, SIGUSR1));
    expect_eperm("kill(-recorder group, 0)", kill(-group, 0));
    expect_eperm("kill(-1, 0)", kill(-1, 0));
    expect_eperm("tgkill(recorder)", syscall(SYS_tgkill, recorder, recorder, SIGUSR1));
    expect_eperm("pidfd_open(recorder)", syscall(SYS_pidfd_open, recorder, 0));
    struct rlimit low = { 12, 12 };
    expect_eperm("prlimit(recorder)", prlimit(recorder, RLIMIT_NOFILE, &low, NULL));
    expect_refused("ptrace(SEIZE, recorder)", ptrace(PTRACE_SEIZE, recorder, 0, 0));
    char buffer[16];
    struct iovec local = { buffer, sizeof buffer }, remote = { (void *)0x400000, sizeof buffer };
    expect_eperm("process_vm_readv(recorder)", process_vm_readv(recorder, &local, 1, &remote, 1, 0));
    snprintf(path, sizeof path, "/proc/%d/cmdline", recorder);
    expect_eperm("open /proc/recorder/cmdline", open(path, O_RDONLY));
    snprintf(path, sizeof path, "/proc/%d/mem", recorder);
    expect_eperm("open /proc/recorder/mem", open(path, O_RDWR));
    int pipes[2];
    if (pipe(pipes) == 0) expect_eperm("fcntl(F_SETOWN, recorder)", fcntl(pipes[0], F_SETOWN, recorder));
    expect_eperm("setpgid(0, recorder group)", setpgid(0, group));
    expect_eperm("prctl(PR_SET_DUMPABLE, 0)", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    expect_eperm("rt_sigqueueinfo(recorder)", syscall(SYS_rt_sigqueueinfo, recorder, 0, &info));
    expect_eperm("ioctl(0, TIOCSTI)", ioctl(0, TIOCSTI, "x"));
    expect_eperm("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
    expect_eperm("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
    long child = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (child == 0) _exit(0);
    if (child > 0) waitpid((pid_t)child, NULL, 0);
    expect_eperm("clone(CLONE_NEWPID)", child);
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWNET;
    args.exit_signal = SIGCHLD;
    child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0) _exit(0);
    if (child > 0) waitpid((pid_t)child, NULL, 0);
    expect_eperm("clone3(CLONE_NEWNET)", child);
    int ns = open("/proc/self/ns/uts", O_RDONLY);
    expect_eperm("setns(own uts namespace)", setns(ns, 0));
    if (argc > 2) {
        int pidfd = atoi(argv[2]);
        expect_eperm("pidfd_send_signal(recorder, 0)", syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0));
        expect_eperm("pidfd_getfd(recorder, 0)", syscall(SYS_pidfd_getfd, pidfd, 0, 0));
    }
    if (argc > 3) {
        pid_t thread = atoi(argv[3]);
        expect_eperm("tkill(recorder thread, 0)", syscall(SYS_tkill, thread, 0));
        expect_eperm("tgkill(recorder, recorder thread, 0)", syscall(SYS_tgkill, recorder, thread, 0));
        expect_eperm("rt_tgsigqueueinfo(recorder thread)", syscall(SYS_rt_tgsigqueueinfo, recorder, thread, 0, &info));
    }

    snprintf(path, sizeof path, "%s/header.json", trace);
    expect_eperm("open header.json for writing", open(path, O_WRONLY | O_TRUNC));
    expect_eperm("unlink header.json", unlink(path));
    expect_eperm("rename onto header.json", rename("/nonexistent-magprov-source", path));
    snprintf(path, sizeof path, "%s.moved", trace);
    expect_eperm("rename the trace directory", rename(trace, path));

    // /proc/self is the program itself: allowed.
    int self = open("/proc/self/status", O_RDONLY);
    if (self < 0) { printf("open /proc/self/status failed: %d\n", errno); failures++; }
    printf("attacks refused: %s\n", failures ? "no" : "all");
    return failures ? 1 : 0;
}
