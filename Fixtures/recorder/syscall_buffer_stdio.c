// Fixture for the syscall buffer's patched glibc call sites (Recorder/SyscallBufferPreload.swift):
// every call here reaches the kernel from inside glibc (stdio, opendir/readdir), never
// through the PLT, so the preload library's interposed wrappers do not see them.
//
//   syscall_buffer_stdio DIR   fread DIR/in (fopen, the stdio buffer's fstat, read),
//                              fwrite its bytes to DIR/out (a creating fopen: stops),
//                              list DIR with opendir/readdir (openat, fstat, getdents64,
//                              close), then print "BYTES ENTRIES"
#include <dirent.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/in", argv[1]);
    FILE *in = fopen(path, "r");
    if (!in) return 3;
    static char data[65536];
    size_t n = fread(data, 1, sizeof data, in);
    fclose(in);
    snprintf(path, sizeof path, "%s/out", argv[1]);
    FILE *out = fopen(path, "w");
    if (!out) return 4;
    if (fwrite(data, 1, n, out) != n) return 5;
    fclose(out);
    DIR *d = opendir(argv[1]);
    if (!d) return 6;
    int entries = 0;
    while (readdir(d)) entries++;
    closedir(d);
    printf("%zu %d\n", n, entries);
    return 0;
}
