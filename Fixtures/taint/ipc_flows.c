// IPC carriers between recorded processes (issue 10): each mode reads secret.txt in one
// process, moves its bytes through one kernel channel the syscall table must know, and
// writes what arrived to out.txt. The receiver is forked first and the sender second, as
// siblings, and the parent waits for both only at the end: no fork or wait4 edge joins the
// secret to out.txt, only the channel does.
//   vmsplice  the sender vmsplice()s the bytes into a pipe; the receiver read()s the pipe
//   vmsplice-read  the sender write()s the bytes into a pipe; the receiver vmsplice()s them
//             out of the read end into its buffer
//   msg       the sender msgsnd()s to a SysV queue; the receiver msgrcv()s
//   mq        the sender mq_send()s to a POSIX queue; the receiver mq_receive()s
//   sigqueue  the sender sigqueue()s 8 bytes to the receiver as si_value; sigwaitinfo()
//   xattr     the sender setxattr()s carrier.txt; the receiver polls getxattrat (464)
//   timer     one process arms a POSIX timer whose sigev_value holds 8 bytes; sigwaitinfo
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char secret[256];
static ssize_t secret_length;

static void read_secret(void) {
    int fd = open("secret.txt", O_RDONLY);
    if (fd < 0) { perror("secret.txt"); exit(2); }
    secret_length = read(fd, secret, sizeof secret);
    close(fd);
    if (secret_length <= 0) exit(2);
}

static void write_out(const void *bytes, size_t length) {
    int fd = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, bytes, length) != (ssize_t)length) { perror("out.txt"); exit(3); }
    close(fd);
}

static void wait_child(pid_t child) {
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) exit(4);
}

/// Runs `receive` and then `send` in two sibling processes and waits for both.
static void siblings(int (*receive)(void), int (*send)(void)) {
    pid_t receiver = fork();
    if (receiver == 0) _exit(receive());
    pid_t sender = fork();
    if (sender == 0) { read_secret(); _exit(send()); }
    wait_child(sender);
    wait_child(receiver);
}

struct message { long type; char text[256]; };
struct xattr_args { uint64_t value; uint32_t size; uint32_t flags; };

static int pipe_ends[2];
static int vmsplice_receive(void) {
    close(pipe_ends[1]);
    char buffer[256];
    ssize_t n = read(pipe_ends[0], buffer, sizeof buffer);
    if (n <= 0) return 7;
    write_out(buffer, (size_t)n);
    return 0;
}
static int vmsplice_send(void) {
    struct iovec iov = { secret, (size_t)secret_length };
    return vmsplice(pipe_ends[1], &iov, 1, 0) == secret_length ? 0 : 6;
}

static int vmsplice_read_receive(void) {
    close(pipe_ends[1]);
    char buffer[256];
    struct iovec iov = { buffer, sizeof buffer };
    ssize_t n = vmsplice(pipe_ends[0], &iov, 1, 0);
    if (n <= 0) return 7;
    write_out(buffer, (size_t)n);
    return 0;
}
static int pipe_write_send(void) {
    return write(pipe_ends[1], secret, (size_t)secret_length) == secret_length ? 0 : 6;
}

static int sysv_queue;
static int msg_receive(void) {
    struct message m;
    ssize_t n = msgrcv(sysv_queue, &m, sizeof m.text, 0, 0);
    if (n <= 0) return 7;
    write_out(m.text, (size_t)n);
    return 0;
}
static int msg_send(void) {
    struct message m = { .type = 1 };
    memcpy(m.text, secret, (size_t)secret_length);
    return msgsnd(sysv_queue, &m, (size_t)secret_length, 0) == 0 ? 0 : 6;
}

static mqd_t posix_queue;
static int mq_receive_out(void) {
    char buffer[256];
    ssize_t n = mq_receive(posix_queue, buffer, sizeof buffer, NULL);
    if (n <= 0) return 7;
    write_out(buffer, (size_t)n);
    return 0;
}
static int mq_send_secret(void) { return mq_send(posix_queue, secret, (size_t)secret_length, 1) == 0 ? 0 : 6; }

static pid_t signal_receiver;
static sigset_t usr1;
static int sigqueue_receive(void) {
    siginfo_t info;
    if (sigwaitinfo(&usr1, &info) != SIGUSR1) return 7;
    write_out(&info.si_value, sizeof info.si_value);
    return 0;
}

static int xattr_receive(void) {
    char buffer[256];
    for (int tries = 0; tries < 5000; tries++) {
        struct xattr_args args = { (uint64_t)(uintptr_t)buffer, sizeof buffer, 0 };
        long n = syscall(464 /* getxattrat */, AT_FDCWD, "carrier.txt", 0, "user.magprov", &args, sizeof args);
        if (n > 0) { write_out(buffer, (size_t)n); return 0; }
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, NULL);
    }
    return 7;
}
static int xattr_send(void) {
    return setxattr("carrier.txt", "user.magprov", secret, (size_t)secret_length, 0) == 0 ? 0 : 8;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "vmsplice")) {
        if (pipe(pipe_ends)) return 5;
        siblings(vmsplice_receive, vmsplice_send);
    } else if (!strcmp(mode, "vmsplice-read")) {
        if (pipe(pipe_ends)) return 5;
        siblings(vmsplice_read_receive, pipe_write_send);
    } else if (!strcmp(mode, "msg")) {
        sysv_queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (sysv_queue < 0) return 5;
        siblings(msg_receive, msg_send);
        msgctl(sysv_queue, IPC_RMID, NULL);
    } else if (!strcmp(mode, "mq")) {
        char name[64];
        snprintf(name, sizeof name, "/magprov-ipc-%d", (int)getpid());
        struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 256 };
        posix_queue = mq_open(name, O_CREAT | O_RDWR, 0600, &attr);
        if (posix_queue == (mqd_t)-1) return 5;
        siblings(mq_receive_out, mq_send_secret);
        mq_unlink(name);
    } else if (!strcmp(mode, "sigqueue")) {
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, NULL);
        signal_receiver = fork();
        if (signal_receiver == 0) _exit(sigqueue_receive());
        pid_t sender = fork();
        if (sender == 0) {
            read_secret();
            union sigval value;
            memcpy(&value, secret, sizeof value);
            _exit(sigqueue(signal_receiver, SIGUSR1, value) == 0 ? 0 : 6);
        }
        wait_child(sender);
        wait_child(signal_receiver);
    } else if (!strcmp(mode, "xattr")) {
        int fd = open("carrier.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return 5;
        close(fd);
        siblings(xattr_receive, xattr_send);
    } else if (!strcmp(mode, "timer")) {
        read_secret();
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN);
        sigprocmask(SIG_BLOCK, &set, NULL);
        struct sigevent event = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN };
        memcpy(&event.sigev_value, secret, sizeof event.sigev_value);
        timer_t timer;
        if (timer_create(CLOCK_MONOTONIC, &event, &timer)) return 5;
        struct itimerspec when = { .it_value = { 0, 1000000 } };
        if (timer_settime(timer, 0, &when, NULL)) return 6;
        siginfo_t info;
        if (sigwaitinfo(&set, &info) != SIGRTMIN) return 7;
        timer_delete(timer);
        write_out(&info.si_value, sizeof info.si_value);
    } else {
        fprintf(stderr, "usage: ipc_flows vmsplice|vmsplice-read|msg|mq|sigqueue|xattr|timer\n");
        return 1;
    }
    return 0;
}
