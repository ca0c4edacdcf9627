// Symbolization from the recorded bytes: one exported function whose name a report must
// give for an address inside it. Built twice by SymbolizerTests: as recorded, and with
// -DREPLACEMENT as the "upgraded" file that replaces it on disk after the recording (other
// names, other layout). Linked with -rdynamic so the functions are in .dynsym, the symbol
// table that lies in the loaded (and so recorded) part of the file.
#include <stdio.h>

#ifdef REPLACEMENT
__attribute__((noinline)) int replacement_filler(int x) {
    int sum = 0;
    for (int i = 0; i < x * 100; i++) sum += (i * 31) ^ (sum >> 3);
    return sum;
}
__attribute__((noinline)) int replacement_function(int x) { return x * 3 + replacement_filler(x); }
int main(int argc, char **argv) { (void)argv; printf("%d\n", replacement_function(argc)); return 0; }
#else
__attribute__((noinline)) int recorded_original_function(int x) { return x * 7 + 1; }
int main(int argc, char **argv) { (void)argv; printf("%d\n", recorded_original_function(argc)); return 0; }
#endif
