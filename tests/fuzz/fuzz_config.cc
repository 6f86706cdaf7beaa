// tests/fuzz/fuzz_config.cc
//
// libFuzzer harness for the files esd and es are configured with: the
// input is the text of an esd.toml, which Settings::resolve parses (toml++)
// and checks row by row, as `esd --config FILE` does; and the same text as
// an allow-list (esd --allow) and as a key file (--key-file, --server-key;
// es/curve.h). Each must load or be refused with kInvalidArgument, never
// crash. (The ESD_* environment is what the harness runs in: keep it empty
// when fuzzing.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "es/curve.h"

#include "../unit/temp_dir.h"
#include "settings.h"

#include <fcntl.h>
#include <unistd.h>

namespace {

// The file the input is written to, in a temp directory made once.
class ConfigFile {
 public:
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
    ::close(fd);
    return path_;
  }

 private:
  es::test::TempDir dir_{"es-fuzz-config"};
  std::string path_ = dir_.sub("esd.toml");
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ConfigFile file;
  auto settings = esd::Settings::resolve(file.write(data, size), {});
  if (settings.ok()) {
    (void)settings->to_toml();
  } else if (settings.status().code() != es::Code::kInvalidArgument) {
    std::abort();
  }
  const auto refused_otherwise = [](const es::Status& s) {
    return !s.ok() && s.code() != es::Code::kInvalidArgument;
  };
  const std::string& path = file.write(data, size);
  auto list = es::AllowList::load(path);
  if (refused_otherwise(list.status())) std::abort();
  if (list.ok() && (*list)->size() > size) std::abort();  // a key per line at most
  auto pair = es::load_key_pair(path);
  if (refused_otherwise(pair.status())) std::abort();
  if (pair.ok() && !(es::is_curve_key(pair->public_key) && es::is_curve_key(pair->secret_key)))
    std::abort();
  auto key = es::load_public_key(path);
  if (refused_otherwise(key.status())) std::abort();
  if (key.ok() && !es::is_curve_key(*key)) std::abort();
  return 0;
}
