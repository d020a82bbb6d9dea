#include "core/tokenizer/spm.h"

#include <algorithm>
#include <cstring>

#include "core/tokenizer/unicode.h"
#include "core/util/memory.h"

namespace ls {

namespace {

// Protobuf wire format: varints, 32/64-bit fixed values, length-delimited fields.
struct Wire {
  const unsigned char* p;
  const unsigned char* end;
  bool ok = true;
  bool done() const { return p >= end || !ok; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) return ok = false, 0;
      const unsigned char b = *p++;
      v |= (uint64_t)(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return ok = false, 0;
  }
  // One field: its number and wire type; `len`/`data` for length-delimited ones,
  // `value` for the rest.
  bool field(int& number, int& type, uint64_t& value, const unsigned char*& data, size_t& len) {
    const uint64_t tag = varint();
    if (!ok) return false;
    number = (int)(tag >> 3);
    type = (int)(tag & 7);
    switch (type) {
      case 0: value = varint(); return ok;
      case 1:
        if (end - p < 8) return ok = false;
        std::memcpy(&value, p, 8), p += 8;
        return true;
      case 5: {
        if (end - p < 4) return ok = false;
        uint32_t v;
        std::memcpy(&v, p, 4), p += 4;
        value = v;
        return true;
      }
      case 2:
        len = (size_t)varint();
        if (!ok || len > (size_t)(end - p)) return ok = false;
        data = p, p += len;
        return true;
      default: return ok = false;
    }
  }
};

}  // namespace

Result<SpmModelProto> parse_spm_model(const std::string& bytes) {
  SpmModelProto m;
  Wire w{reinterpret_cast<const unsigned char*>(bytes.data()), reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size()};
  int num, type;
  uint64_t v = 0;
  const unsigned char* d = nullptr;
  size_t len = 0;
  while (!w.done()) {
    if (!w.field(num, type, v, d, len)) break;
    if (type != 2) continue;
    Wire sub{d, d + len};
    if (num == 1) {  // SentencePiece piece
      SpmModelProto::Piece p;
      while (!sub.done() && sub.field(num, type, v, d, len)) {
        if (num == 1 && type == 2) p.text.assign(reinterpret_cast<const char*>(d), len);
        else if (num == 2 && type == 5) std::memcpy(&p.score, &v, 4);
        else if (num == 3 && type == 0) p.type = (int)v;
      }
      if (!sub.ok) return make_error("a piece of the SentencePiece model is truncated");
      m.pieces.push_back(std::move(p));
    } else if (num == 2) {  // TrainerSpec
      while (!sub.done() && sub.field(num, type, v, d, len)) {
        if (type != 0) continue;
        if (num == 3) m.model_type = (int)v;
        else if (num == 24) m.treat_whitespace_as_suffix = v != 0;
        else if (num == 35) m.byte_fallback = v != 0;
        else if (num == 40) m.unk_id = (int)(int32_t)v;
        else if (num == 41) m.bos_id = (int)(int32_t)v;
        else if (num == 42) m.eos_id = (int)(int32_t)v;
      }
    } else if (num == 3) {  // NormalizerSpec
      while (!sub.done() && sub.field(num, type, v, d, len)) {
        if (num == 1 && type == 2) m.normalizer_name.assign(reinterpret_cast<const char*>(d), len);
        else if (num == 2 && type == 2) m.has_charsmap = len > 0;
        else if (num == 3 && type == 0) m.add_dummy_prefix = v != 0;
        else if (num == 4 && type == 0) m.remove_extra_whitespaces = v != 0;
        else if (num == 5 && type == 0) m.escape_whitespaces = v != 0;
      }
    }
  }
  if (!w.ok) return make_error("the SentencePiece model is truncated or malformed");
  if (m.pieces.empty()) return make_error("the SentencePiece model has no pieces");
  return m;
}

Result<std::unique_ptr<BpeModel>> spm_bpe_model(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                                                const std::vector<int>& types, int unk_id) {
  const size_t n = pieces.size();
  if (scores.size() != n || types.size() != n) return make_error("the vocabulary's scores or types do not match its pieces");
  // Pieces a merge may form or join (sentencepiece's pieces_: normal, user-defined,
  // unused); an unused piece is never formed (sentencepiece splits it again).
  auto joinable = [&](int t) { return t == kSpmNormal || t == kSpmUserDefined || t == kSpmUnused; };
  auto formable = [&](int t) { return t == kSpmNormal || t == kSpmUserDefined; };
  std::vector<std::string> tokens(pieces);
  // Ranks: distinct scores, highest first (equal scores merge left to right).
  std::vector<float> distinct;
  for (size_t i = 0; i < n; ++i)
    if (formable(types[i])) distinct.push_back(scores[i]);
  std::sort(distinct.begin(), distinct.end(), [](float a, float b) { return a > b; });
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  auto rank_of = [&](float s) {
    return (int)(std::lower_bound(distinct.begin(), distinct.end(), s, [](float a, float b) { return a > b; }) - distinct.begin());
  };
  // Look-ups of joinable pieces by text, through a BPE model with no merges.
  std::vector<std::string> joinable_only(n);
  for (size_t i = 0; i < n; ++i)
    if (joinable(types[i])) joinable_only[i] = pieces[i];
  auto lookup = BpeModel::create(joinable_only, {}, BpeModel::Options{});
  if (!lookup) return make_error(lookup.error());
  std::vector<BpeMerge> merges;
  for (size_t i = 0; i < n; ++i) {
    if (!formable(types[i])) continue;
    const std::string& p = pieces[i];
    size_t k = 0;
    if (p.empty()) continue;
    unicode::next(p, k);
    const int rank = rank_of(scores[i]);
    while (k < p.size()) {
      const int a = lookup.value()->id_of(std::string_view(p).substr(0, k));
      const int b = lookup.value()->id_of(std::string_view(p).substr(k));
      if (a >= 0 && b >= 0) merges.push_back({a, b, rank, (int)i});
      unicode::next(p, k);
    }
  }
  BpeModel::Options o;
  o.byte_fallback = std::find(types.begin(), types.end(), (int)kSpmByte) != types.end();
  o.unk_id = unk_id >= 0 && (size_t)unk_id < n ? unk_id : -1;
  o.fuse_unk = true;
  return BpeModel::create(std::move(tokens), merges, o);
}

}  // namespace ls
