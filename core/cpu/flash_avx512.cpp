// The tiled attention kernel built for avx512 (flags in core/CMakeLists.txt).
#define LS_FLASH_ENTRY flash_task_avx512
#define LS_WIDEN_ENTRY widen_avx512
#define LS_VEC_BYTES 64
#include "core/cpu/flash_kernel_impl.h"
