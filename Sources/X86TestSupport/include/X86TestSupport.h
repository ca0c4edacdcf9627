// Native execution of x86-64 code snippets for differential tests of the X86 interpreter.
#ifndef X86_TEST_SUPPORT_H
#define X86_TEST_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// Register image loaded before and saved after a snippet. Layout is fixed: the
/// trampoline in support.c addresses fields by offset.
typedef struct x86ts_state {
    uint64_t gpr[16];   // rax rcx rdx rbx rsp rbp rsi rdi r8..r15   (offset 0)
    uint64_t rflags;    // offset 128
    uint64_t reserved;  // offset 136
    uint64_t xmm[32];   // offset 144: xmm0.lo xmm0.hi xmm1.lo ...
    uint32_t mxcsr;     // offset 400
    uint16_t fcw;       // offset 404
    uint16_t padding;
    uint32_t avx;       // offset 408: nonzero = load and save the upper YMM halves too
    uint32_t padding2;
    uint64_t ymmh[32];  // offset 416: ymm0 bits 191:128, 255:192, ymm1 ... (AVX CPUs only)
} x86ts_state;

/// Maps `length` bytes read/write/execute at exactly `address` (MAP_FIXED_NOREPLACE),
/// or returns NULL. Already-mapped-by-us is fine (returns address).
void *x86ts_map_fixed(uint64_t address, size_t length);

/// Copies `code` to `code_address` (which must be mapped by x86ts_map_fixed), appends a
/// jump back to the trampoline, loads `state`, runs the code and saves the registers
/// into `state`. The code must fall through its end; it must not fault.
void x86ts_run(x86ts_state *state, uint64_t code_address, const uint8_t *code, size_t length);

/// CPUID of the CPU the tests run on: out = eax, ebx, ecx, edx.
void x86ts_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/// FS base of the calling thread (arch_prctl ARCH_GET_FS): segment-override tests give
/// the interpreter the same base so `fs:` operands address the same bytes.
uint64_t x86ts_fs_base(void);

#endif
