#include "core/model/gguf.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>

#include "core/util/memory.h"

namespace ls {
namespace {

// GGUF metadata value types (ggml gguf.h).
enum GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12
};

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  bool read(void* dst, size_t bytes) {
    if (bytes > n_ - pos_) return false;
    std::memcpy(dst, p_ + pos_, bytes);
    pos_ += bytes;
    return true;
  }
  template <typename T>
  bool get(T& v) { return read(&v, sizeof(T)); }
  bool str(std::string& s) {
    uint64_t len;
    if (!get(len) || len > n_ - pos_) return false;
    s.assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return true;
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
};

bool read_scalar(Cursor& c, uint32_t type, GgufValue& out) {
  switch (type) {
    case kU8: { uint8_t v; if (!c.get(v)) return false; out.v = (uint64_t)v; return true; }
    case kI8: { int8_t v; if (!c.get(v)) return false; out.v = (int64_t)v; return true; }
    case kU16: { uint16_t v; if (!c.get(v)) return false; out.v = (uint64_t)v; return true; }
    case kI16: { int16_t v; if (!c.get(v)) return false; out.v = (int64_t)v; return true; }
    case kU32: { uint32_t v; if (!c.get(v)) return false; out.v = (uint64_t)v; return true; }
    case kI32: { int32_t v; if (!c.get(v)) return false; out.v = (int64_t)v; return true; }
    case kU64: { uint64_t v; if (!c.get(v)) return false; out.v = v; return true; }
    case kI64: { int64_t v; if (!c.get(v)) return false; out.v = v; return true; }
    case kF32: { float v; if (!c.get(v)) return false; out.v = (double)v; return true; }
    case kF64: { double v; if (!c.get(v)) return false; out.v = v; return true; }
    case kBool: { uint8_t v; if (!c.get(v)) return false; out.v = v != 0; return true; }
    case kString: { std::string s; if (!c.str(s)) return false; out.v = s; return true; }
    default: return false;
  }
}

// Bytes one element of a GGUF type takes at least (a string: its 8-byte length).
uint64_t min_elem_bytes(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    default: return 8;
  }
}

std::string read_value(Cursor& c, uint32_t type, GgufValue& out) {
  if (type != kArray) return read_scalar(c, type, out) ? "" : "value of type " + std::to_string(type) + " unreadable";
  uint32_t et;
  uint64_t count;
  if (!c.get(et) || !c.get(count)) return "array header runs past the end";
  if (et > kF64) return "array element type " + std::to_string(et) + " is not a GGUF type";
  // Checked before anything is allocated: the elements must fit in what is left of the file.
  if (count > c.left() / min_elem_bytes(et))
    return "array of " + std::to_string(count) + " elements runs past the end of the file";
  if (count > kMaxMetadataArray)
    return "array of " + std::to_string(count) + " elements is longer than the " + std::to_string(kMaxMetadataArray) +
           "-element limit";
  if (et == kString) {
    std::vector<std::string> v(count);
    for (auto& s : v)
      if (!c.str(s)) return "string array runs past the end";
    out.v = std::move(v);
  } else if (et == kF32 || et == kF64) {
    std::vector<double> v(count);
    for (auto& x : v) {
      GgufValue e;
      if (!read_scalar(c, et, e)) return "float array runs past the end";
      x = std::get<double>(e.v);
    }
    out.v = std::move(v);
  } else if (et == kArray) {
    return "nested arrays are not supported";
  } else {
    std::vector<int64_t> v(count);
    for (auto& x : v) {
      GgufValue e;
      if (!read_scalar(c, et, e)) return "array element of type " + std::to_string(et) + " unreadable";
      if (auto* u = std::get_if<uint64_t>(&e.v)) x = (int64_t)*u;
      else if (auto* i = std::get_if<int64_t>(&e.v)) x = *i;
      else if (auto* b = std::get_if<bool>(&e.v)) x = *b;
    }
    out.v = std::move(v);
  }
  return "";
}

Result<DType> ggml_dtype(uint32_t t, const std::string& name) {
  DType d;
  if (dtype_of_ggml(t, d)) return d;
  // ggml's other types, named so the refusal is plainly a decision (ggml.h enum ggml_type).
  static const std::map<uint32_t, const char*> kOther = {
      {9, "Q8_1"},     {15, "Q8_K"},  {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {21, "IQ3_S"},
      {22, "IQ2_S"},   {24, "I8"},    {25, "I16"},     {26, "I32"},    {27, "I64"},     {28, "F64"},   {29, "IQ1_M"},
      {34, "TQ1_0"},   {35, "TQ2_0"}, {40, "NVFP4"}};
  auto it = kOther.find(t);
  return make_error("tensor " + clip(name) + " has ggml type " + std::to_string(t) +
                    (it != kOther.end() ? std::string(" (") + it->second + ")" : std::string()) +
                    ", not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, "
                    "Q6_K, IQ4_NL, IQ4_XS, MXFP4)");
}

}  // namespace

Result<int64_t> GgufFile::get_int(const std::string& k) const {
  auto it = meta.find(k);
  if (it == meta.end()) return make_error("metadata key " + clip(k) + " is missing");
  if (auto* u = std::get_if<uint64_t>(&it->second.v)) {
    if (*u > (uint64_t)INT64_MAX) return make_error("metadata key " + clip(k) + " is too large");
    return (int64_t)*u;
  }
  if (auto* i = std::get_if<int64_t>(&it->second.v)) return *i;
  return make_error("metadata key " + clip(k) + " is not an integer");
}

Result<int> GgufFile::get_int_in(const std::string& k, int64_t lo, int64_t hi) const {
  auto v = get_int(k);
  if (!v) return make_error(v.error());
  if (v.value() < lo || v.value() > hi)
    return make_error("metadata key " + clip(k) + " = " + std::to_string(v.value()) + " is outside [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "]");
  return (int)v.value();
}

Result<int> GgufFile::opt_int_in(const std::string& k, int fallback, int64_t lo, int64_t hi) const {
  return has(k) ? get_int_in(k, lo, hi) : Result<int>(fallback);
}

Result<double> GgufFile::opt_float(const std::string& k, double fallback) const {
  if (!has(k)) return fallback;
  auto v = get_float(k);
  if (v && !std::isfinite(v.value())) return make_error("metadata key " + clip(k) + " is not finite");
  return v;
}

Result<std::string> GgufFile::opt_string(const std::string& k, const std::string& fallback) const {
  return has(k) ? get_string(k) : Result<std::string>(fallback);
}

Result<bool> GgufFile::opt_bool(const std::string& k, bool fallback) const {
  auto it = meta.find(k);
  if (it == meta.end()) return fallback;
  if (auto* b = std::get_if<bool>(&it->second.v)) return *b;
  return make_error("metadata key " + clip(k) + " is not a boolean");
}

Result<double> GgufFile::get_float(const std::string& k) const {
  auto it = meta.find(k);
  if (it == meta.end()) return make_error("metadata key " + clip(k) + " is missing");
  if (auto* d = std::get_if<double>(&it->second.v)) return *d;
  if (auto i = get_int(k)) return (double)i.value();
  return make_error("metadata key " + clip(k) + " is not a number");
}

Result<std::string> GgufFile::get_string(const std::string& k) const {
  auto it = meta.find(k);
  if (it == meta.end()) return make_error("metadata key " + clip(k) + " is missing");
  if (auto* s = std::get_if<std::string>(&it->second.v)) return *s;
  return make_error("metadata key " + clip(k) + " is not a string");
}

Result<GgufFile> read_gguf(const std::string& path) {
  auto mf = MappedFile::open(path, "model");
  if (!mf) return make_error(mf.error());
  GgufFile g;
  g.file = mf.value();
  const size_t size = g.file->size();
  Cursor c(g.file->data(), size);
  char magic[4];
  if (!c.read(magic, 4) || std::memcmp(magic, "GGUF", 4) != 0) return make_error(path + ": not a GGUF file (bad magic)");
  uint64_t n_tensors, n_kv;
  if (!c.get(g.version)) return make_error(path + ": truncated GGUF header");
  if (g.version != 2 && g.version != 3)
    return make_error(path + ": GGUF version " + std::to_string(g.version) + " is not supported (2 or 3)");
  if (!c.get(n_tensors) || !c.get(n_kv)) return make_error(path + ": truncated GGUF header");
  if (n_tensors > size / 24 || n_kv > size / 12 || n_tensors > (1u << 20) || n_kv > (1u << 20))
    return make_error(path + ": GGUF header claims " + std::to_string(n_tensors) + " tensors and " +
                      std::to_string(n_kv) + " metadata entries, more than a " + std::to_string(size) +
                      "-byte file can hold");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    uint32_t type;
    if (!c.str(key) || !c.get(type)) return make_error(path + ": metadata entry " + std::to_string(i) + " is truncated");
    GgufValue v;
    if (auto err = read_value(c, type, v); !err.empty())
      return make_error(path + ": metadata key " + key + ": " + err);
    g.meta[key] = std::move(v);
  }
  struct Info { std::string name; std::vector<uint64_t> shape; uint32_t type; uint64_t offset; };
  std::vector<Info> infos(n_tensors);
  for (auto& t : infos) {
    uint32_t n_dims;
    if (!c.str(t.name) || !c.get(n_dims)) return make_error(path + ": tensor table is truncated");
    if (n_dims < 1 || n_dims > 4) return make_error(path + ": tensor " + clip(t.name) + " has " + std::to_string(n_dims) + " dimensions (1 … 4 allowed)");
    std::vector<uint64_t> ne(n_dims);
    for (auto& d : ne)
      if (!c.get(d)) return make_error(path + ": tensor " + clip(t.name) + " dimensions are truncated");
    if (!c.get(t.type) || !c.get(t.offset)) return make_error(path + ": tensor " + clip(t.name) + " descriptor is truncated");
    t.shape.assign(ne.rbegin(), ne.rend());  // ggml ne[0] is innermost
  }
  uint64_t alignment = 32;
  if (g.has("general.alignment")) {
    auto a = g.get_int("general.alignment");
    if (!a || a.value() < 1 || a.value() > 65536 || (a.value() & (a.value() - 1)))
      return make_error(path + ": general.alignment must be a power of two ≤ 65536");
    alignment = (uint64_t)a.value();
  }
  const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  for (const auto& t : infos) {
    auto dt = ggml_dtype(t.type, t.name);
    if (!dt) return make_error(path + ": " + dt.error());
    uint64_t count = 1;
    for (auto d : t.shape) {
      if (d == 0 || d > (1ull << 32) || count > (1ull << 40) / d)
        return make_error(path + ": tensor " + clip(t.name) + " has an absurd shape");
      count *= d;
    }
    // ggml blocks never span rows: the innermost dimension is whole blocks (as llama.cpp's reader requires).
    if (t.shape.empty() || t.shape.back() % dtype_block(dt.value()))
      return make_error(path + ": tensor " + clip(t.name) + " has rows of " +
                        std::to_string(t.shape.empty() ? 0 : t.shape.back()) + " elements, not a whole number of " +
                        dtype_name(dt.value()) + " blocks of " + std::to_string(dtype_block(dt.value())));
    uint64_t bytes = dtype_bytes(dt.value(), count);
    if (t.offset > size || data_start + t.offset > size || bytes > size - data_start - t.offset)
      return make_error(path + ": tensor " + clip(t.name) + ": offset " + std::to_string(t.offset) + " (after the header's " +
                        std::to_string(data_start) + " bytes) + " +
                        std::to_string(bytes) + " bytes runs past the end of the file (" + std::to_string(size) +
                        " bytes)");
    g.tensors[t.name] = TensorSource{dt.value(), t.shape, g.file->data() + data_start + t.offset, bytes};
  }
  return g;
}

Status GgufWriter::write(const std::string& path) const {
  std::ofstream f(path, std::ios::binary);
  if (!f) return make_error("cannot write " + path);
  auto put = [&](const void* p, size_t n) { f.write(static_cast<const char*>(p), (std::streamsize)n); };
  auto put_u32 = [&](uint32_t v) { put(&v, 4); };
  auto put_u64 = [&](uint64_t v) { put(&v, 8); };
  auto put_str = [&](const std::string& s) { put_u64(s.size()); put(s.data(), s.size()); };
  put("GGUF", 4);
  put_u32(3);
  put_u64(tensors.size());
  put_u64(meta.size());
  for (const auto& [k, v] : meta) {
    put_str(k);
    if (auto* u = std::get_if<uint64_t>(&v.v)) { put_u32(kU32); put_u32((uint32_t)*u); }
    else if (auto* i = std::get_if<int64_t>(&v.v)) { put_u32(kI32); int32_t x = (int32_t)*i; put(&x, 4); }
    else if (auto* d = std::get_if<double>(&v.v)) { put_u32(kF32); float x = (float)*d; put(&x, 4); }
    else if (auto* b = std::get_if<bool>(&v.v)) { put_u32(kBool); uint8_t x = *b; put(&x, 1); }
    else if (auto* s = std::get_if<std::string>(&v.v)) { put_u32(kString); put_str(*s); }
    else if (auto* sa = std::get_if<std::vector<std::string>>(&v.v)) {
      put_u32(kArray); put_u32(kString); put_u64(sa->size());
      for (const auto& s2 : *sa) put_str(s2);
    } else if (auto* da = std::get_if<std::vector<double>>(&v.v)) {
      put_u32(kArray); put_u32(kF32); put_u64(da->size());
      for (double x : *da) { float y = (float)x; put(&y, 4); }
    } else if (auto* ia = std::get_if<std::vector<int64_t>>(&v.v)) {
      put_u32(kArray); put_u32(kI32); put_u64(ia->size());
      for (int64_t x : *ia) { int32_t y = (int32_t)x; put(&y, 4); }
    } else {
      return make_error("empty metadata value for " + k);
    }
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors) {
    put_str(t.name);
    put_u32((uint32_t)t.shape.size());
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put_u64(*it);
    if (ggml_type_of(t.dtype) < 0 || (t.raw.empty() && !dtype_writable(t.dtype)))
      return make_error(std::string("cannot write tensor ") + t.name + " as " + dtype_name(t.dtype));
    put_u32((uint32_t)ggml_type_of(t.dtype));
    put_u64(offset);
    offsets.push_back(offset);
    offset += ((t.raw.empty() ? dtype_bytes(t.dtype, t.data.size()) : t.raw.size()) + 31) / 32 * 32;
  }
  auto pad = [&]() {
    auto pos = (uint64_t)f.tellp();
    static const char zeros[32] = {};
    put(zeros, (32 - pos % 32) % 32);
  };
  pad();
  for (const auto& t : tensors) {
    std::vector<uint8_t> bytes = t.raw;
    if (bytes.empty()) {
      bytes.resize(dtype_bytes(t.dtype, t.data.size()));
      quantize(t.dtype, t.data.data(), t.data.size(), bytes.data());
    }
    put(bytes.data(), bytes.size());
    pad();
  }
  return f ? Status::Ok() : Status(make_error("write to " + path + " failed"));
}

}  // namespace ls
