// Provenance fixture: how editors save. Usage: editor FILE
// Reads FILE, writes the new content to FILE.tmp, renames FILE.tmp over FILE.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char buf[4096], tmp[4096];
    int in = open(argv[1], O_RDONLY);
    if (in < 0) return 3;
    ssize_t n = read(in, buf, sizeof buf - 8);
    close(in);
    if (n < 0) return 4;
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || write(out, buf, n) != n || write(out, "edited\n", 7) != 7 || close(out)) return 5;
    return rename(tmp, argv[1]) == 0 ? 0 : 6;
}
