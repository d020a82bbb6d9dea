// The tiled attention kernel built for generic (flags in core/CMakeLists.txt).
#define LS_FLASH_ENTRY flash_task_generic
#define LS_WIDEN_ENTRY widen_generic
#define LS_VEC_BYTES 16
#include "core/cpu/flash_kernel_impl.h"
