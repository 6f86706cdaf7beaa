#include "store/id_filter.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <random>

#include <spdlog/spdlog.h>

namespace es::store {

namespace {

// The split-block filter's salts (Parquet's): one odd multiplier per word.
constexpr std::uint32_t kSalt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                    0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};
constexpr std::uint64_t kBitsPerId = 16;
constexpr std::uint64_t kBitsPerBlock = 256;
constexpr std::size_t kScanChunk = 65536;  // keys per LMDB snapshot while building

std::uint32_t bit_of(std::uint64_t hash, int word) {
  return std::uint32_t{1} << ((static_cast<std::uint32_t>(hash) * kSalt[word]) >> 27);
}

}  // namespace

IdFilter::IdFilter(std::uint64_t capacity)
    : capacity_(capacity),
      blocks_(std::max<std::uint64_t>(1, capacity * kBitsPerId / kBitsPerBlock)) {
  words_ = static_cast<std::atomic<std::uint32_t>*>(
      std::calloc(blocks_ * 8, sizeof(std::atomic<std::uint32_t>)));
  if (words_ == nullptr) throw std::bad_alloc();
}

IdFilter::~IdFilter() { std::free(words_); }

std::atomic<std::uint32_t>* IdFilter::block(std::uint64_t hash) const {
  return words_ + 8 * (((hash >> 32) * blocks_) >> 32);
}

void IdFilter::add(std::uint64_t hash) {
  std::atomic<std::uint32_t>* b = block(hash);
  for (int w = 0; w < 8; ++w) b[w].fetch_or(bit_of(hash, w), std::memory_order_relaxed);
  added_.fetch_add(1, std::memory_order_relaxed);
}

bool IdFilter::may_contain(std::uint64_t hash) const {
  const std::atomic<std::uint32_t>* b = block(hash);
  for (int w = 0; w < 8; ++w)
    if ((b[w].load(std::memory_order_relaxed) & bit_of(hash, w)) == 0) return false;
  return true;
}

IdFilters::IdFilters(Scan scan, std::uint64_t min_capacity)
    : scan_(std::move(scan)),
      seed_(std::uint64_t{std::random_device{}()} << 32 | std::random_device{}()),
      min_capacity_(std::max<std::uint64_t>(min_capacity, 1)) {}

IdFilters::~IdFilters() {
  stop_.store(true, std::memory_order_relaxed);
  if (builder_.joinable()) builder_.join();
}

std::shared_ptr<const IdFilter> IdFilters::ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

void IdFilters::start(std::uint64_t ids_in_lmdb) {
  std::lock_guard lock(mu_);
  if (building_ != nullptr) return;
  if (builder_.joinable()) builder_.join();  // a finished build's thread
  // Published before the scan's first snapshot: whatever the applier
  // commits from now on, it adds; whatever it committed before, the scan sees.
  building_ = std::make_shared<IdFilter>(std::max(min_capacity_, 2 * ids_in_lmdb));
  builder_ = std::thread([this, f = building_] { build(f); });
}

void IdFilters::build(std::shared_ptr<IdFilter> filter) {
  std::string after;
  bool done = false;
  Status s;
  while (!done && s.ok() && !stop_.load(std::memory_order_relaxed)) {
    s = scan_(
        &after, kScanChunk,
        [&](std::string_view key) {
          if (key.size() != 16) return;  // not an id; "maybe" stays LMDB's answer
          Uuid id;
          std::memcpy(id.bytes.data(), key.data(), 16);
          filter->add(hash(id));
        },
        &done);
  }
  std::lock_guard lock(mu_);
  building_ = nullptr;
  if (!done) {
    // The ids are checked in LMDB alone until a later build succeeds.
    if (!s.ok()) spdlog::warn("store: building the id filter failed: {}", s.to_string());
    return;
  }
  ready_ = std::move(filter);
}

void IdFilters::applied(std::span<const std::uint64_t> hashes) {
  std::shared_ptr<IdFilter> ready, building;
  {
    std::lock_guard lock(mu_);
    ready = ready_;
    building = building_;
  }
  for (std::uint64_t h : hashes) {
    if (ready) ready->add(h);
    if (building) building->add(h);
  }
  if (ready && !building && ready->added() > ready->capacity()) start(ready->added());
}

void IdFilters::wait_built() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    t = std::move(builder_);
  }
  if (t.joinable()) t.join();
}

}  // namespace es::store
