// Provenance fixture: processes. Usage: proc MODE.
// "control" does nothing; "fork", "vfork", "thread", "exec" add one process operation;
// "kill" and "kill_control" fork a child that exits and wait for it, "kill" signals it
// first; "vm_write" and "vm_control" fork a child that waits to be killed, "vm_write"
// writes into its memory first; "setuid"/"setgid" change identity.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int shared_word;
static void *thread_body(void *arg) { return arg; }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *m = argv[1];
    if (!strcmp(m, "fork")) { pid_t p = fork(); if (p == 0) _exit(0); waitpid(p, 0, 0); }
    else if (!strcmp(m, "vfork")) { pid_t p = vfork(); if (p == 0) _exit(0); waitpid(p, 0, 0); }
    else if (!strcmp(m, "thread")) { pthread_t t; pthread_create(&t, 0, thread_body, 0); pthread_join(t, 0); }
    else if (!strcmp(m, "exec")) { execl("/bin/true", "true", (char *)0); return 6; }
    else if (!strcmp(m, "kill") || !strcmp(m, "kill_control")) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        if (!strcmp(m, "kill") && kill(p, SIGCONT) != 0) return 5;
        waitpid(p, 0, 0);
    }
    else if (!strcmp(m, "vm_write") || !strcmp(m, "vm_control")) {
        pid_t p = fork();
        if (p == 0) { for (;;) pause(); }
        if (!strcmp(m, "vm_write")) {
            int v = 7;
            struct iovec local = { &v, sizeof v }, remote = { (void *)&shared_word, sizeof v };
            if (process_vm_writev(p, &local, 1, &remote, 1, 0) != sizeof v) return 5;
        }
        kill(p, SIGKILL);
        waitpid(p, 0, 0);
    }
    else if (!strcmp(m, "setuid")) { if (setuid(65534)) return 5; }
    else if (!strcmp(m, "setgid")) { if (setgid(65534)) return 5; }
    else if (strcmp(m, "control")) return 4;
    return 0;
}
