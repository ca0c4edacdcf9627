// Provenance fixture: names and metadata. Usage: names MODE DIR.
// "control" creates DIR/a (open O_CREAT, write one byte) and keeps it open; each other
// mode adds one syscall on it.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *m = argv[1], *d = argv[2];
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/a", d);
    int fd = open(a, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0 || write(fd, "x", 1) != 1) return 3;
    int r = 0;
    if (!strcmp(m, "rename")) { snprintf(b, sizeof b, "%s/b", d); r = rename(a, b); }
    else if (!strcmp(m, "renameat")) { snprintf(b, sizeof b, "%s/b", d); r = renameat(AT_FDCWD, a, AT_FDCWD, b); }
    else if (!strcmp(m, "rename_missing")) { snprintf(a, sizeof a, "%s/missing", d); snprintf(b, sizeof b, "%s/b", d); r = rename(a, b) == 0 ? -1 : 0; }
    else if (!strcmp(m, "link")) { snprintf(b, sizeof b, "%s/l", d); r = link(a, b); }
    else if (!strcmp(m, "linkat")) { snprintf(b, sizeof b, "%s/l", d); r = linkat(AT_FDCWD, a, AT_FDCWD, b, 0); }
    else if (!strcmp(m, "symlink")) { snprintf(b, sizeof b, "%s/s", d); r = symlink(a, b); }
    else if (!strcmp(m, "symlinkat")) { snprintf(b, sizeof b, "%s/s", d); r = symlinkat(a, AT_FDCWD, b); }
    else if (!strcmp(m, "unlink")) r = unlink(a);
    else if (!strcmp(m, "unlinkat")) r = unlinkat(AT_FDCWD, a, 0);
    else if (!strcmp(m, "mknod")) { snprintf(b, sizeof b, "%s/fifo", d); r = mknod(b, S_IFIFO | 0644, 0); }
    else if (!strcmp(m, "mknodat")) { snprintf(b, sizeof b, "%s/fifo", d); r = mknodat(AT_FDCWD, b, S_IFIFO | 0644, 0); }
    else if (!strcmp(m, "chmod")) r = chmod(a, 0600);
    else if (!strcmp(m, "fchmod")) r = fchmod(fd, 0600);
    else if (!strcmp(m, "fchmodat")) r = fchmodat(AT_FDCWD, a, 0600, 0);
    else if (!strcmp(m, "chown")) r = chown(a, 0, 0);
    else if (!strcmp(m, "fchown")) r = fchown(fd, 0, 0);
    else if (!strcmp(m, "fchownat")) r = fchownat(AT_FDCWD, a, 0, 0, 0);
    else if (!strcmp(m, "truncate")) r = truncate(a, 0);
    else if (!strcmp(m, "ftruncate")) r = ftruncate(fd, 0);
    else if (strcmp(m, "control")) return 4;
    return r == 0 ? 0 : 5;
}
