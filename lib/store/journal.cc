#include "store/journal.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "store/crc32c.h"
#include "store/lmdb.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace es::store {
namespace {

constexpr char kFileMagic[8] = {'E', 'S', 'J', 'O', 'U', 'R', 'N', '1'};
constexpr std::uint32_t kFileVersion = 1;
constexpr std::size_t kFileHeaderBytes = 28;
constexpr std::uint32_t kFrameMagic = 0x464a5345;  // "ESJF"
constexpr std::uint16_t kFrameVersion = 1;
constexpr std::uint64_t kProbeBytes = 1u << 20;  // how far past a failing frame replay looks

std::uint64_t round_up(std::uint64_t n, std::uint64_t to) { return (n + to - 1) / to * to; }

void put_u16(char* p, std::uint16_t v) { std::memcpy(p, &v, 2); }
void put_u32(char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
std::uint16_t get_u16(const char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string errno_text() { return std::strerror(errno); }

// pwrite of all of `n` bytes, or an errno.
int pwrite_all(int fd, const char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
  return 0;
}

bool pread_all(int fd, char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open " + dir + ": " + errno_text());
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::io_error("cannot sync " + dir + ": " + std::strerror(err));
  return {};
}

// The header fields of a frame (the first kHeaderBytes bytes).
struct Header {
  std::uint64_t lap = 0;
  Position first = 0;
  std::uint32_t count = 0;
  std::uint32_t length = 0;
};

bool parse_header(const char* p, Header* h) {
  if (get_u32(p) != kFrameMagic || get_u16(p + 4) != kFrameVersion) return false;
  if (get_u32(p + 32) != crc32c(p, 32) || get_u32(p + 36) != 0) return false;
  h->lap = get_le64(p + 8);
  h->first = get_le64(p + 16);
  h->count = get_u32(p + 24);
  h->length = get_u32(p + 28);
  return true;
}

}  // namespace

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
  std::free(staging_);
}

// Frames are written through a second descriptor with O_DIRECT | O_DSYNC:
// one system call per frame, and on this kind of disk a fifth faster than
// a buffered write and fdatasync. File systems without O_DIRECT (tmpfs)
// get the buffered write and fdatasync.
void Journal::open_direct() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  direct_fd_ = ::open(path_.c_str(), O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
}

Result<std::unique_ptr<Journal>> Journal::open(const std::string& path, std::uint64_t size) {
  std::unique_ptr<Journal> j(new Journal());
  j->path_ = path;
  j->fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (j->fd_ < 0 && errno != ENOENT) {
    return Status::io_error("cannot open the journal " + path + ": " + errno_text());
  }
  if (j->fd_ < 0) {
    ES_RETURN_IF_ERROR(j->create(size == 0 ? kDefaultSize : size));
  } else {
    ES_RETURN_IF_ERROR(j->check_file_header());
  }
  j->open_direct();
  return j;
}

Status Journal::create(std::uint64_t size) {
  size = size / kBlock * kBlock;
  if (size < kMinSize) {
    return Status::invalid("a journal is at least " + std::to_string(kMinSize >> 10) +
                           " KiB, not " + std::to_string(size) + " bytes");
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  const std::string tmp = path_ + ".new";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + errno_text());
  std::string block(1u << 20, '\0');
  int err = 0;
  for (std::uint64_t off = 0; off < size && err == 0; off += block.size()) {
    err = pwrite_all(fd, block.data(), std::min<std::uint64_t>(block.size(), size - off), off);
  }
  char header[kFileHeaderBytes];
  std::memcpy(header, kFileMagic, 8);
  put_u32(header + 8, kFileVersion);
  put_u32(header + 12, 0);
  put_le64(header + 16, size);
  put_u32(header + 24, crc32c(header, 24));
  if (err == 0) err = pwrite_all(fd, header, sizeof header, 0);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (err != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    Status s(err == ENOSPC ? Code::kDiskFull : Code::kIOError,
             "cannot create the journal " + path_ + " of " + std::to_string(size) +
                 " bytes: " + std::strerror(err));
    if (err == ENOSPC) s = Status(s.code(), s.message() + " (a smaller --journal-size fits)");
    return s;
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    err = errno;
    ::close(fd);
    return Status::io_error("cannot rename " + tmp + ": " + std::strerror(err));
  }
  fd_ = fd;
  size_ = size;
  return sync_dir(std::filesystem::path(path_).parent_path().string());
}

Status Journal::check_file_header() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Status::io_error("cannot stat " + path_ + ": " + errno_text());
  char h[kFileHeaderBytes];
  if (!pread_all(fd_, h, sizeof h, 0) || std::memcmp(h, kFileMagic, 8) != 0 ||
      get_u32(h + 24) != crc32c(h, 24)) {
    return Status::corruption("the journal " + path_ + " has no valid header");
  }
  if (get_u32(h + 8) != kFileVersion) {
    return Status::corruption("the journal " + path_ + " has format " +
                              std::to_string(get_u32(h + 8)) + "; this esd reads format " +
                              std::to_string(kFileVersion));
  }
  size_ = get_le64(h + 16);
  if (size_ != static_cast<std::uint64_t>(st.st_size) || size_ < kMinSize || size_ % kBlock != 0) {
    return Status::corruption("the journal " + path_ + " says it is " + std::to_string(size_) +
                              " bytes, but the file has " + std::to_string(st.st_size));
  }
  return {};
}

Status Journal::remake(std::uint64_t size) {
  written_.clear();
  unapplied_bytes_ = 0;
  ES_RETURN_IF_ERROR(create(size));
  open_direct();
  return {};
}

std::size_t Journal::max_payload() const {
  return static_cast<std::size_t>((size_ - kRingStart) / 2 - kHeaderBytes - kTrailerBytes);
}

std::size_t Journal::frame_bytes(std::size_t payload) {
  return static_cast<std::size_t>(round_up(kHeaderBytes + payload + kTrailerBytes, kBlock));
}

void Journal::begin(std::string* frame) { frame->assign(kHeaderBytes, '\0'); }

void Journal::add_event(std::string* frame, std::string_view record) {
  char h[5];
  h[0] = static_cast<char>(kEvent);
  put_u32(h + 1, static_cast<std::uint32_t>(record.size()));
  frame->append(h, 5);
  frame->append(record);
}

void Journal::add_checkpoint(std::string* frame, std::string_view name, Position position) {
  char h[13];
  h[0] = static_cast<char>(kCheckpoint);
  put_u32(h + 1, static_cast<std::uint32_t>(8 + name.size()));
  put_le64(h + 5, position);
  frame->append(h, 13);
  frame->append(name);
}

void Journal::add_checkpoint_removal(std::string* frame, std::string_view name) {
  char h[5];
  h[0] = static_cast<char>(kCheckpointRemoved);
  put_u32(h + 1, static_cast<std::uint32_t>(name.size()));
  frame->append(h, 5);
  frame->append(name);
}

void Journal::start(std::uint64_t lap) {
  at_ = JournalAt{lap, kRingStart};
  written_.clear();
  unapplied_bytes_ = 0;
}

bool Journal::has_room(std::size_t payload) const {
  const std::uint64_t n = frame_bytes(payload);
  if (n > size_ - kRingStart) return false;
  if (written_.empty()) return true;
  const Written& oldest = written_.front();
  if (at_.lap == oldest.lap) {
    // Ahead of the oldest unapplied frame, in its pass: up to the end of
    // the file, or from the ring's start up to the oldest.
    return at_.offset + n <= size_ || kRingStart + n <= oldest.offset;
  }
  // One pass later, behind it: only up to it. (Wrapping here would go over
  // this pass's own unapplied frames at the ring's start.)
  return at_.offset + n <= oldest.offset;
}

Result<JournalAt> Journal::write(std::string* frame, Position first, std::uint32_t count,
                                 std::uint64_t seq) {
  const std::size_t payload = payload_bytes(*frame);
  const std::uint64_t n = frame_bytes(payload);
  JournalAt place = at_;
  if (place.offset + n > size_) place = JournalAt{at_.lap + 1, kRingStart};
  char* h = frame->data();
  put_u32(h, kFrameMagic);
  put_u16(h + 4, kFrameVersion);
  put_u16(h + 6, 0);
  put_le64(h + 8, place.lap);
  put_le64(h + 16, first);
  put_u32(h + 24, count);
  put_u32(h + 28, static_cast<std::uint32_t>(payload));
  put_u32(h + 32, crc32c(h, 32));
  put_u32(h + 36, 0);
  char trailer[kTrailerBytes];
  put_u32(trailer, crc32c(frame->data(), frame->size()));
  put_u32(trailer + 4, 0);
  put_le64(trailer + 8, first + count - 1);
  frame->append(trailer, kTrailerBytes);
  frame->resize(n, '\0');
  int err = 0;
  if (direct_fd_ >= 0) {
    if (staging_bytes_ < frame->size()) {
      std::free(staging_);
      staging_bytes_ = std::max<std::size_t>(frame->size(), 64u << 10);
      staging_ = static_cast<char*>(std::aligned_alloc(kBlock, staging_bytes_));
      if (staging_ == nullptr) staging_bytes_ = 0;
    }
    if (staging_ == nullptr) {
      err = ENOMEM;
    } else {
      std::memcpy(staging_, frame->data(), frame->size());
      err = pwrite_all(direct_fd_, staging_, frame->size(), place.offset);
    }
  } else {
    err = pwrite_all(fd_, frame->data(), frame->size(), place.offset);
    if (err == 0 && ::fdatasync(fd_) != 0) err = errno;
  }
  frame->resize(kHeaderBytes + payload);  // the caller's payload, as it was
  if (err != 0) {
    return Status::io_error("journal write at offset " + std::to_string(place.offset) + ": " +
                            std::strerror(err));
  }
  written_.push_back(Written{seq, place.lap, place.offset, n});
  unapplied_bytes_ += n;
  at_ = JournalAt{place.lap, place.offset + n};
  return at_;
}

void Journal::release(std::uint64_t seq) {
  while (!written_.empty() && written_.front().seq <= seq) {
    unapplied_bytes_ -= written_.front().bytes;
    written_.pop_front();
  }
}

bool Journal::read_frame(JournalAt at, Position first, std::string* buf, Frame* out) const {
  if (at.offset < kRingStart || at.offset % kBlock != 0 || at.offset + kBlock > size_) return false;
  char h[kHeaderBytes];
  if (!pread_all(fd_, h, sizeof h, at.offset)) return false;
  Header hd;
  if (!parse_header(h, &hd) || hd.lap != at.lap || hd.first != first) return false;
  const std::uint64_t n = frame_bytes(hd.length);
  if (at.offset + n > size_) return false;
  buf->resize(kHeaderBytes + hd.length + kTrailerBytes);
  std::memcpy(buf->data(), h, kHeaderBytes);
  if (!pread_all(fd_, buf->data() + kHeaderBytes, hd.length + kTrailerBytes,
                 at.offset + kHeaderBytes)) {
    return false;
  }
  const char* t = buf->data() + kHeaderBytes + hd.length;
  if (get_u32(t) != crc32c(buf->data(), kHeaderBytes + hd.length) || get_u32(t + 4) != 0)
    return false;
  if (get_le64(t + 8) != hd.first + hd.count - 1) return false;
  out->at = at;
  out->next = JournalAt{at.lap, at.offset + n};
  out->first = hd.first;
  out->count = hd.count;
  out->payload = std::string_view(buf->data() + kHeaderBytes, hd.length);
  return true;
}

// The frame the writer put at the ring's start, with the next lap, because
// it did not fit at `at`: only then.
bool Journal::read_wrapped(JournalAt at, Position first, std::string* buf, Frame* out) const {
  if (!read_frame({at.lap + 1, kRingStart}, first, buf, out)) return false;
  return at.offset + (out->next.offset - kRingStart) > size_;
}

int Journal::frames_after(JournalAt at, Position first) const {
  std::string buf;
  Frame f;
  // Where the failing frame's header is whole, the next frame is where it says.
  char h[kHeaderBytes];
  Header hd;
  if (at.offset + kHeaderBytes <= size_ && pread_all(fd_, h, sizeof h, at.offset) &&
      parse_header(h, &hd) && hd.lap == at.lap && hd.first == first) {
    const Position next = first + hd.count;
    const JournalAt after{at.lap, at.offset + frame_bytes(hd.length)};
    if (read_frame(after, next, &buf, &f) || read_wrapped(after, next, &buf, &f))
      return 1 + frames_after(f.next, next + f.count);
  }
  // Otherwise look for any frame of this pass (or the next) beyond it.
  int found = 0;
  auto probe = [&](std::uint64_t lap, std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t off = from; off + kBlock <= std::min(to, size_); off += kBlock) {
      if (!pread_all(fd_, h, sizeof h, off) || !parse_header(h, &hd) || hd.lap != lap ||
          hd.first <= first)
        continue;
      if (read_frame({lap, off}, hd.first, &buf, &f)) ++found;
    }
  };
  probe(at.lap, at.offset + kBlock, at.offset + kProbeBytes);
  probe(at.lap + 1, kRingStart, kRingStart + kProbeBytes);
  return found;
}

Result<JournalAt> Journal::replay(JournalAt from, Position first,
                                  const std::function<Status(const Frame&)>& apply) const {
  std::string buf;
  Frame f;
  JournalAt at = from;
  Position next = first;
  for (;;) {
    if (!read_frame(at, next, &buf, &f) && !read_wrapped(at, next, &buf, &f)) break;
    ES_RETURN_IF_ERROR(apply(f));
    next += f.count;
    at = f.next;
  }
  if (int after = frames_after(at, next); after > kMaxInFlight - 1) {
    return Status::corruption("the journal " + path_ + " is damaged: the frame at offset " +
                              std::to_string(at.offset) + " (position " + std::to_string(next) +
                              ") does not check, but " + std::to_string(after) +
                              " valid frame(s) follow it; refusing to start rather than drop "
                              "acknowledged events (see esd(8), RECOVERY)");
  }
  return at;
}

}  // namespace es::store
