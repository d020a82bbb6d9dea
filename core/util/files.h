// Opening the files users name: models, shards, configs, tokenizers, documents,
// sessions. Only regular files are opened (symbolic links to them are followed, as
// the Hugging Face cache needs); a FIFO, device, socket or directory is refused with
// a line saying what it is, before anything could block on it, and a missing file,
// a dangling link and a link loop each get their own plain message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/util/status.h"

namespace ls {

// Ok when `path` names a regular file (through any symbolic links); otherwise an
// error "<what> <path> is a FIFO (named pipe), not a regular file", "… does not
// exist", "… is a symbolic link to … which does not exist", "… is a symbolic link
// loop", "… is a directory, not a file", … `what` is "model", "tokenizer", ….
Status check_regular_file(const std::string& path, const std::string& what);
// The reason alone ("does not exist", "is a FIFO (named pipe), not a regular file",
// …), or "" for a regular file.
std::string why_not_regular(const std::string& path);

// Opens `path` for reading as a regular file: the open itself never blocks (it is
// made with O_NONBLOCK and the type is checked on the open descriptor, so a FIFO
// swapped in after a check is refused too). Returns the descriptor (close it).
Result<int> open_regular_file(const std::string& path, const std::string& what);

// The whole of a regular file of at most `max_bytes`.
Result<std::string> read_regular_file(const std::string& path, const std::string& what, size_t max_bytes);

}  // namespace ls
