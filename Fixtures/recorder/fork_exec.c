// Forks three children; each execs /bin/true; the parent waits for all of them.
// Exercises: clone/fork events, exec snapshots in children, wait4 status writes.
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)0);
            _exit(127);
        }
    }
    int status, failures = 0;
    while (wait(&status) > 0) failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return failures;
}
