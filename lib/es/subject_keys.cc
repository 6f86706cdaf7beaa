#include "es/subject_keys.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "es/digest.h"
#include "es/types.h"
#include "es/whole_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

namespace es {

namespace fs = std::filesystem;

namespace {

Status errno_status(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

// Whether `inner` is `outer` or below it (both made absolute).
bool is_within(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(inner), ec);
  const fs::path b = fs::weakly_canonical(fs::absolute(outer), ec);
  auto it = a.begin();
  for (const auto& part : b) {
    if (part.empty()) continue;
    if (it == a.end() || *it != part) return false;
    ++it;
  }
  return true;
}

}  // namespace

Status SubjectKeys::validate(std::string_view subject) { return validate_name("subject", subject); }

Result<std::unique_ptr<SubjectKeys>> SubjectKeys::open(const std::string& dir,
                                                       const std::string& data_dir) {
  if (dir.empty()) return Status::invalid("the subject key store needs a directory");
  if (!data_dir.empty() && is_within(dir, data_dir)) {
    return Status::invalid("the subject key store " + dir + " is inside the data directory " +
                           data_dir + ": its keys would be in the store's backups; put it apart");
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::io_error("cannot make " + dir + ": " + ec.message());
    if (::chmod(dir.c_str(), 0700) != 0) return errno_status("cannot make " + dir + " private");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return errno_status("cannot use " + dir);
  if (!S_ISDIR(st.st_mode)) return Status::invalid(dir + " is not a directory");
  if ((st.st_mode & 077) != 0) {
    return Status::invalid("the subject key store " + dir +
                           " may be entered by its group or others: chmod 700 it");
  }
  return std::unique_ptr<SubjectKeys>(new SubjectKeys(dir));
}

std::string SubjectKeys::path_of(std::string_view subject) const {
  std::array<std::uint8_t, 16> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(subject.data()), subject.size(),
                     nullptr, 0);
  return dir_ + "/" + to_hex(digest) + ".key";
}

Result<std::optional<SubjectKey>> SubjectKeys::get(std::string_view subject) const {
  ES_RETURN_IF_ERROR(validate(subject));
  std::lock_guard lock(mu_);
  return read_key(subject);
}

// REQUIRES: mu_ held.
Result<std::optional<SubjectKey>> SubjectKeys::read_key(std::string_view subject) const {
  if (auto it = cache_.find(std::string(subject)); it != cache_.end())
    return std::optional<SubjectKey>(it->second);
  const std::string path = path_of(subject);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<SubjectKey>();
  if (fd < 0) return errno_status("cannot read " + path);
  SubjectKey key{};
  const ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(key.size()))
    return Status::corruption("subject key file " + path + " is not " + std::to_string(key.size()) +
                              " bytes");
  cache_.emplace(std::string(subject), key);
  return std::optional<SubjectKey>(key);
}

// REQUIRES: mu_ held.
Status SubjectKeys::write_key(std::string_view subject, const SubjectKey& key) {
  ES_RETURN_IF_ERROR(write_whole_file(
      path_of(subject), std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
      0600, FileReplace::kAllowed, FileSync::kDurable));
  cache_[std::string(subject)] = key;
  return {};
}

Status SubjectKeys::put(std::string_view subject, const SubjectKey& key) {
  ES_RETURN_IF_ERROR(validate(subject));
  std::lock_guard lock(mu_);
  return write_key(subject, key);
}

Result<SubjectKey> SubjectKeys::get_or_create(std::string_view subject) {
  ES_RETURN_IF_ERROR(validate(subject));
  std::lock_guard lock(mu_);
  auto have = read_key(subject);
  if (!have.ok()) return have.status();
  if (*have) return **have;
  static const bool initialized = sodium_init() >= 0;
  (void)initialized;
  SubjectKey key{};
  randombytes_buf(key.data(), key.size());
  ES_RETURN_IF_ERROR(write_key(subject, key));
  return key;
}

Status SubjectKeys::destroy(std::string_view subject) {
  ES_RETURN_IF_ERROR(validate(subject));
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(std::string(subject)); it != cache_.end()) {
    sodium_memzero(it->second.data(), it->second.size());
    cache_.erase(it);
  }
  const std::string path = path_of(subject);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return {};
  if (fd < 0) return errno_status("cannot destroy " + path);
  const SubjectKey zeros{};
  const bool wiped =
      ::pwrite(fd, zeros.data(), zeros.size(), 0) == static_cast<ssize_t>(zeros.size()) &&
      ::fdatasync(fd) == 0;
  ::close(fd);
  if (!wiped) return errno_status("cannot overwrite " + path);
  if (::unlink(path.c_str()) != 0) return errno_status("cannot remove " + path);
  return sync_dir(dir_);
}

}  // namespace es
