// The memory budget: every large allocation LongScope makes is checked against it
// first, so a file, document or request that would need more than the machine
// has is refused with the figures instead of being attempted.
#pragma once

#include <cstddef>
#include <string>

#include "core/util/status.h"

namespace ls {

// Bytes this process may still use: MemAvailable from /proc/meminfo, lowered to
// LONGSCOPE_MEMORY_LIMIT_MB when that variable is set (tests, shared machines).
// 0 when neither is known.
size_t available_memory_bytes();

// Ok when `bytes` fit in 90 % of the budget; otherwise an error naming `what`,
// the bytes needed and the bytes available, ending with `advice` when given.
Status check_memory(size_t bytes, const std::string& what, const std::string& advice = "");
// The same against `available` bytes (a backend's own memory; 0: unknown).
Status check_memory(size_t bytes, size_t available, const std::string& what, const std::string& advice);

// "1.5 GiB", "12 MiB", "800 KiB" for messages.
std::string format_bytes(size_t bytes);

// Hard limits on what a file may declare, applied before anything is allocated.
inline constexpr size_t kMaxMetadataArray = size_t{1} << 22;      // GGUF array elements (vocabularies, merges)
inline constexpr size_t kMaxJsonHeaderBytes = size_t{16} << 20;   // safetensors header
inline constexpr size_t kMaxConfigJsonBytes = size_t{4} << 20;    // config.json, index.json, tokenizer files
inline constexpr size_t kEncodePieceBytes = size_t{64} << 10;     // text handed to the tokenizer at once

}  // namespace ls
