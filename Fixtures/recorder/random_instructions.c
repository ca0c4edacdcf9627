// rdrand (16, 32 and 64-bit), rdseed and rdpid in the program's own code: nondeterministic
// values no syscall carries. Prints them, so replay checks it computed the same ones.
// With the argument "jit", also runs an rdrand copied into anonymous memory made
// executable by mprotect; with "rwx", one written into memory mapped writable and
// executable at once (no point where the recorder sees it become code).
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static unsigned rdrand16(uint16_t *v) { unsigned char ok; __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc"); return ok; }
static unsigned rdrand32(uint32_t *v) { unsigned char ok; __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc"); return ok; }
static unsigned rdrand64(uint64_t *v) { unsigned char ok; __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc"); return ok; }
static unsigned rdseed64(uint64_t *v) { unsigned char ok; __asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc"); return ok; }
static uint64_t rdpid(void) { uint64_t v; __asm__ volatile("rdpid %0" : "=r"(v)); return v; }

int main(int argc, char **argv) {
    uint16_t a; uint32_t b; uint64_t c, d;
    unsigned okA = rdrand16(&a), okB = rdrand32(&b), okC = rdrand64(&c), okD = rdseed64(&d);
    printf("rdrand16 %u %u rdrand32 %u %u rdrand64 %u %llu rdseed64 %u %llu rdpid %llu\n",
           okA, a, okB, b, okC, (unsigned long long)c, okD, (unsigned long long)d, (unsigned long long)rdpid());
    if (argc > 1 && (strcmp(argv[1], "jit") == 0 || strcmp(argv[1], "rwx") == 0)) {
        // rdrand eax; ret
        static const unsigned char code[] = { 0x0f, 0xc7, 0xf0, 0xc3 };
        int rwx = strcmp(argv[1], "rwx") == 0;
        unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | (rwx ? PROT_EXEC : 0), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memcpy(page, code, sizeof code);
        if (!rwx) mprotect(page, 4096, PROT_READ | PROT_EXEC);
        unsigned (*generated)(void) = (unsigned (*)(void))page;
        printf("generated %u\n", generated());
    }
    return 0;
}
