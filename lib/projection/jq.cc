#include "projection/jq.h"

namespace es::projection {

std::string string_text(jv s) {
  return std::string(jv_string_value(s),
                     static_cast<std::size_t>(jv_string_length_bytes(jv_copy(s))));
}

std::string Jv::dump() const { return Jv(jv_dump_string(jv_copy(v_), 0)).text(); }

std::string Jv::text() const { return string_text(v_); }

std::string invalid_message(jv invalid) {
  jv msg = jv_invalid_get_msg(invalid);
  std::string out;
  if (jv_get_kind(msg) == JV_KIND_STRING) {
    out = jv_string_value(msg);
  } else if (jv_get_kind(msg) != JV_KIND_NULL) {
    out = Jv(jv_copy(msg)).dump() + " (not a string)";
  }
  jv_free(msg);
  return out;
}

Result<JqProgram> JqProgram::compile(const std::string& program, std::string what) {
  JqProgram p;
  p.what_ = std::move(what);
  p.jq_.reset(jq_init());
  if (!p.jq_) return Status::io_error(p.what_ + ": cannot start jq (out of memory?)");
  p.errors_ = std::make_unique<std::string>();
  jq_set_error_cb(
      p.jq_.get(),
      [](void* data, jv msg) {
        auto* errors = static_cast<std::string*>(data);
        if (!errors->empty()) *errors += "; ";
        if (jv_get_kind(msg) == JV_KIND_STRING) {
          *errors += jv_string_value(msg);
        } else {
          *errors += invalid_message(jv_copy(msg));
        }
        jv_free(msg);
      },
      p.errors_.get());
  // No module search path (import and include are refused before: see
  // projection/sandbox.h) and no debug output into the host's log.
  jq_set_attr(p.jq_.get(), jv_string("JQ_LIBRARY_PATH"), jv_array());
  jq_set_debug_cb(
      p.jq_.get(), [](void*, jv msg) { jv_free(msg); }, nullptr);
  // `input` and `inputs` have nothing to read (libjq 1.6 crashes without a callback).
  jq_set_input_cb(
      p.jq_.get(), [](jq_state*, void*) { return jv_invalid(); }, nullptr);
  if (!jq_compile(p.jq_.get(), program.c_str())) {
    return Status::invalid(p.what_ + ": " + (p.errors_->empty() ? "does not compile" : *p.errors_));
  }
  return p;
}

Result<Jv> JqProgram::run(Jv input, bool* none) {
  errors_->clear();
  if (none != nullptr) *none = false;
  jq_start(jq_.get(), input.take(), 0);
  Jv out(jq_next(jq_.get()));
  if (out.kind() != JV_KIND_INVALID) return out;
  const bool has_msg = jv_invalid_has_msg(out.copy()) != 0;
  if (!has_msg && errors_->empty() && none != nullptr) {
    *none = true;
    return Jv();
  }
  std::string msg = invalid_message(out.take());
  if (msg.empty()) msg = errors_->empty() ? "gave no value" : *errors_;
  return Status::invalid(msg);
}

}  // namespace es::projection
