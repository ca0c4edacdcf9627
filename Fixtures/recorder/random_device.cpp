// std::random_device reads rdrand or rdseed on CPUs that have them (libstdc++ picks by
// CPUID), instructions no syscall or trap announces. Prints a value so that record and
// replay can be compared.
#include <cstdio>
#include <random>

int main() {
    std::random_device device;
    unsigned sum = 0;
    for (int i = 0; i < 4; i++) sum ^= device();
    std::printf("random %u entropy %.1f\n", sum, device.entropy());
    return 0;
}
