#include "store/codec.h"

#include <cstring>

namespace es::store {
namespace {

void put_u32(std::string* out, std::uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), 4);
}
void put_u64(std::string* out, std::uint64_t v) {
  out->append(reinterpret_cast<const char*>(&v), 8);
}
void put_bytes(std::string* out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t* v) { return raw(v, 1); }
  bool u64(std::uint64_t* v) { return raw(v, 8); }
  bool i64(std::int64_t* v) { return raw(v, 8); }
  bool raw(void* out, std::size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(out, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool bytes(std::string* out) {
    std::uint32_t n = 0;
    if (!raw(&n, 4) || in_.size() < n) return false;
    out->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

void encode_record(const RecordedEvent& e, std::string* out) {
  out->clear();
  if (e.removed) {
    out->reserve(13 + e.stream.size());
    out->push_back(static_cast<char>(kHoleFormat));
    put_bytes(out, e.stream);
    put_u64(out, e.version);
    return;
  }
  out->reserve(64 + e.stream.size() + e.type.size() + e.data.size() + e.metadata.size());
  out->push_back(static_cast<char>(kRecordFormat));
  put_bytes(out, e.stream);
  put_u64(out, e.version);
  out->append(reinterpret_cast<const char*>(e.id.bytes.data()), 16);
  put_u64(out, static_cast<std::uint64_t>(e.time_us));
  put_bytes(out, e.type);
  put_bytes(out, e.data);
  put_bytes(out, e.metadata);
}

Status decode_record(std::string_view value, RecordedEvent* e) {
  Reader r(value);
  std::uint8_t format = 0;
  if (!r.u8(&format) || (format != kRecordFormat && format != kHoleFormat)) {
    return Status::corruption("record has unknown format " + std::to_string(format));
  }
  e->removed = format == kHoleFormat;
  if (e->removed) {
    e->id = Uuid{};
    e->time_us = 0;
    e->type.clear();
    e->data.clear();
    e->metadata.clear();
    if (!r.bytes(&e->stream) || !r.u64(&e->version) || !r.raw(e->chain.data(), e->chain.size()) ||
        !r.done()) {
      return Status::corruption("hole record is truncated or has trailing bytes");
    }
    return {};
  }
  if (!r.bytes(&e->stream) || !r.u64(&e->version) || !r.raw(e->id.bytes.data(), 16) ||
      !r.i64(&e->time_us) || !r.bytes(&e->type) || !r.bytes(&e->data) || !r.bytes(&e->metadata) ||
      !r.raw(e->chain.data(), e->chain.size()) || !r.done()) {
    return Status::corruption("record is truncated or has trailing bytes");
  }
  return {};
}

Status decode_keys(std::string_view value, RecordKeys* k) {
  // format:u8 stream_len:u32 stream version:u64 id:16 time:i64 ...
  // (a hole: format:u8 stream_len:u32 stream version:u64 chain)
  auto bad = [] { return Status::corruption("record is truncated"); };
  if (value.empty()) return bad();
  const auto format = static_cast<std::uint8_t>(value[0]);
  if (format != kRecordFormat && format != kHoleFormat) {
    return Status::corruption("record has unknown format " + std::to_string(format));
  }
  k->removed = format == kHoleFormat;
  const std::size_t fixed = k->removed ? 8 : 8 + 16 + 8 + 12;  // after the stream
  if (value.size() < 1 + 4 + fixed + kChainBytes) return bad();
  std::uint32_t n = 0;
  std::memcpy(&n, value.data() + 1, 4);
  if (value.size() < 5 + std::size_t{n} + fixed + kChainBytes) return bad();
  k->stream = value.substr(5, n);
  const char* p = value.data() + 5 + n;
  std::memcpy(&k->version, p, 8);
  if (k->removed) {
    k->id = Uuid{};
    k->time_us = 0;
  } else {
    std::memcpy(k->id.bytes.data(), p + 8, 16);
    std::memcpy(&k->time_us, p + 24, 8);
  }
  k->body = value.substr(0, value.size() - kChainBytes);
  std::memcpy(k->chain.data(), value.data() + k->body.size(), kChainBytes);
  return {};
}

}  // namespace es::store
