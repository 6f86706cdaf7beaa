// store/journal.h (private)
//
// The journal: a preallocated ring file (`journal` in the data directory)
// in front of LMDB. Each commit group is one frame, written with one pwrite
// that is durable when it returns (O_DIRECT | O_DSYNC; a buffered write and
// fdatasync where the file system has no O_DIRECT) before any of it is
// acknowledged.
// LMDB is brought up to date from the frames later, in large batches (the
// Store's applier), and a frame's space is reused only after the LMDB
// commit that covers it has returned. After a crash, recovery replays the
// frames that follow LMDB's head.
//
// On-disk format (integers little-endian):
//   file        := file_header ring
//   file_header := "ESJOURN1" version:u32 (1) 0:u32 size:u64 crc:u32 zeros
//                  (4096 bytes; crc is the CRC-32C of the 24 bytes before it)
//   ring        := frames, each at a 4096-byte boundary, from offset 4096
//                  to the end of the file, among stale bytes of earlier laps
//   frame       := header payload trailer zeros (to a 4096-byte boundary)
//   header      := magic:u32 (0x464a5345, "ESJF") version:u16 (1) 0:u16
//                  lap:u64 first:u64 count:u32 length:u32 header_crc:u32 0:u32
//                  (40 bytes; header_crc covers the 32 bytes before it; the
//                  zero fields must be zero)
//   payload     := entry* (length bytes)
//   entry       := kind:u8 size:u32 bytes
//                  kind 1: an event: its log record (store/codec.h) with its
//                          chain; a frame's events hold positions first,
//                          first + 1, ..., in order
//                  kind 2: a checkpoint move: position:u64 name
//                  kind 3: a checkpoint removal: name
//   trailer     := crc:u32 (CRC-32C of header and payload) 0:u32
//                  last:u64 (first + count - 1)                  (16 bytes)
// `lap` counts passes over the ring: a frame that does not fit before the
// end of the file goes to offset 4096 with lap + 1 (and only such a frame
// is looked for there when the one expected is missing).
//
// Recovery: LMDB stores, in each transaction that applies frames, where the
// next frame starts (lap, offset). From there frames are read while they
// are valid (magic, version, lap, both CRCs, last) and start at the next
// position (at the next offset, or at 4096 with lap + 1 where the writer
// wrapped); the first that is not ends the journal: a write torn by the
// crash. At most kMaxInFlight frames are written before the frames before
// them are durable, so more valid frames after a failing one mean that an
// acknowledged frame is damaged: replay fails with kCorruption rather than
// truncate. After recovery, writing resumes at offset 4096 of a new lap, so
// no stale frame can be taken for a new one.
//
// Thread safety: one thread (the Store's writer) calls everything after open.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "es/store.h"
#include "es/types.h"

namespace es::store {

// Where a frame starts.
struct JournalAt {
  std::uint64_t lap = 1;
  std::uint64_t offset = 4096;
  bool operator==(const JournalAt&) const = default;
};

class Journal {
 public:
  static constexpr std::uint64_t kBlock = 4096;
  static constexpr std::uint64_t kRingStart = 4096;
  static constexpr std::uint64_t kMinSize = kMinJournalBytes;
  static constexpr std::uint64_t kDefaultSize = 128u << 20;
  static constexpr std::size_t kHeaderBytes = 40;
  static constexpr std::size_t kTrailerBytes = 16;
  static constexpr int kMaxInFlight = 1;
  enum EntryKind : std::uint8_t { kEvent = 1, kCheckpoint = 2, kCheckpointRemoved = 3 };

  // Opens the journal at `path`, creating it when missing: `size` bytes
  // (rounded down to 4 KiB; 0: kDefaultSize), zero-filled, then the file and
  // its directory synced. An existing journal keeps its size when `size` is
  // 0; otherwise it is made again at `size` (only before recovery has
  // anything to replay: see Store::open).
  static Result<std::unique_ptr<Journal>> open(const std::string& path, std::uint64_t size);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // The largest payload a frame may hold: what half the ring takes.
  std::size_t max_payload() const;

  // ---- recovery
  struct Frame {
    JournalAt at;
    JournalAt next;  // where the frame after it starts, unless the writer wrapped
    Position first = 0;
    std::uint32_t count = 0;
    std::string_view payload;
  };
  // Hands every valid frame from `from` on, the first holding `first`, to
  // `apply`, in order; returns where the journal ends (the first frame that
  // is not valid). An error from `apply` ends the replay with it.
  Result<JournalAt> replay(JournalAt from, Position first,
                           const std::function<Status(const Frame&)>& apply) const;
  // Makes the file `size` bytes again (zero-filled, synced); only when
  // nothing in it is needed any more.
  Status remake(std::uint64_t size);

  // ---- writing
  // Writing starts at offset 4096 of `lap`; nothing written is unapplied.
  void start(std::uint64_t lap);
  JournalAt write_point() const { return at_; }
  // A frame under construction: begin(), add_*(), then write().
  static void begin(std::string* frame);
  static void add_event(std::string* frame, std::string_view record);
  static void add_checkpoint(std::string* frame, std::string_view name, Position position);
  static void add_checkpoint_removal(std::string* frame, std::string_view name);
  static std::size_t payload_bytes(const std::string& frame) { return frame.size() - kHeaderBytes; }
  // The bytes `frame` takes in the ring once sealed.
  static std::size_t frame_bytes(std::size_t payload);
  // Whether the ring has room for a frame of `payload` bytes now, without
  // overwriting a frame that is not yet applied.
  bool has_room(std::size_t payload) const;
  // Seals `frame` (header, trailer, padding: it grows), writes it at the
  // write point (or at 4096 of the next lap) with one pwrite, and
  // fdatasyncs. `seq` names the frame for release(). Returns where the next
  // frame starts. Any error is kIOError: the frame may or may not be
  // durable, and nothing after it may be acknowledged.
  Result<JournalAt> write(std::string* frame, Position first, std::uint32_t count,
                          std::uint64_t seq);
  // Frames up to `seq` are in LMDB: their space may be reused.
  void release(std::uint64_t seq);
  std::size_t unapplied_frames() const { return written_.size(); }
  std::size_t unapplied_bytes() const { return unapplied_bytes_; }

 private:
  Journal() = default;
  Status create(std::uint64_t size);
  void open_direct();
  Status check_file_header();
  // Reads and checks the frame at `at`, which must start at `first`.
  bool read_frame(JournalAt at, Position first, std::string* buf, Frame* out) const;
  bool read_wrapped(JournalAt at, Position first, std::string* buf, Frame* out) const;
  // The number of valid frames that follow a failing one at `at`.
  int frames_after(JournalAt at, Position first) const;

  struct Written {
    std::uint64_t seq;
    std::uint64_t lap;
    std::uint64_t offset;
    std::uint64_t bytes;
  };
  std::string path_;
  int fd_ = -1;
  int direct_fd_ = -1;       // O_DIRECT | O_DSYNC, where the file system allows it
  char* staging_ = nullptr;  // an aligned copy of the frame, for direct_fd_
  std::size_t staging_bytes_ = 0;
  std::uint64_t size_ = 0;
  JournalAt at_;
  std::deque<Written> written_;  // not yet applied, oldest first
  std::size_t unapplied_bytes_ = 0;
};

}  // namespace es::store
