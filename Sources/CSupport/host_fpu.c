// See CSupport.h, "Host FPU". Each function runs one fixed instruction on this CPU's FPU
// over state the caller supplies, then puts the host's own FPU state back. The compiler
// keeps nothing in x87 registers across a call (SysV ABI: the stack is empty at calls),
// and FXSAVE/FXRSTOR cover the control word, status word, tags and MXCSR.
#include "CSupport.h"

#include <string.h>

// FXSAVE layout (SDM Vol. 1, Table 10-2): FCW at 0, FSW at 2, abridged FTW at 4,
// MXCSR at 24, ST(i) at 32 + 16 i.
enum { FCW = 0, FSW = 2, FTW = 4, REGS = 32 };

void mp_x87_execute(uint8_t op, mp_x87_state *state) {
    uint8_t host[512] __attribute__((aligned(16)));
    uint8_t work[512] __attribute__((aligned(16)));
    __asm__ volatile("fxsave64 %0" : "=m"(host));
    memcpy(work, host, sizeof work);
    // All exceptions masked: the interpreter models the masked responses only.
    uint16_t cw = state->control | 0x3F;
    uint16_t sw = state->status & (uint16_t)~0x8080;  // no pending-exception summary
    memcpy(work + FCW, &cw, 2);
    memcpy(work + FSW, &sw, 2);
    work[FTW] = state->tags;
    for (int i = 0; i < 8; i++) {
        memset(work + REGS + 16 * i, 0, 16);
        memcpy(work + REGS + 16 * i, &state->st[i], 10);
    }
    __asm__ volatile("fxrstor64 %0" : : "m"(work));
    switch (op) {
    case 0xF0: __asm__ volatile("f2xm1"); break;
    case 0xF1: __asm__ volatile("fyl2x"); break;
    case 0xF2: __asm__ volatile("fptan"); break;
    case 0xF3: __asm__ volatile("fpatan"); break;
    case 0xF4: __asm__ volatile("fxtract"); break;
    case 0xF5: __asm__ volatile("fprem1"); break;
    case 0xF8: __asm__ volatile("fprem"); break;
    case 0xF9: __asm__ volatile("fyl2xp1"); break;
    case 0xFA: __asm__ volatile("fsqrt"); break;
    case 0xFB: __asm__ volatile("fsincos"); break;
    case 0xFC: __asm__ volatile("frndint"); break;
    case 0xFD: __asm__ volatile("fscale"); break;
    case 0xFE: __asm__ volatile("fsin"); break;
    case 0xFF: __asm__ volatile("fcos"); break;
    default: break;
    }
    __asm__ volatile("fxsave64 %0" : "=m"(work));
    __asm__ volatile("fxrstor64 %0" : : "m"(host));
    memcpy(&state->status, work + FSW, 2);
    state->tags = work[FTW];
    for (int i = 0; i < 8; i++) memcpy(&state->st[i], work + REGS + 16 * i, 10);
}

uint16_t mp_x87_binary(uint8_t op, uint16_t control, long double st0, long double st1, long double *result) {
    uint16_t saved, sw;
    uint16_t cw = control | 0x3F;
    long double r;
    __asm__ volatile("fnstcw %0" : "=m"(saved));
    __asm__ volatile("fldcw %0\n\tfnclex" : : "m"(cw));
    // fld of an 80-bit value raises nothing (no IE for an sNaN, no DE): the flags are the
    // operation's alone.
    switch (op) {
    case 0: __asm__ volatile("fldt %2\n\tfldt %3\n\tfadd %%st(1), %%st\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    case 1: __asm__ volatile("fldt %2\n\tfldt %3\n\tfsub %%st(1), %%st\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    case 2: __asm__ volatile("fldt %2\n\tfldt %3\n\tfsubr %%st(1), %%st\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    case 3: __asm__ volatile("fldt %2\n\tfldt %3\n\tfmul %%st(1), %%st\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    case 4: __asm__ volatile("fldt %2\n\tfldt %3\n\tfdiv %%st(1), %%st\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    case 5: __asm__ volatile("fldt %2\n\tfldt %3\n\tfdivr %%st(1), %%st\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    case 6: __asm__ volatile("fldt %2\n\tfldt %3\n\tfcom %%st(1)\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    default: __asm__ volatile("fldt %2\n\tfldt %3\n\tfucom %%st(1)\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r), "=m"(sw) : "m"(st1), "m"(st0)); break;
    }
    __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(saved));
    *result = r;
    return sw;
}

void mp_sse_reciprocal_estimate(uint8_t square_root, uint32_t mxcsr, const uint32_t in[4], uint32_t out[4]) {
    uint32_t saved;
    uint32_t guest = (mxcsr & 0xFFC0) | 0x1F80;  // guest DAZ/FTZ/RC, exceptions masked, no flags
    __asm__ volatile("stmxcsr %0" : "=m"(saved));
    __asm__ volatile("ldmxcsr %0" : : "m"(guest));
    if (square_root)
        __asm__ volatile("movups %1, %%xmm0\n\trsqrtps %%xmm0, %%xmm0\n\tmovups %%xmm0, %0" : "=m"(*(uint32_t(*)[4])out) : "m"(*(const uint32_t(*)[4])in) : "xmm0");
    else
        __asm__ volatile("movups %1, %%xmm0\n\trcpps %%xmm0, %%xmm0\n\tmovups %%xmm0, %0" : "=m"(*(uint32_t(*)[4])out) : "m"(*(const uint32_t(*)[4])in) : "xmm0");
    __asm__ volatile("ldmxcsr %0" : : "m"(saved));
}
