// Fixture for the X86 end-to-end test: a static, -nostdlib program whose hot loops look
// like gzip's (CRC-32 with a table, Adler-32, a hash-chain longest-match search over a
// generated buffer). It prints 16 bytes of results with write(2) and exits with exit(2).
// Usage: checksum ROUNDS  (the work scales with ROUNDS).
// Build: gcc -O2 -static -nostdlib -fno-pie -no-pie -fno-stack-protector -o checksum checksum.c
typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long u64;

static long syscall3(long n, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

#define SIZE (1 << 16)
static u8 buffer[SIZE];
static u32 crc_table[256];
static unsigned short head[1 << 12];
static unsigned short prev[SIZE];

static u32 crc32(const u8 *p, u64 n, u32 crc) {
    crc = ~crc;
    for (u64 i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static u32 adler32(const u8 *p, u64 n) {
    u32 a = 1, b = 0;
    for (u64 i = 0; i < n; i++) { a = (a + p[i]) % 65521; b = (b + a) % 65521; }
    return (b << 16) | a;
}

// Longest-match search with hash chains, as deflate does.
static u64 match_total(const u8 *p, u64 n) {
    for (u64 i = 0; i < (1 << 12); i++) head[i] = 0;
    u64 total = 0;
    for (u64 i = 1; i + 3 < n; i++) {
        u32 h = ((p[i] << 8) ^ (p[i + 1] << 4) ^ p[i + 2]) & 0xFFF;
        u32 candidate = head[h];
        u32 best = 0;
        for (int chain = 0; chain < 8 && candidate != 0 && candidate < i; chain++) {
            u32 len = 0;
            while (len < 64 && i + len < n && p[candidate + len] == p[i + len]) len++;
            if (len > best) best = len;
            candidate = prev[candidate];
        }
        prev[i] = head[h];
        head[h] = (unsigned short)i;
        total += best;
    }
    return total;
}

// Entry: the kernel (or the test loader) leaves argc at [rsp] and argv after it.
__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  hlt\n");

__attribute__((noreturn, used)) void start_c(u64 *sp) {
    u64 argc = sp[0];
    const char *arg = argc > 1 ? (const char *)sp[2] : "1";
    u64 rounds = 0;
    while (*arg >= '0' && *arg <= '9') rounds = rounds * 10 + (u64)(*arg++ - '0');

    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    // Text-like data: a linear congruential generator over a small alphabet, with repeats.
    u32 seed = 12345;
    for (u64 i = 0; i < SIZE; i++) {
        seed = seed * 1103515245u + 12345u;
        buffer[i] = (u8)("etaoin shrdlu\n"[(seed >> 16) % 14]);
        if (i > 64 && (seed & 0x300) == 0) buffer[i] = buffer[i - 37];
    }
    u32 crc = 0, adler = 0;
    u64 matches = 0;
    for (u64 r = 0; r < rounds; r++) {
        crc = crc32(buffer, SIZE, crc);
        adler ^= adler32(buffer, SIZE);
        matches += match_total(buffer, SIZE);
        buffer[r % SIZE] ^= (u8)crc;
    }
    u64 out[2] = {((u64)crc << 32) | adler, matches};
    syscall3(1, 1, (long)out, sizeof out);
    syscall3(60, 0, 0, 0);
    __builtin_unreachable();
}
