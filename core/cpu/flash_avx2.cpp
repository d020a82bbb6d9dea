// The tiled attention kernel built for avx2 (flags in core/CMakeLists.txt).
#define LS_FLASH_ENTRY flash_task_avx2
#define LS_WIDEN_ENTRY widen_avx2
#define LS_VEC_BYTES 32
#include "core/cpu/flash_kernel_impl.h"
