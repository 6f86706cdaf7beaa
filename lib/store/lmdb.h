// store/lmdb.h (private)
//
// RAII owners for LMDB handles. A Txn that is destroyed without commit()
// aborts; commit() consumes the handle because LMDB frees it even when the
// commit fails. Errors become a Status at this edge (lmdb_status).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include <lmdb.h>

#include "es/result.h"

namespace es::store {

// Maps an LMDB or errno return code onto a Status naming the operation.
Status lmdb_status(int rc, std::string_view op);

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view to_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

class Txn {
 public:
  Txn() = default;
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    abort();
    txn_ = std::exchange(o.txn_, nullptr);
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  static Result<Txn> begin(MDB_env* env, unsigned flags) {
    MDB_txn* t = nullptr;
    int rc = mdb_txn_begin(env, nullptr, flags, &t);
    if (rc != 0) return lmdb_status(rc, "mdb_txn_begin");
    Txn txn;
    txn.txn_ = t;
    return txn;
  }
  Status commit() { return lmdb_status(commit_rc(), "mdb_txn_commit"); }
  // The same, returning LMDB's code (the handle is consumed either way).
  int commit_rc() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }
  void abort() {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  }
  MDB_txn* get() const { return txn_; }

  // Returns MDB_SUCCESS, MDB_NOTFOUND or an error code.
  int get(MDB_dbi dbi, std::string_view key, std::string_view* value) const {
    MDB_val k = to_val(key), v{};
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == 0) *value = to_view(v);
    return rc;
  }
  // Returns MDB_SUCCESS, MDB_NOTFOUND or an error code.
  int del(MDB_dbi dbi, std::string_view key) {
    MDB_val k = to_val(key);
    return mdb_del(txn_, dbi, &k, nullptr);
  }
  int put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0) {
    MDB_val k = to_val(key), v = to_val(value);
    return mdb_put(txn_, dbi, &k, &v, flags);
  }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cur_ != nullptr) mdb_cursor_close(cur_);
  }
  Status open(const Txn& txn, MDB_dbi dbi) {
    return lmdb_status(mdb_cursor_open(txn.get(), dbi, &cur_), "mdb_cursor_open");
  }
  // Positions the cursor; returns MDB_SUCCESS, MDB_NOTFOUND or an error.
  int get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return mdb_cursor_get(cur_, key, value, op);
  }

 private:
  MDB_cursor* cur_ = nullptr;
};

// Big-endian u64 keys, so that memcmp order is numeric order.
inline void put_be64(char* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline std::uint64_t get_be64(const char* in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(in[i]);
  return v;
}
inline void put_le64(char* out, std::uint64_t v) {
  std::memcpy(out, &v, 8);
}  // x86-64, checked below
inline std::uint64_t get_le64(const char* in) {
  std::uint64_t v;
  std::memcpy(&v, in, 8);
  return v;
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "stored values are little-endian");

}  // namespace es::store
