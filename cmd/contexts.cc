#include "contexts.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "es/curve.h"
#include "es/endpoint.h"
#include "es/suggest.h"
#include "es/whole_file.h"

#include "cli/options.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

namespace escmd {
namespace {

std::string config_home() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/') return xdg;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.config";
}

std::string es_dir() { return config_home() + "/es"; }
std::string selection_file() { return es_dir() + "/context"; }

es::Status errno_status(const std::string& what) {
  return es::Status::io_error(what + ": " + std::strerror(errno));
}

// Makes `dir` (0700) when missing; its parent must exist or be made first.
es::Status make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return errno_status("cannot make " + dir);
}

es::Status make_dirs() {
  for (const std::string& d : {config_home(), es_dir(), contexts_dir()}) {
    if (es::Status s = make_dir(d); !s.ok()) return s;
  }
  return {};
}

// One key of a context file: how to take its value from the file.
struct ContextKey {
  const char* key;
  // An error message for a bad value; empty when taken.
  std::string (*take)(const toml::node& value, NamedContext& c);
};

std::string take_server(const toml::node& v, NamedContext& c) {
  if (!v.is_string()) return "it takes a string (an endpoint)";
  std::string server = v.as_string()->get();
  auto parsed = es::parse_endpoint(server, es::EndpointUse::kConnect);
  if (!parsed.ok()) return parsed.status().message();
  c.server = server;
  return {};
}

std::string take_timeout(const toml::node& v, NamedContext& c) {
  std::optional<double> seconds;
  if (auto i = v.as_integer()) seconds = static_cast<double>(i->get());
  if (auto f = v.as_floating_point()) seconds = f->get();
  if (!seconds) return "it takes a number of seconds";
  std::string text = fmt::format("{}", *seconds);
  if (std::string bad = escli::seconds()(text); !bad.empty()) return bad;
  c.timeout_s = *seconds;
  return {};
}

std::string take_output(const toml::node& v, NamedContext& c) {
  if (!v.is_string() || (v.as_string()->get() != "json" && v.as_string()->get() != "text"))
    return "it takes \"json\" or \"text\"";
  c.output = v.as_string()->get();
  return {};
}

std::string take_key(const toml::node& v, NamedContext& c) {
  if (!v.is_string() || v.as_string()->get().empty()) return "it takes a file name";
  c.key = v.as_string()->get();
  return {};
}

std::string take_server_key(const toml::node& v, NamedContext& c) {
  if (!v.is_string()) return "it takes a public key or a file name";
  c.server_key = v.as_string()->get();
  if (auto key = es::load_public_key(*c.server_key); !key.ok()) return key.status().message();
  return {};
}

constexpr ContextKey kContextKeys[] = {
    {"server", take_server}, {"timeout", take_timeout},       {"output", take_output},
    {"key-file", take_key},  {"server-key", take_server_key},
};

}  // namespace

std::string contexts_dir() { return es_dir() + "/contexts"; }

std::string context_file(const std::string& name) { return contexts_dir() + "/" + name + ".toml"; }

es::Status check_context_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 100 && name[0] != '.' &&
                  std::all_of(name.begin(), name.end(), [](unsigned char ch) {
                    return std::isalnum(ch) != 0 || ch == '.' || ch == '_' || ch == '-';
                  });
  if (ok) return {};
  return es::Status::invalid("'" + name +
                             "' is not a context name (letters, digits, '.', '_' and '-')");
}

// "no context named lcoal (…); did you mean 'local'?"
es::Status no_context(const std::string& name, const std::string& path) {
  std::string text = "no context named " + name + " (" + path + ")";
  if (auto names = context_names(); names.ok()) {
    if (std::string near = es::nearest(name, *names); !near.empty())
      text += "; did you mean '" + near + "'?";
  }
  return es::Status::not_found(text);
}

es::Result<NamedContext> load_context(const std::string& name) {
  ES_RETURN_IF_ERROR(check_context_name(name));
  const std::string path = context_file(name);
  if (::access(path.c_str(), F_OK) != 0) return no_context(name, path);
  NamedContext c;
  c.name = name;
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return es::Status::invalid(
        fmt::format("{}:{}: {}", path, e.source().begin.line, e.description()));
  }
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    const std::string where = fmt::format("{}:{}: {}: ", path, node.source().begin.line, key);
    const auto row = std::find_if(std::begin(kContextKeys), std::end(kContextKeys),
                                  [&](const ContextKey& ck) { return key == ck.key; });
    if (row == std::end(kContextKeys))
      return es::Status::invalid(where +
                                 "unknown key (it takes server, timeout, output, key-file "
                                 "and server-key)");
    if (std::string bad = row->take(node, c); !bad.empty()) return es::Status::invalid(where + bad);
  }
  return c;
}

es::Status save_context(const NamedContext& c, bool replace) {
  ES_RETURN_IF_ERROR(check_context_name(c.name));
  ES_RETURN_IF_ERROR(make_dirs());
  const std::string path = context_file(c.name);
  if (!replace && ::access(path.c_str(), F_OK) == 0)
    return es::Status::invalid("a context named " + c.name + " exists (" + path +
                               "): --force replaces it");
  return es::write_whole_file(path, context_toml(c), 0600);
}

es::Status remove_context(const std::string& name) {
  ES_RETURN_IF_ERROR(check_context_name(name));
  const std::string path = context_file(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return no_context(name, path);
    return errno_status("cannot remove " + path);
  }
  if (selected_context() == name) return select_context("");
  return {};
}

es::Result<std::vector<std::string>> context_names() {
  std::vector<std::string> names;
  DIR* dir = ::opendir(contexts_dir().c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return names;
    return errno_status("cannot read " + contexts_dir());
  }
  while (const dirent* e = ::readdir(dir)) {
    std::string file = e->d_name;
    const std::string ext = ".toml";
    if (file.size() <= ext.size() || file.compare(file.size() - ext.size(), ext.size(), ext) != 0)
      continue;
    std::string name = file.substr(0, file.size() - ext.size());
    if (check_context_name(name).ok()) names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string selected_context() {
  std::ifstream in(selection_file());
  std::string name;
  std::getline(in, name);
  return name;
}

es::Status select_context(const std::string& name) {
  if (name.empty()) {
    if (::unlink(selection_file().c_str()) != 0 && errno != ENOENT)
      return errno_status("cannot remove " + selection_file());
    return {};
  }
  ES_RETURN_IF_ERROR(make_dirs());
  return es::write_whole_file(selection_file(), name + "\n", 0600);
}

std::string context_toml(const NamedContext& c) {
  std::ostringstream out;
  toml::table t;
  if (c.server) t.insert("server", *c.server);
  if (c.timeout_s) {
    const double s = *c.timeout_s;
    if (s == static_cast<double>(static_cast<std::int64_t>(s))) {
      t.insert("timeout", static_cast<std::int64_t>(s));
    } else {
      t.insert("timeout", s);
    }
  }
  if (c.output) t.insert("output", *c.output);
  if (c.key) t.insert("key-file", *c.key);
  if (c.server_key) t.insert("server-key", *c.server_key);
  out << t << "\n";
  return out.str();
}

}  // namespace escmd
