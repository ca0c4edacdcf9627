// IPC carriers between recorded processes (issue 10): each mode reads secret.txt in one
// process, moves its bytes through one kernel channel the syscall table must know, and
// writes what arrived to out.txt. The receiving side runs after the sender exited
// (wait4), so the graph's order is the kernel's.
//   vmsplice  child vmsplice()s the bytes into a pipe; the parent reads the pipe
//   msg       child msgsnd()s to a SysV queue; the parent msgrcv()s
//   mq        child mq_send()s to a POSIX queue; the parent mq_receive()s
//   sigqueue  child sigqueue()s 8 bytes to the parent as si_value; the parent sigwaitinfo()s
//   xattr     child setxattr()s carrier.txt; the parent reads it back with getxattrat (464)
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

struct message { long type; char text[256]; };
struct xattr_args { uint64_t value; uint32_t size; uint32_t flags; };

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    char buffer[256];
    if (!strcmp(mode, "vmsplice")) {
        int p[2];
        if (pipe(p)) return 5;
        pid_t child = fork();
        if (child == 0) {
            read_secret();
            struct iovec iov = { secret, (size_t)secret_length };
            _exit(vmsplice(p[1], &iov, 1, 0) == secret_length ? 0 : 6);
        }
        close(p[1]);
        wait_child(child);
        ssize_t n = read(p[0], buffer, sizeof buffer);
        if (n <= 0) return 7;
        write_out(buffer, (size_t)n);
    } else if (!strcmp(mode, "msg")) {
        int queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (queue < 0) return 5;
        pid_t child = fork();
        if (child == 0) {
            read_secret();
            struct message m = { .type = 1 };
            memcpy(m.text, secret, (size_t)secret_length);
            _exit(msgsnd(queue, &m, (size_t)secret_length, 0) == 0 ? 0 : 6);
        }
        wait_child(child);
        struct message m;
        ssize_t n = msgrcv(queue, &m, sizeof m.text, 0, 0);
        msgctl(queue, IPC_RMID, NULL);
        if (n <= 0) return 7;
        write_out(m.text, (size_t)n);
    } else if (!strcmp(mode, "mq")) {
        char name[64];
        snprintf(name, sizeof name, "/magprov-ipc-%d", (int)getpid());
        struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 256 };
        mqd_t queue = mq_open(name, O_CREAT | O_RDWR, 0600, &attr);
        if (queue == (mqd_t)-1) return 5;
        pid_t child = fork();
        if (child == 0) {
            read_secret();
            _exit(mq_send(queue, secret, (size_t)secret_length, 1) == 0 ? 0 : 6);
        }
        wait_child(child);
        ssize_t n = mq_receive(queue, buffer, sizeof buffer, NULL);
        mq_unlink(name);
        if (n <= 0) return 7;
        write_out(buffer, (size_t)n);
    } else if (!strcmp(mode, "sigqueue")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        pid_t parent = getpid();
        pid_t child = fork();
        if (child == 0) {
            read_secret();
            union sigval value;
            memcpy(&value, secret, sizeof value);
            _exit(sigqueue(parent, SIGUSR1, value) == 0 ? 0 : 6);
        }
        wait_child(child);
        siginfo_t info;
        if (sigwaitinfo(&set, &info) != SIGUSR1) return 7;
        write_out(&info.si_value, sizeof info.si_value);
    } else if (!strcmp(mode, "xattr")) {
        write_out("", 0);
        int fd = open("carrier.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return 5;
        close(fd);
        pid_t child = fork();
        if (child == 0) {
            read_secret();
            _exit(setxattr("carrier.txt", "user.magprov", secret, (size_t)secret_length, 0) == 0 ? 0 : 8);
        }
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return 4;
        if (WEXITSTATUS(status) == 8) return 8;  // no user xattrs on this file system
        if (WEXITSTATUS(status) != 0) return 4;
        struct xattr_args args = { (uint64_t)(uintptr_t)buffer, sizeof buffer, 0 };
        long n = syscall(464 /* getxattrat */, AT_FDCWD, "carrier.txt", 0, "user.magprov", &args, sizeof args);
        if (n <= 0) return 7;
        write_out(buffer, (size_t)n);
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
        fprintf(stderr, "usage: ipc_flows vmsplice|msg|mq|sigqueue|xattr|timer\n");
        return 1;
    }
    return 0;
}
