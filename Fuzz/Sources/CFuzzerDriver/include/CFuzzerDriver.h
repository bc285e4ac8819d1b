#ifndef WSGATE_C_FUZZER_DRIVER_H
#define WSGATE_C_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that have their own `main` (compiler-rt FuzzerInterface.h).
/// SwiftPM links every executable with `main` aliased to the module's top-level code, so the fuzz targets
/// call this from there instead of relying on libFuzzer's own `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

#endif
