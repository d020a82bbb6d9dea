// LS_ASAN is defined in a build with AddressSanitizer (gcc's __SANITIZE_ADDRESS__ or
// clang's __has_feature), for tests that must run differently there.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define LS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LS_ASAN 1
#endif
#endif
