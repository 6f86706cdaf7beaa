#include "es/stream_rules.h"

#include <algorithm>
#include <limits>

#include <rapidjson/document.h>

#include "es/json.h"

namespace es {

Version StreamRules::visible_from(Version last) const {
  Version from = truncate_before.value_or(0);
  if (max_count && last + 1 > *max_count) from = std::max<Version>(from, last + 1 - *max_count);
  return from;
}

std::int64_t StreamRules::expired_before_us(std::int64_t now_us) const {
  if (!max_age_s) return 0;
  return now_us - *max_age_s * 1'000'000;
}

bool StreamRules::shows(const RecordedEvent& e, Version last, std::int64_t now_us) const {
  if (tombstone || e.version < visible_from(last)) return false;
  return e.time_us >= expired_before_us(now_us);
}

bool is_metadata_stream(std::string_view stream) {
  return stream.size() > kMetadataPrefix.size() && stream.starts_with(kMetadataPrefix);
}

std::string metadata_stream_of(std::string_view stream) {
  return std::string(kMetadataPrefix) + std::string(stream);
}

std::string_view target_of(std::string_view metadata_stream) {
  return metadata_stream.substr(kMetadataPrefix.size());
}

bool is_lifecycle_type(std::string_view type) {
  return type == kMetadataType || type == kDeletedType || type == kTombstoneType;
}

std::string rules_json(const StreamRules& r) {
  std::string out = "{";
  auto member = [&](const char* name, const std::string& value) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += name;
    out += "\":";
    out += value;
  };
  if (r.truncate_before) member("truncate_before", std::to_string(*r.truncate_before));
  if (r.max_count) member("max_count", std::to_string(*r.max_count));
  if (r.max_age_s) member("max_age", std::to_string(*r.max_age_s));
  if (r.tombstone) member("tombstone", "true");
  return out + "}";
}

Result<StreamRules> parse_rules(std::string_view json) {
  if (!json_depth_within(json, 4)) return Status::invalid("stream rules nest too deep");
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return Status::invalid("stream rules must be a JSON object");
  StreamRules r;
  for (const auto& m : doc.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name == "tombstone") {
      if (!m.value.IsBool())
        return Status::invalid("stream rules: tombstone must be true or false");
      r.tombstone = m.value.GetBool();
      continue;
    }
    if (!m.value.IsUint64()) {
      return Status::invalid("stream rules: " + name + " must be a whole number, not " +
                             std::string(m.value.IsString() ? "a string" : "that"));
    }
    const std::uint64_t v = m.value.GetUint64();
    if (name == "truncate_before") {
      r.truncate_before = v;
    } else if (name == "max_count") {
      if (v == 0) return Status::invalid("stream rules: max_count must be at least 1");
      r.max_count = v;
    } else if (name == "max_age") {
      // Seconds; bounded so that the microseconds stay in range.
      if (v == 0 || v > std::uint64_t{1} << 40)
        return Status::invalid("stream rules: max_age must be 1 to 2^40 seconds");
      r.max_age_s = static_cast<std::int64_t>(v);
    } else {
      return Status::invalid("stream rules: unknown member '" + name +
                             "' (truncate_before, max_count, max_age, tombstone)");
    }
  }
  return r;
}

Result<StreamRules> patch_rules(StreamRules rules, std::string_view patch) {
  if (!json_depth_within(patch, 4)) return Status::invalid("stream rules nest too deep");
  rapidjson::Document doc;
  doc.Parse(patch.data(), patch.size());
  if (doc.HasParseError() || !doc.IsObject())
    return Status::invalid("stream rules must be a JSON object");
  std::string set = "{";
  for (const auto& m : doc.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name == "tombstone") return Status::invalid("a tombstone is set by es delete --hard only");
    if (m.value.IsNull()) {
      if (name == "truncate_before") {
        return Status::invalid("truncate_before only moves forward: it cannot be cleared");
      } else if (name == "max_count") {
        rules.max_count.reset();
      } else if (name == "max_age") {
        rules.max_age_s.reset();
      } else {
        return Status::invalid("stream rules: unknown member '" + name +
                               "' (truncate_before, max_count, max_age)");
      }
      continue;
    }
    if (set.size() > 1) set += ',';
    append_json_string(set, name);
    set += ':';
    set += m.value.IsUint64() ? std::to_string(m.value.GetUint64()) : std::string("\"?\"");
  }
  auto parsed = parse_rules(set + "}");
  if (!parsed.ok()) return parsed.status();
  if (parsed->truncate_before) {
    if (*parsed->truncate_before < rules.truncate_before.value_or(0)) {
      return Status::invalid("truncate_before only moves forward: it is at " +
                             std::to_string(*rules.truncate_before));
    }
    rules.truncate_before = parsed->truncate_before;
  }
  if (parsed->max_count) rules.max_count = parsed->max_count;
  if (parsed->max_age_s) rules.max_age_s = parsed->max_age_s;
  return rules;
}

Result<StreamRules> rules_of(std::string_view type, std::string_view data) {
  if (!is_lifecycle_type(type)) {
    return Status::invalid("a metadata stream holds only " + std::string(kMetadataType) + ", " +
                           std::string(kDeletedType) + " and " + std::string(kTombstoneType) +
                           " events, not " + std::string(type));
  }
  auto r = parse_rules(data);
  if (!r.ok()) return r.status();
  if (r->tombstone != (type == kTombstoneType))
    return Status::invalid("only a " + std::string(kTombstoneType) + " event sets tombstone");
  return r;
}

Result<StreamRules> rules_of(const RecordedEvent& e) { return rules_of(e.type, e.data); }

}  // namespace es
