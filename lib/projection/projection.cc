#include "es/projection.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "es/event_filter.h"
#include "es/json.h"

#include "projection/builtins.h"
#include "projection/jq.h"
#include "projection/sandbox.h"

namespace es {

using projection::JqProgram;
using projection::Jv;

struct Projection::Impl {
  std::optional<JqProgram> key;  // none: the stream name
  // When `key` is a plain path (.data.product), its fields: read without
  // jq while every step is an object and the end a string; jq answers the
  // rest (and words the errors).
  std::vector<std::string> key_path;
  JqProgram reduce;
  Jv init;
  std::unordered_map<std::string, Jv> states;
  std::unordered_set<std::string> changed;  // since take_changed()
  // Events of one commit share their time: format it once.
  std::int64_t time_us = -1;
  std::string time;
};

namespace {

std::vector<std::string> plain_key_path(const std::string& source);

// Whether `source` defines `name/0`: jq says "name/0 is not defined" when
// it does not.
Result<bool> defines(const std::string& source, const std::string& name,
                     const std::string& projection) {
  auto p = JqProgram::compile(source + "\n" + name, "projection " + projection);
  if (p.ok()) return true;
  if (p.status().message().find(name + "/0 is not defined") != std::string::npos) return false;
  return p.status();
}

// The types named by `def when_<Type>:` (only names jq allows after when_).
std::vector<std::string> typed_candidates(const std::string& source) {
  static const std::regex def_re(R"(def\s+when_([A-Za-z0-9_]+)\s*:)");
  std::set<std::string> out;
  for (std::sregex_iterator it(source.begin(), source.end(), def_re), end; it != end; ++it)
    out.insert((*it)[1].str());
  return {out.begin(), out.end()};
}

// `singular` (a string) and `plural` (an array of strings) of `object`, as
// one list.
Status string_list(const Jv& object, const char* singular, const char* plural,
                   const std::string& what, std::vector<std::string>* out) {
  auto take_string = [&](Jv v, const char* field) -> Status {
    if (v.kind() != JV_KIND_STRING)
      return Status::invalid(what + ": ." + field + " must be " +
                             (field == plural ? "an array of strings" : "a string"));
    out->push_back(v.text());
    return {};
  };
  Jv one(jv_object_get(object.copy(), jv_string(singular)));
  if (one.kind() != JV_KIND_NULL && one.kind() != JV_KIND_INVALID)
    ES_RETURN_IF_ERROR(take_string(std::move(one), singular));
  Jv many(jv_object_get(object.copy(), jv_string(plural)));
  if (many.kind() == JV_KIND_NULL || many.kind() == JV_KIND_INVALID) return {};
  if (many.kind() != JV_KIND_ARRAY)
    return Status::invalid(what + ": ." + plural + " must be an array of strings");
  const int n = jv_array_length(many.copy());
  for (int i = 0; i < n; ++i)
    ES_RETURN_IF_ERROR(take_string(Jv(jv_array_get(many.copy(), i)), plural));
  return {};
}

Status read_from(const std::string& src, const std::string& name, ProjectionSource* out) {
  const std::string what = "projection " + name + ": from";
  auto prog = JqProgram::compile(src + "\nfrom", what);
  if (!prog.ok()) return prog.status();
  auto v = prog->run(Jv());
  if (!v.ok()) return Status::invalid(what + ": " + v.status().message());
  if (v->kind() != JV_KIND_OBJECT) return Status::invalid(what + " must give an object");
  ES_RETURN_IF_ERROR(string_list(*v, "stream", "streams", what, &out->streams));
  ES_RETURN_IF_ERROR(string_list(*v, "category", "categories", what, &out->categories));
  ES_RETURN_IF_ERROR(string_list(*v, "type", "types", what, &out->types));
  return {};
}

}  // namespace

bool ProjectionSource::matches(const RecordedEvent& e) const {
  return EventFilter{streams, categories, types}.matches(e);
}

std::string ProjectionSource::read_stream() const {
  return streams.size() == 1 && categories.empty() ? streams.front() : std::string();
}

std::string ProjectionSource::read_category() const {
  return categories.size() == 1 && streams.empty() ? categories.front() : std::string();
}

Projection::Projection(std::string name) : name_(std::move(name)) {}
Projection::~Projection() = default;

Result<std::string> Projection::read_source(const std::string& path) {
  constexpr std::string_view kBuiltin = "builtin:";
  if (path.rfind(kBuiltin, 0) == 0) {
    auto source = projection::builtin_source(std::string_view(path).substr(kBuiltin.size()));
    if (!source) {
      std::string names;
      for (const auto& b : projection::builtins())
        names += std::string(names.empty() ? "" : ", ") + b.name;
      return Status::invalid("no built-in projection " + path + " (there are: " + names + ")");
    }
    return *source;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid("cannot read projection file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::pair<std::string, std::string>> Projection::builtin_names() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& b : projection::builtins()) out.emplace_back(b.name, b.what);
  return out;
}

std::string Projection::name_of(const std::string& path) {
  std::string name = path.substr(path.find_last_of("/:") + 1);
  name = name.substr(0, name.find('.'));
  return name.empty() ? path : name;
}

Result<std::unique_ptr<Projection>> Projection::load(const std::string& path) {
  auto source = read_source(path);
  if (!source.ok()) return source.status();
  return compile(*source, name_of(path));
}

Result<std::unique_ptr<Projection>> Projection::compile(const std::string& src,
                                                        const std::string& name) {
  std::unique_ptr<Projection> p(new Projection(name));
  const std::string what = "projection " + name;
  ES_RETURN_IF_ERROR(refuse_modules(src, what));
  // Compiles the file alone first, so that its own errors come with its lines.
  if (auto alone = JqProgram::compile(src + "\n.", what); !alone.ok()) return alone.status();

  auto has_from = defines(src, "from", name);
  if (!has_from.ok()) return has_from.status();
  if (*has_from) ES_RETURN_IF_ERROR(read_from(src, name, &p->source_));

  for (const auto& type : typed_candidates(src)) {
    auto has = defines(src, "when_" + type, name);
    if (!has.ok()) return has.status();
    if (*has) p->typed_.push_back(type);
  }
  auto has_when = defines(src, "when", name);
  if (!has_when.ok()) return has_when.status();
  if (!*has_when && p->typed_.empty())
    return Status::invalid(what + " defines no reducer: define when, or when_<Type>");
  // Reads only the types it reduces when it says nothing else.
  if (!*has_when && p->source_.types.empty()) p->source_.types = p->typed_;

  // One reducer: the type's own, else `when`, else the state unchanged.
  std::string dispatch = "def __es_reduce: ";
  for (const auto& type : p->typed_)
    dispatch += "if .event.type == \"" + type + "\" then when_" + type + " else ";
  dispatch += *has_when ? "when" : ".state";
  for (std::size_t i = 0; i < p->typed_.size(); ++i) dispatch += " end";
  dispatch += ";\n__es_reduce";
  auto reduce = JqProgram::compile(src + "\n" + dispatch, what + ": when");

  auto has_key = defines(src, "key", name);
  if (!has_key.ok()) return has_key.status();
  auto has_init = defines(src, "init", name);
  if (!has_init.ok()) return has_init.status();
  if (!reduce.ok()) return reduce.status();
  p->impl_ = std::make_unique<Impl>(
      Impl{std::nullopt, {}, std::move(reduce).value(), Jv(), {}, {}, -1, {}});
  if (*has_key) {
    auto key = JqProgram::compile(src + "\nkey", what + ": key");
    if (!key.ok()) return key.status();
    p->impl_->key.emplace(std::move(key).value());
    p->impl_->key_path = plain_key_path(src);
  }
  if (*has_init) {
    auto init = JqProgram::compile(src + "\ninit", what + ": init");
    if (!init.ok()) return init.status();
    auto value = init->run(Jv());
    if (!value.ok()) return Status::invalid(what + ": init: " + value.status().message());
    p->impl_->init = std::move(value).value();
  }
  return p;
}

namespace {

jv string_value(std::string_view s) {
  return jv_string_sized(s.data(), static_cast<int>(s.size()));
}

// The fields of `def key: .a.b.c;` when that is the file's only key and a
// plain path (comments aside); empty otherwise.
std::vector<std::string> plain_key_path(const std::string& source) {
  static const std::regex comment_re("#[^\n]*");
  static const std::regex def_re(R"(def\s+key\s*:\s*([^;]*);)");
  static const std::regex path_re(R"(^\s*((\.[A-Za-z_][A-Za-z0-9_]*)+)\s*$)");
  static const std::regex field_re(R"(\.([A-Za-z_][A-Za-z0-9_]*))");
  const std::string code = std::regex_replace(source, comment_re, "");
  auto defs = std::sregex_iterator(code.begin(), code.end(), def_re);
  if (std::distance(defs, std::sregex_iterator()) != 1) return {};
  const std::string body = (*defs)[1].str();
  std::smatch path;
  if (!std::regex_match(body, path, path_re)) return {};
  std::vector<std::string> fields;
  const std::string p = path[1].str();
  for (std::sregex_iterator it(p.begin(), p.end(), field_re), end; it != end; ++it)
    fields.push_back((*it)[1].str());
  return fields;
}

// Follows `path` through objects to a string; false when a step is not an
// object or the end is not a string (jq then decides).
bool read_plain_key(const Jv& event, const std::vector<std::string>& path, std::string* key) {
  jv v = event.copy();
  for (const auto& field : path) {
    if (jv_get_kind(v) != JV_KIND_OBJECT) {
      jv_free(v);
      return false;
    }
    v = jv_object_get(v, jv_string_sized(field.data(), static_cast<int>(field.size())));
  }
  const bool ok = jv_get_kind(v) == JV_KIND_STRING;
  if (ok) *key = projection::string_text(v);
  jv_free(v);
  return ok;
}

// The event as es prints it (es/json.h append_event_json), built as a jq
// value directly: only data and metadata are parsed.
Jv event_value(const RecordedEvent& e, const std::string& time) {
  Jv data(jv_parse_sized(e.data.data(), static_cast<int>(e.data.size())));
  if (data.kind() == JV_KIND_INVALID) return data;
  Jv metadata;
  if (!e.metadata.empty()) {
    metadata = Jv(jv_parse_sized(e.metadata.data(), static_cast<int>(e.metadata.size())));
    if (metadata.kind() == JV_KIND_INVALID) return metadata;
  }
  jv o = jv_object();
  o = jv_object_set(o, jv_string("position"), jv_number(static_cast<double>(e.position)));
  o = jv_object_set(o, jv_string("stream"), string_value(e.stream));
  o = jv_object_set(o, jv_string("version"), jv_number(static_cast<double>(e.version)));
  o = jv_object_set(o, jv_string("id"), string_value(e.id.to_string()));
  o = jv_object_set(o, jv_string("type"), string_value(e.type));
  o = jv_object_set(o, jv_string("time"), string_value(time));
  o = jv_object_set(o, jv_string("data"), data.take());
  if (!e.metadata.empty()) o = jv_object_set(o, jv_string("metadata"), metadata.take());
  return Jv(o);
}

}  // namespace

Status Projection::apply(const RecordedEvent& e) {
  Impl& m = *impl_;
  if (!source_.matches(e)) {  // read wider than `from` (several streams or categories)
    position_ = e.position;
    return {};
  }
  if (e.time_us != m.time_us) {
    m.time_us = e.time_us;
    m.time = format_time_us(e.time_us);
  }
  Jv event = event_value(e, m.time);
  if (event.kind() == JV_KIND_INVALID) {
    return Status::corruption(
        "projection " + name_ + ": event at position " + std::to_string(e.position) +
        " does not parse in jq: " + projection::invalid_message(event.take()));
  }
  auto where = [&] {
    return "projection " + name_ + ": event at position " + std::to_string(e.position) + " (" +
           e.type + " in " + e.stream + ")";
  };
  std::string key = e.stream;
  if (m.key && !(!m.key_path.empty() && read_plain_key(event, m.key_path, &key))) {
    bool none = false;
    auto k = m.key->run(Jv(event.copy()), &none);
    if (!k.ok()) return Status::invalid(where() + ": key: " + k.status().message());
    if (none) {  // `empty`: the event is not for this projection
      position_ = e.position;
      return {};
    }
    if (k->kind() != JV_KIND_STRING) {
      return Status::invalid(where() + ": key gave " + k->dump() + ", not a string");
    }
    key = k->text();
  }
  auto it = m.states.find(key);
  // The stored state stays until the reducer succeeds, so a failing event
  // changes nothing. (jq then copies the partition's top level when it
  // updates it: a cost in the size of one partition, not of all of them.)
  jv state = it == m.states.end() ? m.init.copy() : it->second.copy();
  Jv input(jv_object_set(jv_object_set(jv_object(), jv_string("state"), state), jv_string("event"),
                         event.take()));
  auto next = m.reduce.run(std::move(input));
  if (!next.ok()) return Status::invalid(where() + ": " + next.status().message());

  if (it == m.states.end()) it = m.states.emplace(key, Jv()).first;
  it->second = std::move(next).value();
  m.changed.insert(it->first);
  position_ = e.position;
  ++applied_;
  return {};
}

Status Projection::restore(const std::string& key, const std::string& state_json) {
  Jv state(jv_parse_sized(state_json.data(), static_cast<int>(state_json.size())));
  if (state.kind() == JV_KIND_INVALID) {
    return Status::corruption("projection " + name_ + ": stored state of " + key +
                              " does not parse: " + projection::invalid_message(state.take()));
  }
  impl_->states[key] = std::move(state);
  return {};
}

std::vector<std::pair<std::string, std::string>> Projection::take_changed() {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(impl_->changed.size());
  for (const auto& key : impl_->changed) out.emplace_back(key, impl_->states.at(key).dump());
  impl_->changed.clear();
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t Projection::partitions() const { return impl_->states.size(); }

std::optional<std::string> Projection::state(const std::string& key) const {
  auto it = impl_->states.find(key);
  if (it == impl_->states.end()) return std::nullopt;
  return it->second.dump();
}

void Projection::for_each(
    const std::function<void(const std::string&, const std::string&)>& fn) const {
  std::vector<const std::string*> keys;
  keys.reserve(impl_->states.size());
  for (const auto& [k, v] : impl_->states) keys.push_back(&k);
  std::sort(keys.begin(), keys.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const auto* k : keys) fn(*k, impl_->states.at(*k).dump());
}

}  // namespace es
