// tests/fuzz/fuzz_journal.cc
//
// libFuzzer harness for the journal (store/journal.h) as recovery reads it
// after a crash: the frames a journal file holds, and the entries (event
// records, checkpoint moves and removals) in each frame's payload. The
// input's first byte picks what it is:
//   0: the bytes of the ring from offset 4096 (frames as found on disk:
//      most fail their CRCs, the torn-write case);
//   1: one frame's payload, sealed by Journal::write (valid header and
//      CRCs), so that the entries inside are what the fuzzer varies;
//   2: the file's first 4096 bytes (its header).
// Then the journal is opened and replayed from the ring's start, and each
// frame's entries are split as the Store's applier splits them, the events
// decoded with store/codec.h. Everything must end in a value or a Status.
// The file lives in a temp directory made once per process.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "../unit/temp_dir.h"
#include "store/codec.h"
#include "store/journal.h"

#include <fcntl.h>
#include <unistd.h>

namespace {

using es::store::Journal;
constexpr std::uint64_t kFileBytes = Journal::kMinSize;

// The journal file, made once; cleared before each input.
class JournalFile {
 public:
  JournalFile() {
    auto j = Journal::open(path_, kFileBytes);
    if (!j.ok()) std::abort();
    header_.resize(Journal::kRingStart);
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 ||
        ::pread(fd, header_.data(), header_.size(), 0) != static_cast<ssize_t>(header_.size()))
      std::abort();
    ::close(fd);
  }
  const std::string& path() const { return path_; }

  // The file as Journal::open made it, then `bytes` at `offset`.
  void reset(std::uint64_t offset, std::string_view bytes) {
    std::string image(kFileBytes, '\0');
    image.replace(0, header_.size(), header_);
    image.replace(offset, std::min<std::size_t>(bytes.size(), kFileBytes - offset), bytes.data(),
                  std::min<std::size_t>(bytes.size(), kFileBytes - offset));
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::pwrite(fd, image.data(), image.size(), 0) != static_cast<ssize_t>(kFileBytes))
      std::abort();
    ::close(fd);
  }

 private:
  es::test::TempDir dir_{"es-fuzz-journal"};
  std::string path_ = dir_.sub("journal");
  std::string header_;
};

std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
}

// A frame's entries, split as Store's applier (store_apply.cc) splits them.
es::Status apply(const Journal::Frame& f) {
  std::string_view payload = f.payload;
  while (!payload.empty()) {
    if (payload.size() < 5) return es::Status::corruption("an entry is truncated");
    const std::uint32_t n = get_u32(payload.data() + 1);
    if (payload.size() - 5 < n) return es::Status::corruption("an entry is truncated");
    const auto kind = static_cast<std::uint8_t>(payload[0]);
    const std::string_view body = payload.substr(5, n);
    payload.remove_prefix(5 + std::size_t{n});
    if (kind == Journal::kCheckpoint) {
      if (body.size() < 9) return es::Status::corruption("a checkpoint entry is malformed");
      continue;
    }
    if (kind == Journal::kCheckpointRemoved) continue;
    if (kind != Journal::kEvent) return es::Status::corruption("unknown entry kind");
    es::store::RecordKeys k;
    ES_RETURN_IF_ERROR(es::store::decode_keys(body, &k));
    es::RecordedEvent e;
    (void)es::store::decode_record(body, &e);
  }
  return {};
}

void replay(const std::string& path) {
  auto j = Journal::open(path, 0);
  if (!j.ok()) return;
  (void)(*j)->replay(es::store::JournalAt{}, 1, apply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static JournalFile file;
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      file.reset(Journal::kRingStart, rest);
      break;
    case 1: {
      file.reset(Journal::kRingStart, {});
      auto j = Journal::open(file.path(), 0);
      if (!j.ok()) std::abort();
      std::string frame;
      Journal::begin(&frame);
      frame.append(rest.substr(0, (*j)->max_payload()));
      (*j)->start(1);
      if (!(*j)->write(&frame, 1, 1 + data[0] / 3 % 4, 1).ok()) std::abort();
      break;
    }
    default:
      file.reset(0, rest.substr(0, Journal::kRingStart));
      break;
  }
  replay(file.path());
  return 0;
}
