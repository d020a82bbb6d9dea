// Limits and the space marker shared by the tokenizer's readers (tokenizer.json, GGUF vocabularies, .model files).
#pragma once

#include <cstddef>

namespace ls::tokenizer_limits {

inline constexpr std::size_t kMaxTokenizerBytes = std::size_t{64} << 20;  // a tokenizer file
inline constexpr int kMaxTokenId = 1 << 22;                                // ids and vocabulary sizes
inline constexpr const char* kSpace = "\xe2\x96\x81";                    // U+2581, SentencePiece's space

}  // namespace ls::tokenizer_limits
