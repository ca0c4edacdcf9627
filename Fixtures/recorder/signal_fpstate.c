// A signal handler clobbers XMM0 and MXCSR; the kernel restores both from the signal
// frame at rt_sigreturn, so the value the program keeps live in XMM0 across the signal
// (raised with a raw tgkill syscall, so no compiler spill) must survive. Replay must
// restore the FPU state from the frame's fpstate as the kernel does.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void clobber(int sig) {
    (void)sig;
    unsigned int mxcsr = 0x7f80;  // round toward zero, all exceptions masked
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tldmxcsr %0" : : "m"(mxcsr) : "xmm0");
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = clobber;
    sigaction(SIGUSR1, &sa, 0);
    long pid = getpid(), tid = pid;
    unsigned long long kept;
    unsigned int mxcsr_after;
    __asm__ volatile(
        "movabs $0x1122334455667788, %%rax\n\t"
        "movq %%rax, %%xmm0\n\t"
        "mov $234, %%eax\n\t"          // tgkill(pid, tid, SIGUSR1)
        "mov %[pid], %%rdi\n\t"
        "mov %[tid], %%rsi\n\t"
        "mov $10, %%edx\n\t"
        "syscall\n\t"
        "movq %%xmm0, %[kept]\n\t"
        "stmxcsr %[mx]\n\t"
        : [kept] "=r"(kept), [mx] "=m"(mxcsr_after)
        : [pid] "r"(pid), [tid] "r"(tid)
        : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "xmm0", "memory");
    printf("xmm0=%llx mxcsr=%x\n", kept, mxcsr_after);
    return kept == 0x1122334455667788ULL ? 0 : 1;
}
