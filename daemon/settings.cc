#include "settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "es/store.h"
#include "es/suggest.h"

#include "admission.h"
#include "cli/options.h"
#include "http_address.h"
#include "logging.h"
#include "server.h"

#include <toml++/toml.h>
#include <unistd.h>

namespace esd {
namespace {

// Where a store lives unless --data (or ESD_DATA) says: systemd's
// StateDirectory= (the unit's /var/lib/esd, whoever esd runs as), else
// /var/lib/esd for root, else the user's XDG data directory.
std::string default_data_dir() {
  if (const char* state = std::getenv("STATE_DIRECTORY"); state != nullptr && *state != '\0') {
    const std::string dirs(state);  // several are separated by ':'
    return dirs.substr(0, dirs.find(':'));
  }
  if (::geteuid() == 0) return "/var/lib/esd";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/esd";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/esd";
}

CLI::Validator http_address_check() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return {};  // off
        auto address = parse_http_address(value);
        return address.ok() ? std::string() : address.status().message();
      },
      "", "http address");
}

CLI::Validator size_check(std::uint64_t min, std::string min_text, bool zero_allowed) {
  return CLI::Validator(
      [min, min_text, zero_allowed](std::string& value) -> std::string {
        if (zero_allowed && value == "0") return {};
        auto bytes = parse_bytes(value, min, min_text);
        return bytes.ok() ? std::string() : bytes.status().message();
      },
      "", "size");
}

// A kFlag's value as "true" or "false"; empty when it is neither.
std::string flag_text(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "1" || v == "yes") return "true";
  if (v == "false" || v == "0" || v == "no") return "false";
  return {};
}

CLI::Validator flag_check() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        return flag_text(v).empty() ? "it takes true or false (or 1, 0, yes, no), not '" + v + "'"
                                    : std::string();
      },
      "", "flag");
}

CLI::Validator log_level_check() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (parse_log_level(v)) return {};
        return "it takes trace, debug, info, warn, error, critical or off, not '" + v + "'";
      },
      "", "level");
}

CLI::Validator durability_check() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v == "sync") return {};
        if (v == "nometasync")
          return "nometasync is gone: the journal flushes each group once, the flush "
                 "nometasync used to save (see esd(8), Journal)";
        return "it takes sync, not '" + v + "'";
      },
      "", "durability");
}

std::vector<SettingSpec> build_specs() {
  using escli::whole_number;
  const auto bind = escli::endpoint(es::EndpointUse::kBind);
  const auto connect = escli::endpoint(es::EndpointUse::kConnect);
  const ServerOptions d;  // the defaults the server's options carry
  const auto& limits = d.projections.limits;
  const std::string memory =
      limits.memory_bytes == 0 ? "0" : std::to_string(limits.memory_bytes >> 20) + "M";
  const unsigned max_clients =
      Admission::default_max_clients(Admission::raise_file_limit(), Admission::machine_memory());
  const auto kText = SettingType::kText;
  const auto kInteger = SettingType::kInteger;
  const auto kSize = SettingType::kSize;
  const auto kFlag = SettingType::kFlag;
  const auto kLive = Reload::kLive;
  const auto kRestart = Reload::kRestart;
  // clang-format off
  return {
    // key, type, reload, default, type name, help, check
    {"data", kText, kRestart, default_data_dir(), "DIR",
     "Data directory (created if missing)", std::nullopt},
    {"listen", kText, kRestart, d.listen, "ENDPOINT",
     "Request endpoint (ZeroMQ ROUTER)", bind},
    {"publish", kText, kRestart, "", "ENDPOINT",
     "Publisher endpoint (default: next port, or PATH.pub for ipc)", bind},
    {"heartbeat", kInteger, kRestart, std::to_string(d.heartbeat.count()), "MS",
     "Heartbeat interval in milliseconds", whole_number(10, 3'600'000)},
    {"publish-hwm", kInteger, kLive, std::to_string(d.publish_hwm), "N",
     "Frames queued per subscriber before the publisher drops (subscribers repair drops "
     "from the store; a reload applies to subscribers that connect after it)",
     whole_number(1, 1'000'000)},
    {"role", kText, kRestart, d.role, "ROLE",
     "primary (takes appends) or replica (copies the log of --follow)",
     CLI::IsMember({"primary", "replica"})},
    {"follow", kText, kRestart, "", "ENDPOINT",
     "A replica's primary (its request endpoint); a replica can follow a replica", connect},
    {"follow-publish", kText, kRestart, "", "ENDPOINT",
     "The primary's publisher, when it is reached otherwise than its hello says (a proxy, "
     "a NAT)", connect},
    {"project-from", kText, kRestart, "", "ENDPOINT",
     "Hosted projections read the log of this node (its request endpoint) instead of this "
     "one's: a read side apart from the write side", connect},
    {"durability", kText, kRestart, d.durability, "MODE",
     "sync, the only one: an append is acknowledged once its journal frame is flushed "
     "(nometasync is gone: see esd(8))", durability_check()},
    {"journal-size", kSize, kRestart, "", "SIZE",
     "The journal's size: bytes, or with K, M or G (default: 128M for a new journal, less "
     "on a small disk; an existing one keeps its size)",
     size_check(es::kMinJournalBytes,
                "the smallest journal, " + std::to_string(es::kMinJournalBytes >> 10) + "K",
                false)},
    {"projection-event-cpu", kInteger, kLive, std::to_string(limits.event_cpu.count()), "MS",
     "Milliseconds of CPU time a hosted projection may spend on one event before it is "
     "failed (a reload applies to workers started after it)", whole_number(10, 3'600'000)},
    {"projection-start-cpu", kInteger, kLive, std::to_string(limits.start_cpu.count()), "MS",
     "Milliseconds of CPU time compiling a projection (with its from and init) may take",
     whole_number(10, 60'000)},
    {"projection-memory", kSize, kLive, memory, "SIZE",
     "Memory (heap) each projection's worker may use: bytes, or with K, M or G; 0: no "
     "limit (a reload applies to workers started after it)", size_check(16u << 20, "16M", true)},
    {"max-projections", kInteger, kLive, std::to_string(d.projections.max_workers), "N",
     "Projections this node runs at once (a reset's build counts as one)",
     whole_number(1, 10'000)},
    {"max-clients", kInteger, kLive, std::to_string(max_clients), "N",
     "Connections (clients and subscribers) taken at once; 16 more from 127.0.0.1 and ::1 "
     "(default: what half the memory holds at 184 MiB each, and the file limit, which esd "
     "raises to its hard limit, allow)", whole_number(1, 1'000'000)},
    {"initial-map-size", kInteger, kRestart, std::to_string(64u << 20), "BYTES",
     "LMDB map size to start with, in bytes",
     whole_number(std::uint64_t{1} << 20, std::uint64_t{1} << 44)},
    // The words completions offer are in the type name (cli/completion.cc reads {...}).
    {"log-level", kText, kLive, "info", "LEVEL:{trace,debug,info,warn,error,critical,off}",
     "trace, debug, info, warn (or warning), error, critical or off", log_level_check()},
    {"log-format", kText, kLive, "text", "FORMAT",
     "text, or json: one object per line ({\"time\",\"level\",\"msg\"})",
     CLI::IsMember({"text", "json"})},
    {"log-file", kText, kLive, "", "FILE",
     "Write the log to FILE (appended, mode 0600; reopened on SIGHUP, for logrotate) "
     "instead of stderr", std::nullopt},
    {"http-listen", kText, kRestart, "", "[HOST:]PORT",
     "Serve the dashboard (a page and its JSON API), /metrics, /livez and /readyz over "
     "HTTP on [HOST:]PORT (a bare port: 127.0.0.1's); off unless given", http_address_check()},
    {"http-token-file", kText, kRestart, "", "FILE",
     "The dashboard's admin token (its first line, 16 characters or more), needed to append "
     "and stop nodes from it; default: a new one each start, written to DATA/http.token",
     std::nullopt},
    {"key-file", kText, kRestart, "", "FILE",
     "This node's CurveZMQ key pair (es keygen makes one): clients must then present an "
     "allowed key, and --listen and --publish may bind any address", std::nullopt},
    {"allow", kText, kRestart, "", "FILE",
     "The keys that may connect, one per line: ROLE PUBLIC-KEY [NAME], ROLE read, write, "
     "replica or admin (read again on SIGHUP)", std::nullopt},
    {"peer-key", kText, kRestart, "", "KEY|FILE",
     "The public key of the node --follow or --project-from names (default: this node's "
     "own, for nodes that share a key pair)", std::nullopt},
    {"subject-keys", kText, kRestart, "", "DIR",
     "Keep data subjects' keys in DIR (outside the data directory): an event whose metadata "
     "has \"$subject\" is stored sealed with its subject's key, which es forget destroys",
     std::nullopt},
    {"insecure", kFlag, kRestart, "false", "",
     "Allow --listen and --publish on addresses other than loopback without --key-file, and "
     "--http-listen anywhere: whoever reaches them may read, append and stop the node",
     flag_check()},
  };
  // clang-format on
}

// A file's scalar as the text a flag would carry, or why it is the wrong type.
es::Result<std::string> scalar_text(const SettingSpec& spec, const toml::node& node) {
  if (spec.type == SettingType::kFlag) {
    if (auto b = node.as_boolean()) return std::string(b->get() ? "true" : "false");
    return es::Status::invalid("it takes true or false");
  }
  const bool integer_ok = spec.type != SettingType::kText;
  const bool string_ok = spec.type != SettingType::kInteger;
  if (auto i = node.as_integer(); i != nullptr && integer_ok) return std::to_string(i->get());
  if (auto s = node.as_string(); s != nullptr && string_ok) return s->get();
  const char* want = spec.type == SettingType::kText      ? "a string"
                     : spec.type == SettingType::kInteger ? "a whole number"
                                                          : "a size (a number, or a string "
                                                            "such as \"64M\")";
  const char* got = node.is_string()           ? "a string"
                    : node.is_integer()        ? "an integer"
                    : node.is_floating_point() ? "a fraction"
                    : node.is_boolean()        ? "a boolean"
                    : node.is_table()          ? "a table"
                    : node.is_array()          ? "an array"
                                               : "a date or time";
  return es::Status::invalid(std::string(got) + " where it takes " + want);
}

// Runs the row's check on `text`; the empty text means "not set".
std::string check(const SettingSpec& spec, std::string text) {
  if (text.empty() || !spec.check) return {};
  return (*spec.check)(text);
}

// "unknown key; did you mean 'max-clients'?" when one is near.
std::string unknown_key(const std::string& key) {
  std::vector<std::string> keys;
  for (const SettingSpec& spec : setting_specs()) keys.push_back(spec.key);
  const std::string near = es::nearest(key, keys);
  return near.empty() ? "unknown key (esd.toml(5) lists the keys)"
                      : "unknown key; did you mean '" + near + "'?";
}

es::Status read_file(const std::string& path, std::map<std::string, SettingValue>& values) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto line = e.source().begin.line;
    std::string what(e.description());
    if (line == 0) return es::Status::invalid("cannot read " + path + ": " + what);
    return es::Status::invalid(path + ":" + std::to_string(line) + ": " + what);
  }
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    const auto line = node.source().begin.line;
    const std::string where = path + ":" + std::to_string(line) + ": " + key + ": ";
    const SettingSpec* spec = find_setting(key);
    if (spec == nullptr) return es::Status::invalid(where + unknown_key(key));
    auto text = scalar_text(*spec, node);
    if (!text.ok()) return es::Status::invalid(where + text.status().message());
    if (std::string bad = check(*spec, *text); !bad.empty())
      return es::Status::invalid(where + bad);
    if (text->empty()) continue;  // "" is "not set": the default stays
    values[key] = SettingValue{*text, Source::kFile, path, static_cast<std::int64_t>(line)};
  }
  return {};
}

}  // namespace

std::string SettingSpec::env() const {
  std::string name = "ESD_";
  for (char c : key) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

const std::vector<SettingSpec>& setting_specs() {
  static const std::vector<SettingSpec> specs = build_specs();
  return specs;
}

const SettingSpec* find_setting(const std::string& key) {
  for (const SettingSpec& spec : setting_specs())
    if (spec.key == key) return &spec;
  return nullptr;
}

std::string SettingValue::origin() const {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kFile:
      return file + ":" + std::to_string(line);
    case Source::kEnv:
      return "env " + file;
    case Source::kFlag:
      return "flag";
  }
  return {};
}

void add_setting_flags(CLI::App& app, FlagValues& bound) {
  for (const SettingSpec& spec : setting_specs()) {
    std::string& value = bound[spec.key];
    if (spec.type == SettingType::kFlag) {
      app.add_flag_callback(
          "--" + spec.key, [&value] { value = "true"; }, spec.help);
      continue;
    }
    CLI::Option* option = app.add_option("--" + spec.key, value, spec.help)
                              ->type_name(spec.type_name)
                              ->default_str(spec.default_value);
    if (spec.check) option->check(*spec.check);
  }
}

FlagValues given_flags(const CLI::App& app, const FlagValues& bound) {
  FlagValues given;
  for (const auto& [key, value] : bound) {
    if (app.get_option("--" + key)->count() > 0) given[key] = value;
  }
  return given;
}

es::Result<std::uint64_t> parse_bytes(const std::string& text, std::uint64_t min,
                                      const std::string& min_text) {
  std::size_t used = 0;
  std::uint64_t n = 0;
  try {
    if (text.empty() || text[0] == '-') throw std::invalid_argument("sign");
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    return es::Status::invalid("'" + text + "' is not a size (bytes, or a number with K, M or G)");
  }
  const std::string unit = text.substr(used);
  const char u = unit.size() == 1 ? static_cast<char>(std::toupper(unit[0])) : '\0';
  const int shift = unit.empty() ? 0 : u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : -1;
  if (shift < 0) return es::Status::invalid("'" + text + "': the unit is K, M or G");
  if (n > (std::uint64_t{1} << 40) >> shift)
    return es::Status::invalid("'" + text + "' is too large");
  n <<= shift;
  if (n < min) return es::Status::invalid("'" + text + "' is less than " + min_text);
  return n;
}

es::Result<Settings> Settings::resolve(const std::string& config_file, const FlagValues& flags) {
  Settings s;
  for (const SettingSpec& spec : setting_specs())
    s.values_[spec.key] = SettingValue{spec.default_value, Source::kDefault, {}, 0};
  if (!config_file.empty()) {
    if (es::Status st = read_file(config_file, s.values_); !st.ok()) return st;
  }
  for (const SettingSpec& spec : setting_specs()) {
    const char* env = std::getenv(spec.env().c_str());
    if (env == nullptr || *env == '\0') continue;  // empty: not set, as ESD_DATA= always was
    if (std::string bad = check(spec, env); !bad.empty())
      return es::Status::invalid(spec.env() + ": " + bad);
    const std::string value = spec.type == SettingType::kFlag ? flag_text(env) : env;
    s.values_[spec.key] = SettingValue{value, Source::kEnv, spec.env(), 0};
  }
  for (const auto& [key, value] : flags) s.values_[key] = SettingValue{value, Source::kFlag, {}, 0};
  return s;
}

const SettingValue& Settings::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("no setting named " + key);  // a bug
  return it->second;
}

std::uint64_t Settings::number(const std::string& key) const {
  return std::strtoull(text(key).c_str(), nullptr, 10);
}

std::uint64_t Settings::bytes(const std::string& key) const {
  const std::string& t = text(key);
  if (t.empty() || t == "0") return 0;
  auto n = parse_bytes(t, 0, "0");
  return n.ok() ? *n : 0;
}

std::string Settings::to_toml() const {
  std::string out =
      "# esd --print-config: every setting, and where its value came from\n"
      "# (default, FILE:LINE, env ESD_..., flag). A valid esd.toml(5).\n";
  for (const SettingSpec& spec : setting_specs()) {
    const SettingValue& v = at(spec.key);
    const bool bare = spec.type == SettingType::kFlag ||
                      (spec.type != SettingType::kText && !v.text.empty() &&
                       std::all_of(v.text.begin(), v.text.end(),
                                   [](unsigned char c) { return std::isdigit(c) != 0; }));
    std::string line = spec.key + " = " + (bare ? v.text : toml_quote(v.text));
    if (line.size() < 40) line.resize(40, ' ');
    out += line + "  # " + v.origin() + "\n";
  }
  return out;
}

std::vector<std::string> Settings::changed(const Settings& other) const {
  std::vector<std::string> keys;
  for (const SettingSpec& spec : setting_specs())
    if (text(spec.key) != other.text(spec.key)) keys.push_back(spec.key);
  return keys;
}

LogOptions log_options(const Settings& s) {
  return LogOptions{*parse_log_level(s.text("log-level")), s.text("log-format") == "json",
                    s.text("log-file")};
}

es::SandboxLimits projection_limits(const Settings& s) {
  es::SandboxLimits limits;
  limits.event_cpu = std::chrono::milliseconds(s.number("projection-event-cpu"));
  limits.start_cpu = std::chrono::milliseconds(s.number("projection-start-cpu"));
  limits.memory_bytes = s.bytes("projection-memory");
  return limits;
}

std::string toml_quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace esd
