// Provenance fixture: descriptor syscalls. Usage: fd MODE DIR (DIR/in must exist).
// "control" opens DIR/in only; each other mode adds one syscall ("tee_control" is the
// control of "tee": two pipes, one byte written into the first).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *m = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/in", argv[2]);
    int in = open(path, O_RDONLY);
    if (in < 0) return 3;
    int p[2], q[2];
    if (!strcmp(m, "open")) { snprintf(path, sizeof path, "%s/other", argv[2]); open(path, O_RDONLY); }
    else if (!strcmp(m, "open_missing")) { snprintf(path, sizeof path, "%s/missing", argv[2]); if (open(path, O_RDONLY) >= 0) return 5; }
    else if (!strcmp(m, "creat")) { snprintf(path, sizeof path, "%s/new", argv[2]); creat(path, 0644); }
    else if (!strcmp(m, "close")) close(in);
    else if (!strcmp(m, "dup")) dup(in);
    else if (!strcmp(m, "dup2")) dup2(in, 10);
    else if (!strcmp(m, "dup3")) dup3(in, 11, O_CLOEXEC);
    else if (!strcmp(m, "fcntl_dupfd")) fcntl(in, F_DUPFD, 20);
    else if (!strcmp(m, "pipe")) pipe(p);
    else if (!strcmp(m, "pipe2")) pipe2(p, O_CLOEXEC);
    else if (!strcmp(m, "tee") || !strcmp(m, "tee_control")) {
        if (pipe(p) || pipe(q) || write(p[1], "x", 1) != 1) return 6;
        if (!strcmp(m, "tee") && tee(p[0], q[1], 1, 0) != 1) return 7;
    }
    else if (strcmp(m, "control")) return 4;
    return 0;
}
