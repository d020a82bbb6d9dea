#include "core/util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "core/util/memory.h"

namespace ls {

namespace {

// What a non-regular file is, in words.
std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory, not a file";
  if (S_ISFIFO(m)) return "a FIFO (named pipe), not a regular file";
  if (S_ISCHR(m)) return "a character device, not a regular file";
  if (S_ISBLK(m)) return "a block device, not a regular file";
  if (S_ISSOCK(m)) return "a socket, not a regular file";
  return "not a regular file";
}

// Why stat() failed, for a path lstat() may still see (a link).
std::string why_missing(const std::string& path, int err) {
  struct stat ls {};
  if (err == ELOOP) return "is a symbolic link loop";
  if (lstat(path.c_str(), &ls) == 0 && S_ISLNK(ls.st_mode)) {
    char target[PATH_MAX + 1];
    const ssize_t n = readlink(path.c_str(), target, PATH_MAX);
    const std::string to = n > 0 ? std::string(target, (size_t)n) : std::string("?");
    if (err == ENOENT) return "is a symbolic link to " + clip(to) + ", which does not exist";
  }
  if (err == ENOENT) return "does not exist";
  if (err == EACCES) return "cannot be read (permission denied)";
  if (err == ENOTDIR) return "does not exist (a part of the path is not a folder)";
  if (err == ENAMETOOLONG) return "is too long a path";
  return std::string("cannot be opened: ") + std::strerror(err);
}

}  // namespace

std::string why_not_regular(const std::string& path) {
  if (path.empty()) return "is not given";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return why_missing(path, errno);
  if (!S_ISREG(st.st_mode)) return "is " + kind_of(st.st_mode);
  return "";
}

Status check_regular_file(const std::string& path, const std::string& what) {
  const std::string why = why_not_regular(path);
  if (why.empty()) return Status::Ok();
  return make_error(what + " " + clip(path) + " " + why);
}

Result<int> open_regular_file(const std::string& path, const std::string& what) {
  if (auto st = check_regular_file(path, what); !st) return make_error(st.error());
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return make_error(what + " " + clip(path) + " " + why_missing(path, errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string why = fstat(fd, &st) == 0 ? kind_of(st.st_mode) : std::string("not a regular file");
    ::close(fd);
    return make_error(what + " " + clip(path) + " is " + why);
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // a regular file: blocking reads as usual
  return fd;
}

Result<std::string> read_regular_file(const std::string& path, const std::string& what, size_t max_bytes) {
  auto fd = open_regular_file(path, what);
  if (!fd) return make_error(fd.error());
  struct stat st {};
  fstat(fd.value(), &st);
  const size_t size = (size_t)st.st_size;
  if (size > max_bytes) {
    ::close(fd.value());
    return make_error(what + " " + clip(path) + " is " + format_bytes(size) + ", larger than the " +
                      format_bytes(max_bytes) + " limit");
  }
  std::string s(size, '\0');
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd.value(), s.data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  ::close(fd.value());
  if (got != size) return make_error("cannot read " + what + " " + clip(path) + " (it changed while being read)");
  return s;
}

}  // namespace ls
