// UTF-8 and the Unicode character properties tokenizers use: normalisation forms
// (utf8proc), lower case, White_Space, general categories. Text reaching these is
// valid UTF-8 (Tokenizer::encode checks it once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/status.h"

namespace ls::unicode {

// Bytes of the UTF-8 sequence that starts with `lead` (1 for a stray continuation byte).
inline size_t seq_len(unsigned char lead) {
  return lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
}
// The code point at s[i] (valid UTF-8); advances i.
uint32_t next(std::string_view s, size_t& i);
// The code point that ends just before s[i]; moves i back to its first byte.
uint32_t prev(std::string_view s, size_t& i);
void append(std::string& out, uint32_t cp);

enum class Form { NFC, NFD, NFKC, NFKD };
Result<std::string> normalize(std::string_view s, Form form);
std::string lowercase(std::string_view s);       // per character, full mappings (U+0130 → "i̇")
std::string strip_accents(std::string_view s);   // drops nonspacing marks (Mn)

bool is_whitespace(uint32_t cp);   // Unicode White_Space
bool is_numeric(uint32_t cp);      // general category N*
bool is_alphabetic(uint32_t cp);   // L* (and Nl, as Rust's char::is_alphabetic)
bool is_punctuation(uint32_t cp);  // ASCII punctuation or general category P*
bool is_mark(uint32_t cp);         // M*

bool is_valid_utf8(std::string_view s);

}  // namespace ls::unicode
