// cmd/contexts.h
//
// Named contexts: the settings es uses for a node (server, timeout,
// output), kept as $XDG_CONFIG_HOME/es/contexts/NAME.toml (default
// ~/.config/es/...), one TOML file each, like `nats context` and kubeconfig.
// The selected one's name is in $XDG_CONFIG_HOME/es/context. What es makes
// there is its user's alone: directories 0700, files 0600.
//
// A context is read whole and checked: an unknown key or a bad value is an
// error naming the file, its line and the key (es(1), Contexts). Keys are
// added by one row in kContextKeys (contexts.cc).
//
// Precedence for es (main.cc): flags > ES_SERVER > the context > defaults.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "es/result.h"
#include "es/status.h"

namespace escmd {

struct NamedContext {
  std::string name;
  std::optional<std::string> server;
  std::optional<double> timeout_s;
  std::optional<std::string> output;
  std::optional<std::string> key;         // the client's key pair file
  std::optional<std::string> server_key;  // the node's public key, or a file holding it
};

// The contexts' directory ($XDG_CONFIG_HOME/es/contexts) and a context's file.
std::string contexts_dir();
std::string context_file(const std::string& name);

// A name is letters, digits, '.', '_' and '-', not starting with '.'.
es::Status check_context_name(const std::string& name);

// kNotFound (naming the file) when there is none.
es::Result<NamedContext> load_context(const std::string& name);
// Writes `c` (0600, through a temporary file and a rename); an existing
// context is refused unless `replace`.
es::Status save_context(const NamedContext& c, bool replace);
es::Status remove_context(const std::string& name);
// Every context's name, sorted.
es::Result<std::vector<std::string>> context_names();

// The selected context's name; empty when none is.
std::string selected_context();
// Selects `name` (empty: none).
es::Status select_context(const std::string& name);

// `c` as TOML (the file's text).
std::string context_toml(const NamedContext& c);

}  // namespace escmd
