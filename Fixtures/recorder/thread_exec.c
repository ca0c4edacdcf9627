// A thread that is not the group leader calls execve (execve(2): the kernel destroys the
// other threads and the exec'ing thread takes the leader's tid; PTRACE_EVENT_EXEC's
// message is its former tid). The leader waits in pthread_join meanwhile. With an
// argument the program is the new image: it prints and exits.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *self;

static void *run(void *unused) {
    (void)unused;
    char *argv[] = { self, "after-exec", NULL };
    char *envp[] = { "FIXTURE=thread_exec", NULL };
    printf("thread %d exec'ing\n", (int)gettid());
    fflush(stdout);
    execve(self, argv, envp);
    perror("execve");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        printf("new image in pid %d (tid %d)\n", (int)getpid(), (int)gettid());
        return 0;
    }
    self = argv[0];
    pthread_t thread;
    pthread_create(&thread, NULL, run, NULL);
    pthread_join(thread, NULL);
    return 1;  // not reached: the exec replaces the whole process
}
