// Errors are values: a Result<T> holds either a T or a message a person can act on.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ls {

struct Error {
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(v_).message; }
  T take() { return std::move(std::get<0>(v_)); }

 private:
  std::variant<T, Error> v_;
};

// A Result with no value: ok or an error message.
class Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e.message)) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return *err_; }

 private:
  std::optional<std::string> err_;
};

// `s` quoted in a message: at most `max` bytes (cut at a UTF-8 boundary), with how
// much was left out, so a 100 KB argument never becomes a 100 KB line.
inline std::string clip(std::string_view s, size_t max = 200) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return std::string(s.substr(0, cut)) + "… (" + std::to_string(s.size() - cut) + " more bytes)";
}

// Messages are one line: control characters that a file or a user put into a
// quoted name (a newline in a GGUF key, a tab in a spec) are shown escaped.
inline Error make_error(std::string msg) {
  static const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < msg.size(); ++i) {
    const unsigned char c = (unsigned char)msg[i];
    if (c >= 0x20 && c != 0x7f) continue;
    const std::string esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                            : std::string("\\x") + hex[c >> 4] + hex[c & 15];
    msg.replace(i, 1, esc);
    i += esc.size() - 1;
  }
  return Error{std::move(msg)};
}

}  // namespace ls

// Unwraps a Result into `dst`, or returns its error from the enclosing function
// (which returns a Status or a Result).
#define LS_TRY_ASSIGN(dst, expr)                 \
  do {                                           \
    auto r_ = (expr);                            \
    if (!r_) return ::ls::make_error(r_.error()); \
    dst = r_.value();                            \
  } while (0)
