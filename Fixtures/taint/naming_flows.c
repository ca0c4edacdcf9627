// Calls that change what a name refers to (issue 10, "Naming what changed"). Separate
// processes do the reading and the renaming, so a process's own inputs cannot hide which
// object ended up under which name.
//   exchange  child 1 copies secret.txt to staged.txt, child 2 public.txt to out.txt, then
//             child 3 (which reads nothing) swaps the two names with
//             renameat2(RENAME_EXCHANGE): out.txt holds the secret, staged.txt the public text
//   tmpfile   the parent opens an O_TMPFILE in the current directory, a child writes
//             secret.txt into it, the parent publishes it as out.txt with
//             linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void copy(const char *from, int to) {
    char buffer[256];
    int fd = open(from, O_RDONLY);
    if (fd < 0) _exit(2);
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0 || write(to, buffer, (size_t)n) != n) _exit(3);
    close(fd);
}

static void copy_to(const char *from, const char *to) {
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(4);
    copy(from, fd);
    close(fd);
}

static void run_child(void (*body)(void)) {
    pid_t child = fork();
    if (child == 0) { body(); _exit(0); }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) exit(5);
}

static void stage_secret(void) { copy_to("secret.txt", "staged.txt"); }
static void write_public(void) { copy_to("public.txt", "out.txt"); }
static void exchange(void) {
    if (syscall(SYS_renameat2, AT_FDCWD, "staged.txt", AT_FDCWD, "out.txt", 2 /* RENAME_EXCHANGE */)) _exit(6);
}

static int tmpfile_fd;
static void fill_tmpfile(void) { copy("secret.txt", tmpfile_fd); }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "exchange")) {
        run_child(stage_secret);
        run_child(write_public);
        run_child(exchange);
    } else if (!strcmp(mode, "tmpfile")) {
        tmpfile_fd = open(".", O_TMPFILE | O_RDWR, 0644);
        if (tmpfile_fd < 0) { perror("O_TMPFILE"); return 7; }
        run_child(fill_tmpfile);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", tmpfile_fd);
        if (linkat(AT_FDCWD, path, AT_FDCWD, "out.txt", AT_SYMLINK_FOLLOW)) { perror("linkat"); return 8; }
    } else {
        fprintf(stderr, "usage: naming_flows exchange|tmpfile\n");
        return 1;
    }
    return 0;
}
