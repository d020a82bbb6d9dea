#include "core/model/mapped_file.h"

#include "core/util/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ls {

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path, const std::string& what) {
  auto opened = open_regular_file(path, what);  // a FIFO or device is refused, never waited on
  if (!opened) return make_error(opened.error());
  const int fd = opened.value();
  struct stat st {};
  fstat(fd, &st);
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = (size_t)st.st_size;
  if (f->size_ > 0) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return make_error("cannot map " + path + ": " + std::strerror(errno));
    }
    f->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return f;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace ls
