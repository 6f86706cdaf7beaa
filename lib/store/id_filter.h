// store/id_filter.h (private)
//
// A Bloom filter over the event ids LMDB holds, so that the writer's
// idempotency check of a new id (nearly every id appended) costs one cache
// line instead of a B-tree search in "ids" (with random v4 ids, a leaf page
// of its own per lookup). "No" is exact; "maybe" goes to LMDB as before, so
// a false positive costs only the lookup it saves otherwise.
//
// Guarantee: once ready() returns a filter, it holds every id in LMDB. It
// is built in the background from a scan of "ids" (until then ready() is
// null and every check goes to LMDB); the applier adds each id it brings
// into LMDB after the LMDB commit returns and before the tail lets go of
// the event, so an id is always in the tail or the filter. A filter that
// has taken more ids than it was sized for is rebuilt twice as large, the
// old one answering meanwhile.
//
// The layout is a split-block Bloom filter (Putze et al.; as Parquet and
// Impala use): 16 bits per id, each id sets one bit in each of the eight
// 32-bit words of one 32-byte block, about 0.1% false positives when full.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "es/result.h"
#include "es/uuid.h"

namespace es::store {

class IdFilter {
 public:
  // Room for `capacity` ids at 16 bits each (at least one block).
  explicit IdFilter(std::uint64_t capacity);
  ~IdFilter();
  IdFilter(const IdFilter&) = delete;
  IdFilter& operator=(const IdFilter&) = delete;

  // Either may run on any thread, at the same time as the other.
  void add(std::uint64_t hash);
  bool may_contain(std::uint64_t hash) const;
  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t added() const { return added_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t>* block(std::uint64_t hash) const;
  std::uint64_t capacity_;
  std::uint64_t blocks_;
  std::atomic<std::uint32_t>* words_;  // calloc'd: pages stay unmapped until set
  std::atomic<std::uint64_t> added_{0};
};

class IdFilters {
 public:
  // Calls each(key) for up to `limit` keys of "ids" after `*after` (all
  // from the start when empty), in one LMDB snapshot; sets *after to the
  // last key seen and *done when the index has no more.
  using Scan = std::function<Status(std::string* after, std::size_t limit,
                                    const std::function<void(std::string_view)>& each, bool* done)>;
  // Filters are sized for at least `min_capacity` ids.
  IdFilters(Scan scan, std::uint64_t min_capacity);
  ~IdFilters();  // stops a build under way

  std::uint64_t hash(const Uuid& id) const { return hash_uuid(id, seed_); }
  // The filter to ask (null until the first build has finished).
  std::shared_ptr<const IdFilter> ready() const;
  // Builds a filter for `ids_in_lmdb` ids and room to grow, in the background.
  void start(std::uint64_t ids_in_lmdb);
  // The applier: `hashes` are in LMDB now (its commit returned) and still
  // in the tail. Starts a larger build when the filter has filled up.
  void applied(std::span<const std::uint64_t> hashes);
  // Blocks until no build is under way (tests).
  void wait_built();

 private:
  void build(std::shared_ptr<IdFilter> filter);
  const Scan scan_;
  const std::uint64_t seed_;
  const std::uint64_t min_capacity_;
  mutable std::mutex mu_;
  std::shared_ptr<IdFilter> ready_, building_;
  std::thread builder_;
  std::atomic<bool> stop_{false};
};

}  // namespace es::store
