// Makes syscalls with the `syscall` instruction directly, bypassing libc's wrappers:
// getppid (110) and write (1) of a marker. Capture below libc must still see both.
// Built both dynamically and with -static by the tests.
static long raw_syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

int main(void) {
    static const char marker[] = "direct-syscall-marker\n";
    long ppid = raw_syscall3(110, 0, 0, 0);
    raw_syscall3(1, 1, (long)marker, sizeof marker - 1);
    return ppid > 0 ? 0 : 1;
}
