// tests/fuzz/driver.cc
//
// Runs a libFuzzer harness without libFuzzer (any compiler): each argument
// is a file, or a directory whose files (recursively) are, fed once to
// LLVMFuzzerTestOneInput. The fuzz-regressions test runs every harness over
// its seed corpus and its past crashes (tests/fuzz/regressions/) this way,
// in the plain and sanitizer builds; a crash fails the test.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int failed = 0;
  int ran = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else if (std::filesystem::exists(arg)) {
      files.push_back(arg);
    }
    for (const auto& f : files) {
      failed += run_file(f);
      ++ran;
    }
  }
  std::printf("%s: %d input(s) ran\n", argc > 0 ? argv[0] : "driver", ran);
  return failed == 0 ? 0 : 1;
}
