// A recorded program signals the recorder through its terminal (issue 11, part 1):
// argv[1] is a pty master whose slave's foreground process group is the recorder's;
// ioctl(TIOCSIG) on it would send SIGTERM to that group, the recorder included. The
// supervisor must refuse it (EPERM). Exits 0 when refused, 1 when the ioctl went through
// (if the recorder survives to say so), 2 on another error.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#ifndef TIOCSIG
#define TIOCSIG 0x40045436
#endif

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (ioctl(atoi(argv[1]), TIOCSIG, SIGTERM) == 0) return 1;
    return errno == EPERM ? 0 : 2;
}
