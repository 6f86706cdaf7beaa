#include "es/whole_file.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace es {

namespace {

Status errno_status(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

}  // namespace

Status write_whole_file(const std::string& path, std::string_view text, mode_t mode,
                        FileReplace replace, FileSync sync) {
  struct stat st {};
  if (replace == FileReplace::kRefused && ::lstat(path.c_str(), &st) == 0)
    return Status::invalid(path + " exists already: not replacing it");
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover of an interrupted write, possibly of another mode
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("cannot write " + tmp);
  const bool written = ::fchmod(fd, mode) == 0 &&
                       ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       (sync == FileSync::kNone || ::fdatasync(fd) == 0);
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    Status s = errno_status("cannot write " + tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = errno_status("cannot write " + path);
    ::unlink(tmp.c_str());
    return s;
  }
  if (sync == FileSync::kDurable) {
    const std::size_t slash = path.rfind('/');
    return sync_dir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
  }
  return {};
}

Status sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot sync " + dir);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  return synced ? Status() : errno_status("cannot sync " + dir);
}

}  // namespace es
