#include "store/private_files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include <sys/stat.h>

namespace es::store {

namespace {

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Status prepare_private_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status::io_error("cannot stat " + dir + ": " + std::strerror(errno));
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return Status::io_error("cannot create " + parent.string() + ": " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::io_error("cannot create data directory " + dir + ": " + std::strerror(errno));
    if (::chmod(dir.c_str(), 0700) != 0)  // whatever the umask left
      return Status::io_error("cannot chmod " + dir + ": " + std::strerror(errno));
    return {};
  }
  if (!S_ISDIR(st.st_mode)) return Status::invalid(dir + " is not a directory");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::invalid("data directory " + dir + " may be written by others (mode " +
                           octal(st.st_mode) +
                           "): refusing to use it; make it private with: " + "chmod 700 " + dir);
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn(
        "data directory {} may be read or entered by others (mode {}); its files are "
        "0600, but chmod 700 {} keeps even their names private",
        dir, octal(st.st_mode), dir);
  }
  return {};
}

Status make_private(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Status::io_error("cannot stat " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return {};
  if (::chmod(path.c_str(), st.st_mode & S_IRWXU) != 0)
    return Status::io_error("cannot chmod " + path + ": " + std::strerror(errno));
  spdlog::info("made {} private (mode {} was {})", path, octal(st.st_mode & S_IRWXU),
               octal(st.st_mode));
  return {};
}

}  // namespace es::store
