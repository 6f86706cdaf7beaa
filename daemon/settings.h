// daemon/settings.h
//
// esd's settings: one table (setting_specs()) names every option that a
// config file, the environment and the command line can set, and drives all
// four, plus --print-config, --help and the completions. A row is the key
// (the long flag, and the file's key: "max-clients"), its environment
// variable (ESD_ and the key in capitals, '-' as '_': ESD_MAX_CLIENTS), its
// type in the file, whether SIGHUP applies it (kLive) or it waits for a
// restart (kRestart), its default, and its check (the flag's own validator,
// so every source refuses the same values with the same words).
//
// Precedence, lowest first: the default, the file (esd --config FILE or
// $ESD_CONFIG; none is read unless named), the ESD_* environment, the
// command line. (CLI11's own config loading puts the file above the
// environment, so esd resolves the sources itself.)
//
// To add an option: one row in setting_specs() (settings.cc), then read it
// with Settings::text()/number()/bytes() where it is used; esd.toml(5),
// esd(8), examples/esd.toml and the completions follow the table.
//
// Thread safety: a Settings is a value; setting_specs() is built once, on
// first use, and read-only after.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "es/result.h"

#include "logging.h"
#include "projection/sandbox.h"

namespace esd {

enum class SettingType {
  kText,     // a TOML string
  kInteger,  // a TOML integer
  kSize,     // an integer (bytes) or a string with K, M or G ("64M")
  kFlag,     // a TOML boolean; a flag without a value; ESD_*: true, false, 1, 0, yes or no
};
enum class Reload { kLive, kRestart };

struct SettingSpec {
  std::string key;  // the long flag without "--", and the file's key
  SettingType type;
  Reload reload;
  std::string default_value;  // as text; empty: not set (optional keys)
  std::string type_name;      // in --help: DIR, ENDPOINT, N, ...
  std::string help;
  std::optional<CLI::Validator> check;  // empty text is never checked: it means "not set"

  std::string env() const;  // ESD_MAX_CLIENTS
};

// The table, in --help's order. Computed defaults (--data, --max-clients)
// are worked out on first use.
const std::vector<SettingSpec>& setting_specs();
// The row for `key`; nullptr for none.
const SettingSpec* find_setting(const std::string& key);

enum class Source { kDefault, kFile, kEnv, kFlag };

struct SettingValue {
  std::string text;
  Source source = Source::kDefault;
  std::string file;  // kFile: where it was read; kEnv: the variable
  std::int64_t line = 0;
  // "default", "/etc/esd/esd.toml:3", "env ESD_LISTEN", "flag".
  std::string origin() const;
};

// The flags given on a command line: key -> text.
using FlagValues = std::map<std::string, std::string>;

// Adds a --KEY option per row to `app`, bound into `bound`; after parsing,
// given_flags() tells which were on the command line.
void add_setting_flags(CLI::App& app, FlagValues& bound);
FlagValues given_flags(const CLI::App& app, const FlagValues& bound);

// "64M", "1G", "262144": a size in bytes, at least `min` (named `min_text`).
es::Result<std::uint64_t> parse_bytes(const std::string& text, std::uint64_t min,
                                      const std::string& min_text);

class Settings {
 public:
  // Resolves every row: defaults < `config_file` (none when empty) < the
  // environment < `flags`. An unknown key, a value of the wrong type or one
  // its check refuses is kInvalidArgument naming where: "FILE:LINE: KEY:
  // MESSAGE", or "ESD_KEY: MESSAGE".
  static es::Result<Settings> resolve(const std::string& config_file, const FlagValues& flags);

  const SettingValue& at(const std::string& key) const;
  const std::string& text(const std::string& key) const { return at(key).text; }
  // For kInteger rows (checked when resolved).
  std::uint64_t number(const std::string& key) const;
  // For kSize rows: the bytes, 0 when not set or "0".
  std::uint64_t bytes(const std::string& key) const;
  // For kFlag rows (their text is "true" or "false" once resolved).
  bool flag(const std::string& key) const { return text(key) == "true"; }
  bool from(const std::string& key, Source source) const { return at(key).source == source; }
  // Takes `key`'s value from `other` (a reload adopting what it applied).
  void adopt(const Settings& other, const std::string& key) { values_[key] = other.at(key); }

  // Every row as `key = value  # origin`: a valid config file.
  std::string to_toml() const;
  // The keys whose values differ from `other`'s, in the table's order.
  std::vector<std::string> changed(const Settings& other) const;

 private:
  std::map<std::string, SettingValue> values_;
};

// The typed values more than one place needs (start and reload).
LogOptions log_options(const Settings& s);
es::SandboxLimits projection_limits(const Settings& s);

// `text` as a TOML basic string, quoted and escaped.
std::string toml_quote(const std::string& text);

}  // namespace esd
