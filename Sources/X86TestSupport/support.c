// Trampoline: load a register image, run a snippet natively, save the registers.
// Statics hold the host stack pointer and the state pointer while guest registers are live.
#define _GNU_SOURCE
#include "X86TestSupport.h"
#include <string.h>
#include <sys/mman.h>
#include <cpuid.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

void x86ts_enter(x86ts_state *state, uint64_t code);
void x86ts_exit(void);

__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl x86ts_enter\n"
    ".hidden x86ts_enter\n"
    "x86ts_enter:\n"
    "  push %rbp\n push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, x86ts_host_rsp(%rip)\n"
    "  mov %rdi, x86ts_state_ptr(%rip)\n"
    "  mov %rsi, x86ts_code_ptr(%rip)\n"
    "  stmxcsr x86ts_host_mxcsr(%rip)\n"
    "  fnstcw x86ts_host_fcw(%rip)\n"
    "  movdqu 144(%rdi), %xmm0\n  movdqu 160(%rdi), %xmm1\n  movdqu 176(%rdi), %xmm2\n  movdqu 192(%rdi), %xmm3\n"
    "  movdqu 208(%rdi), %xmm4\n  movdqu 224(%rdi), %xmm5\n  movdqu 240(%rdi), %xmm6\n  movdqu 256(%rdi), %xmm7\n"
    "  movdqu 272(%rdi), %xmm8\n  movdqu 288(%rdi), %xmm9\n  movdqu 304(%rdi), %xmm10\n movdqu 320(%rdi), %xmm11\n"
    "  movdqu 336(%rdi), %xmm12\n movdqu 352(%rdi), %xmm13\n movdqu 368(%rdi), %xmm14\n movdqu 384(%rdi), %xmm15\n"
    "  cmpl $0, 408(%rdi)\n"
    "  je 1f\n"
    "  vinserti128 $1, 416(%rdi), %ymm0, %ymm0\n"
    "  vinserti128 $1, 432(%rdi), %ymm1, %ymm1\n"
    "  vinserti128 $1, 448(%rdi), %ymm2, %ymm2\n"
    "  vinserti128 $1, 464(%rdi), %ymm3, %ymm3\n"
    "  vinserti128 $1, 480(%rdi), %ymm4, %ymm4\n"
    "  vinserti128 $1, 496(%rdi), %ymm5, %ymm5\n"
    "  vinserti128 $1, 512(%rdi), %ymm6, %ymm6\n"
    "  vinserti128 $1, 528(%rdi), %ymm7, %ymm7\n"
    "  vinserti128 $1, 544(%rdi), %ymm8, %ymm8\n"
    "  vinserti128 $1, 560(%rdi), %ymm9, %ymm9\n"
    "  vinserti128 $1, 576(%rdi), %ymm10, %ymm10\n"
    "  vinserti128 $1, 592(%rdi), %ymm11, %ymm11\n"
    "  vinserti128 $1, 608(%rdi), %ymm12, %ymm12\n"
    "  vinserti128 $1, 624(%rdi), %ymm13, %ymm13\n"
    "  vinserti128 $1, 640(%rdi), %ymm14, %ymm14\n"
    "  vinserti128 $1, 656(%rdi), %ymm15, %ymm15\n"
    "1:\n"
    "  ldmxcsr 400(%rdi)\n"
    "  fninit\n"
    "  fldcw 404(%rdi)\n"
    // RFLAGS goes just below the guest stack pointer and is popped last.
    "  mov 32(%rdi), %rax\n"
    "  mov 128(%rdi), %rcx\n"
    "  mov %rcx, -8(%rax)\n"
    "  mov 56(%rdi), %rcx\n"
    "  mov %rcx, x86ts_guest_rdi(%rip)\n"
    "  mov 0(%rdi), %rax\n mov 8(%rdi), %rcx\n mov 16(%rdi), %rdx\n mov 24(%rdi), %rbx\n"
    "  mov 40(%rdi), %rbp\n mov 48(%rdi), %rsi\n"
    "  mov 64(%rdi), %r8\n mov 72(%rdi), %r9\n mov 80(%rdi), %r10\n mov 88(%rdi), %r11\n"
    "  mov 96(%rdi), %r12\n mov 104(%rdi), %r13\n mov 112(%rdi), %r14\n mov 120(%rdi), %r15\n"
    "  mov 32(%rdi), %rsp\n"
    "  lea -8(%rsp), %rsp\n"
    "  popfq\n"
    "  mov x86ts_guest_rdi(%rip), %rdi\n"
    "  jmp *x86ts_code_ptr(%rip)\n"
    "\n"
    ".p2align 4\n"
    ".globl x86ts_exit\n"
    ".hidden x86ts_exit\n"
    "x86ts_exit:\n"
    "  mov %rdi, x86ts_guest_rdi(%rip)\n"
    "  mov x86ts_state_ptr(%rip), %rdi\n"
    "  mov %rax, 0(%rdi)\n mov %rcx, 8(%rdi)\n mov %rdx, 16(%rdi)\n mov %rbx, 24(%rdi)\n"
    "  mov %rsp, 32(%rdi)\n mov %rbp, 40(%rdi)\n mov %rsi, 48(%rdi)\n"
    "  mov %r8, 64(%rdi)\n mov %r9, 72(%rdi)\n mov %r10, 80(%rdi)\n mov %r11, 88(%rdi)\n"
    "  mov %r12, 96(%rdi)\n mov %r13, 104(%rdi)\n mov %r14, 112(%rdi)\n mov %r15, 120(%rdi)\n"
    "  pushfq\n"
    "  pop %rax\n"
    "  mov %rax, 128(%rdi)\n"
    "  mov x86ts_guest_rdi(%rip), %rax\n"
    "  mov %rax, 56(%rdi)\n"
    "  movdqu %xmm0, 144(%rdi)\n  movdqu %xmm1, 160(%rdi)\n  movdqu %xmm2, 176(%rdi)\n  movdqu %xmm3, 192(%rdi)\n"
    "  movdqu %xmm4, 208(%rdi)\n  movdqu %xmm5, 224(%rdi)\n  movdqu %xmm6, 240(%rdi)\n  movdqu %xmm7, 256(%rdi)\n"
    "  movdqu %xmm8, 272(%rdi)\n  movdqu %xmm9, 288(%rdi)\n  movdqu %xmm10, 304(%rdi)\n movdqu %xmm11, 320(%rdi)\n"
    "  movdqu %xmm12, 336(%rdi)\n movdqu %xmm13, 352(%rdi)\n movdqu %xmm14, 368(%rdi)\n movdqu %xmm15, 384(%rdi)\n"
    "  cmpl $0, 408(%rdi)\n"
    "  je 2f\n"
    "  vextracti128 $1, %ymm0, 416(%rdi)\n"
    "  vextracti128 $1, %ymm1, 432(%rdi)\n"
    "  vextracti128 $1, %ymm2, 448(%rdi)\n"
    "  vextracti128 $1, %ymm3, 464(%rdi)\n"
    "  vextracti128 $1, %ymm4, 480(%rdi)\n"
    "  vextracti128 $1, %ymm5, 496(%rdi)\n"
    "  vextracti128 $1, %ymm6, 512(%rdi)\n"
    "  vextracti128 $1, %ymm7, 528(%rdi)\n"
    "  vextracti128 $1, %ymm8, 544(%rdi)\n"
    "  vextracti128 $1, %ymm9, 560(%rdi)\n"
    "  vextracti128 $1, %ymm10, 576(%rdi)\n"
    "  vextracti128 $1, %ymm11, 592(%rdi)\n"
    "  vextracti128 $1, %ymm12, 608(%rdi)\n"
    "  vextracti128 $1, %ymm13, 624(%rdi)\n"
    "  vextracti128 $1, %ymm14, 640(%rdi)\n"
    "  vextracti128 $1, %ymm15, 656(%rdi)\n"
    "  vzeroupper\n"
    "2:\n"
    "  stmxcsr 400(%rdi)\n"
    "  fnstcw 404(%rdi)\n"
    "  mov x86ts_host_rsp(%rip), %rsp\n"
    "  cld\n"
    "  ldmxcsr x86ts_host_mxcsr(%rip)\n"
    "  fninit\n"
    "  fldcw x86ts_host_fcw(%rip)\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbx\n pop %rbp\n"
    "  ret\n"
    "\n"
    ".data\n"
    ".p2align 3\n"
    "x86ts_host_rsp: .quad 0\n"
    "x86ts_state_ptr: .quad 0\n"
    "x86ts_code_ptr: .quad 0\n"
    "x86ts_guest_rdi: .quad 0\n"
    "x86ts_host_mxcsr: .long 0\n"
    "x86ts_host_fcw: .short 0\n"
    ".text\n");

void *x86ts_map_fixed(uint64_t address, size_t length) {
    void *p = mmap((void *)address, length, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) {
        // Already mapped (by an earlier call): reuse it if it is ours and writable.
        unsigned char probe;
        if (mprotect((void *)address, length, PROT_READ | PROT_WRITE | PROT_EXEC) == 0) {
            memcpy(&probe, (void *)address, 1);
            return (void *)address;
        }
        return NULL;
    }
    return p;
}

void x86ts_run(x86ts_state *state, uint64_t code_address, const uint8_t *code, size_t length) {
    uint8_t *dst = (uint8_t *)code_address;
    memcpy(dst, code, length);
    // jmp *0(%rip); .quad x86ts_exit
    static const uint8_t jump[6] = {0xFF, 0x25, 0, 0, 0, 0};
    memcpy(dst + length, jump, sizeof jump);
    uint64_t exit_address = (uint64_t)(uintptr_t)&x86ts_exit;
    memcpy(dst + length + 6, &exit_address, 8);
    __builtin___clear_cache((char *)dst, (char *)dst + length + 14);
    x86ts_enter(state, code_address);
}

void x86ts_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
}

uint64_t x86ts_fs_base(void) {
    uint64_t base = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &base);
    return base;
}
