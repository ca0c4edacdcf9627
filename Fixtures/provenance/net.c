// Provenance fixture: sockets on loopback. Usage: net MODE.
// Modes build on each other: "socket" (two sockets), "bind" (+ bind 127.0.0.1:0,
// listen), "connect" (+ connect the second socket to the first), "accept" (+ accept),
// "send" (+ send "ping" from the client), "recv" (+ recv it on the server).
// "pair": a server and a forked client exchange "ping"/"pong" over TCP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *m = argv[1];
    const char *steps[] = { "socket", "bind", "connect", "accept", "send", "recv" };
    int level = -1;
    for (int i = 0; i < 6; i++) if (!strcmp(m, steps[i])) level = i;
    int pair = !strcmp(m, "pair");
    if (level < 0 && !pair) return 4;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (pair) {
        if (bind(l, (struct sockaddr *)&addr, sizeof addr) || listen(l, 1) || getsockname(l, (struct sockaddr *)&addr, &len)) return 3;
        pid_t p = fork();
        if (p == 0) {
            int c = socket(AF_INET, SOCK_STREAM, 0);
            char reply[4];
            if (connect(c, (struct sockaddr *)&addr, sizeof addr) || send(c, "ping", 4, 0) != 4) _exit(3);
            if (recv(c, reply, 4, MSG_WAITALL) != 4) _exit(4);
            _exit(0);
        }
        char buf[4];
        int a = accept(l, 0, 0);
        if (a < 0 || recv(a, buf, 4, MSG_WAITALL) != 4 || send(a, "pong", 4, 0) != 4) return 5;
        int status;
        waitpid(p, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 6;
    }
    int c = socket(AF_INET, SOCK_STREAM, 0), a = -1;
    char buf[4];
    if (level >= 1 && (bind(l, (struct sockaddr *)&addr, sizeof addr) || listen(l, 1) ||
                       getsockname(l, (struct sockaddr *)&addr, &len))) return 3;
    if (level >= 2 && connect(c, (struct sockaddr *)&addr, sizeof addr)) return 5;
    if (level >= 3 && (a = accept(l, 0, 0)) < 0) return 6;
    if (level >= 4 && send(c, "ping", 4, 0) != 4) return 7;
    if (level >= 5 && recv(a, buf, 4, 0) != 4) return 8;
    return 0;
}
