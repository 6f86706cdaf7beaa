// projection/jq.h (private)
//
// RAII over libjq: Jv owns one reference to a jv; JqProgram owns a compiled
// jq_state. libjq's jv functions consume their arguments, so a Jv hands its
// value over with take() and lends it with copy(). jq's own messages
// (syntax errors, runtime errors) become a Status naming `what`.
#pragma once

#include <memory>
#include <string>
#include <utility>

extern "C" {
#include <jq.h>
#include <jv.h>
}

#include "es/result.h"

namespace es::projection {

class Jv {
 public:
  Jv() : v_(jv_null()) {}
  explicit Jv(jv v) : v_(v) {}
  Jv(Jv&& o) noexcept : v_(std::exchange(o.v_, jv_null())) {}
  Jv& operator=(Jv&& o) noexcept {
    jv_free(v_);
    v_ = std::exchange(o.v_, jv_null());
    return *this;
  }
  Jv(const Jv&) = delete;
  Jv& operator=(const Jv&) = delete;
  ~Jv() { jv_free(v_); }

  jv take() { return std::exchange(v_, jv_null()); }
  jv copy() const { return jv_copy(v_); }
  jv_kind kind() const { return jv_get_kind(v_); }
  // Compact JSON, keys in the order the value has them.
  std::string dump() const;
  // REQUIRES: kind() is JV_KIND_STRING. Its bytes.
  std::string text() const;

 private:
  jv v_;
};

// The bytes of a string jv, which stays the caller's.
std::string string_text(jv s);

// The message of an invalid jv (jq's error), as text.
std::string invalid_message(jv invalid);

class JqProgram {
 public:
  // Compiles `program`; `what` names it in errors ("projection x: key").
  static Result<JqProgram> compile(const std::string& program, std::string what);
  JqProgram(JqProgram&&) noexcept = default;
  JqProgram& operator=(JqProgram&&) noexcept = default;

  // Runs the program on `input` and returns its first value: an error (jq's
  // message alone) when jq fails, or gives none and `none` is null (else
  // *none turns true).
  Result<Jv> run(Jv input, bool* none = nullptr);
  const std::string& what() const { return what_; }

 private:
  struct Free {
    void operator()(jq_state* jq) const { jq_teardown(&jq); }
  };
  JqProgram() = default;
  std::unique_ptr<jq_state, Free> jq_;
  std::unique_ptr<std::string> errors_;  // stable address for jq's callback
  std::string what_;
};

}  // namespace es::projection
