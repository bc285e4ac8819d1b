// Declarations only (see include/CFuzzerDriver.h); the definitions are in libFuzzer, linked by
// `-sanitize=fuzzer`.
#include "CFuzzerDriver.h"
