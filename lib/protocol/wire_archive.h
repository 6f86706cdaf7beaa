// protocol/wire_archive.h (private)
//
// cereal archives for the wire: little-endian fixed-width numbers, strings
// and vectors as u32 count + contents. The input archive never trusts a size
// read from the frame: a count larger than the bytes left is refused before
// anything is allocated, and vectors grow one decoded element at a time, so
// memory stays proportional to the bytes actually received. A vector may
// hold at most kMaxWireItems items: a decoded item takes several times its
// smallest wire size (an empty ProposedEvent: 32 bytes on the wire, ~150 in
// memory), so a 48 MiB frame of empty items would otherwise cost ~350 MB.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <cereal/cereal.hpp>

#include "es/types.h"

namespace es::wire {

// The most items any vector on the wire holds: an append's events (the
// largest; read and streams replies hold at most kMaxReadLimit).
inline constexpr std::uint32_t kMaxWireItems = static_cast<std::uint32_t>(es::kMaxAppendEvents);

class OutputArchive : public cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit OutputArchive(std::string& out)
      : cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision>(this), out_(out) {}
  void save_bytes(const void* data, std::size_t size) {
    out_.append(static_cast<const char*>(data), size);
  }

 private:
  std::string& out_;
};

class InputArchive : public cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit InputArchive(std::string_view in)
      : cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision>(this), in_(in) {}
  void load_bytes(void* data, std::size_t size) {
    if (size > in_.size()) throw cereal::Exception("frame ends early");
    std::memcpy(data, in_.data(), size);
    in_.remove_prefix(size);
  }
  // Reads a u32 count of items that take at least `min_item_bytes` each.
  std::uint32_t load_count(std::size_t min_item_bytes) {
    std::uint32_t n = 0;
    load_bytes(&n, sizeof n);
    if (static_cast<std::uint64_t>(n) * min_item_bytes > in_.size()) {
      throw cereal::Exception("a count in the frame exceeds the bytes that follow");
    }
    return n;
  }
  std::size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

template <class T>
inline void prologue(OutputArchive&, const T&) {}
template <class T>
inline void epilogue(OutputArchive&, const T&) {}
template <class T>
inline void prologue(InputArchive&, const T&) {}
template <class T>
inline void epilogue(InputArchive&, const T&) {}

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>
CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const T& t) {
  ar.save_bytes(&t, sizeof t);
}
template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>
CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, T& t) {
  ar.load_bytes(&t, sizeof t);
}
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const bool& b) {
  std::uint8_t v = b ? 1 : 0;
  ar.save_bytes(&v, 1);
}
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, bool& b) {
  std::uint8_t v = 0;
  ar.load_bytes(&v, 1);
  if (v > 1) throw cereal::Exception("a boolean in the frame is neither 0 nor 1");
  b = v == 1;
}

inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::string& s) {
  auto n = static_cast<std::uint32_t>(s.size());
  ar.save_bytes(&n, sizeof n);
  ar.save_bytes(s.data(), s.size());
}
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::string& s) {
  std::uint32_t n = ar.load_count(1);
  s.resize(n);
  ar.load_bytes(s.data(), n);
}

template <std::size_t N>
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::array<std::uint8_t, N>& a) {
  ar.save_bytes(a.data(), N);
}
template <std::size_t N>
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::array<std::uint8_t, N>& a) {
  ar.load_bytes(a.data(), N);
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::vector<T>& v) {
  auto n = static_cast<std::uint32_t>(v.size());
  ar.save_bytes(&n, sizeof n);
  for (const auto& item : v) ar(item);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::vector<T>& v) {
  // Every item we send is at least 4 bytes on the wire (a count or a u32+).
  std::uint32_t n = ar.load_count(4);
  if (n > kMaxWireItems) {
    throw cereal::Exception("a vector in the frame has " + std::to_string(n) +
                            " items, more than " + std::to_string(kMaxWireItems));
  }
  v.clear();
  v.reserve(std::min<std::uint32_t>(n, 1024));
  for (std::uint32_t i = 0; i < n; ++i) {
    v.emplace_back();
    ar(v.back());
  }
}

}  // namespace es::wire

CEREAL_REGISTER_ARCHIVE(es::wire::OutputArchive)
CEREAL_REGISTER_ARCHIVE(es::wire::InputArchive)
