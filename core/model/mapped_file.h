// A read-only memory-mapped file (RAII). Errors are values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/util/status.h"

namespace ls {

class MappedFile {
 public:
  // A regular file only (tokenizer/util: files.h); `what` names it in errors.
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path, const std::string& what = "file");
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace ls
