#include "core/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/util/files.h"

namespace ls {

namespace {
// A metered pattern may take this many PCRE2 steps (callouts) per byte of the
// document, plus a fixed allowance: the pre-tokenizers of real tokenizers take
// 5-30 steps a byte; a document of 1 MB is then refused after at most ~0.3 s.
constexpr uint64_t kStepsPerByte = 200;
constexpr uint64_t kStepsFixed = 1000000;
constexpr uint32_t kMeteredMatchLimit = 1000000;  // per pcre2_match call
}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() {
    if (code) pcre2_code_free(code);
  }
};

Regex::~Regex() = default;

Result<std::shared_ptr<const Regex>> Regex::compile(const std::string& pattern, bool metered) {
  std::shared_ptr<Regex> r(new Regex());
  r->code_ = std::make_unique<Code>();
  r->metered_ = metered;
  r->pattern_ = pattern;
  int err = 0;
  PCRE2_SIZE at = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (metered ? PCRE2_AUTO_CALLOUT : 0u);
  r->code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err, &at, nullptr);
  if (!r->code_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return make_error("the regular expression \"" + clip(pattern, 120) + "\" does not compile at offset " +
                      std::to_string(at) + ": " + reinterpret_cast<const char*>(msg));
  }
  r->code_->jit = pcre2_jit_compile(r->code_->code, PCRE2_JIT_COMPLETE) == 0;
  return std::shared_ptr<const Regex>(r);
}

struct Regex::Matcher::Impl {
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mc = nullptr;
  uint64_t steps_left = 0;
  ~Impl() {
    if (md) pcre2_match_data_free(md);
    if (mc) pcre2_match_context_free(mc);
  }
};

namespace {
// Counts one step of a metered match; ends the match when the budget is spent.
int count_step(pcre2_callout_block*, void* data) {
  auto* left = static_cast<uint64_t*>(data);
  if (*left == 0) return PCRE2_ERROR_CALLOUT;
  --*left;
  return 0;
}
}  // namespace

Regex::Matcher::Matcher(const Regex& re, size_t document_bytes) : re_(re), impl_(std::make_unique<Impl>()) {
  impl_->md = pcre2_match_data_create_from_pattern(re.code_->code, nullptr);
  if (re.metered_) {
    impl_->mc = pcre2_match_context_create(nullptr);
    impl_->steps_left = kStepsFixed + kStepsPerByte * (uint64_t)document_bytes;
    pcre2_set_match_limit(impl_->mc, kMeteredMatchLimit);
    pcre2_set_depth_limit(impl_->mc, 10000);
    pcre2_set_callout(impl_->mc, count_step, &impl_->steps_left);
  }
}

Regex::Matcher::~Matcher() = default;

Result<bool> Regex::Matcher::find(std::string_view subject, size_t pos, size_t& begin, size_t& end) {
  if (!impl_->md) return make_error("out of memory for a regular expression match");
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const int rc = re_.code_->jit && !re_.metered_
                     ? pcre2_jit_match(re_.code_->code, s, subject.size(), pos, PCRE2_NO_UTF_CHECK, impl_->md, nullptr)
                     : pcre2_match(re_.code_->code, s, subject.size(), pos, PCRE2_NO_UTF_CHECK, impl_->md, impl_->mc);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc == PCRE2_ERROR_CALLOUT)
    return make_error("the regular expression \"" + clip(re_.pattern_, 120) +
                      "\" needs more work than a document of this size allows (it backtracks too much)");
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
    return make_error("the regular expression \"" + clip(re_.pattern_, 120) +
                      "\" exceeds the match limit (it backtracks too much)");
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof(msg));
    return make_error(std::string("the text cannot be matched: ") + reinterpret_cast<const char*>(msg));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(impl_->md);
  begin = ov[0];
  end = ov[1];
  return true;
}

Regex::Matcher& RegexSession::matcher(const Regex& re) {
  for (auto& [r, m] : m_)
    if (r == &re) return *m;
  m_.emplace_back(&re, std::make_unique<Regex::Matcher>(re, bytes_));
  return *m_.back().second;
}

}  // namespace ls
