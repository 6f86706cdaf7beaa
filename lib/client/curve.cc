#include "es/curve.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "es/suggest.h"
#include "es/whole_file.h"

#include <sys/stat.h>
#include <unistd.h>

namespace es {

namespace {

constexpr std::string_view kZ85 =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Calls `take` with each line of `path` that is neither blank nor a '#'
// comment, trimmed; an error it returns is prefixed with "PATH:LINE: ".
Status each_line(const std::string& path, const std::function<Status(std::string_view)>& take) {
  auto text = read_file(path);
  if (!text.ok()) return text.status();
  std::istringstream lines(*text);
  std::string raw;
  for (int number = 1; std::getline(lines, raw); ++number) {
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (Status s = take(line); !s.ok())
      return Status::invalid(fmt::format("{}:{}: {}", path, number, s.message()));
  }
  return {};
}

// The `name = "value"` lines of a key file, checked: name -> value.
Result<std::unordered_map<std::string, std::string>> key_file_lines(const std::string& path) {
  std::unordered_map<std::string, std::string> values;
  Status s = each_line(path, [&](std::string_view line) -> Status {
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Status::invalid("expected name = \"value\"");
    const std::string name(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    if (name != "public-key" && name != "secret-key")
      return Status::invalid("'" + name + "' is not public-key or secret-key");
    if (value.size() < 2 || value.front() != '"' || value.back() != '"')
      return Status::invalid(name + " takes a quoted key");
    value = value.substr(1, value.size() - 2);
    if (!is_curve_key(value)) return Status::invalid(name + " is not a key (40 characters of Z85)");
    values[name] = std::string(value);
    return {};
  });
  if (!s.ok()) return s;
  return values;
}

std::string octal(mode_t mode) { return fmt::format("{:04o}", mode & 07777); }

}  // namespace

bool is_curve_key(std::string_view text) {
  return text.size() == kCurveKeyChars && std::all_of(text.begin(), text.end(), [](char c) {
           return kZ85.find(c) != std::string_view::npos;
         });
}

Result<KeyPair> generate_key_pair() {
  char public_key[kCurveKeyChars + 1];
  char secret_key[kCurveKeyChars + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0)
    return Status::invalid(std::string("cannot make a key pair: ") + zmq_strerror(zmq_errno()) +
                           " (is libzmq built with CURVE?)");
  return KeyPair{public_key, secret_key};
}

Status write_key_files(const std::string& base, const KeyPair& pair, bool replace) {
  const std::string public_line = "public-key = \"" + pair.public_key + "\"\n";
  if (!replace) {
    for (const std::string& path : {base + ".key", base + ".pub"}) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0)
        return Status::invalid(path + " exists already (es keygen --force replaces it)");
    }
  }
  Status s = write_whole_file(base + ".key",
                              "# An es key pair (es keygen). The secret key is here: keep this "
                              "file private.\n" +
                                  public_line + "secret-key = \"" + pair.secret_key + "\"\n",
                              0600);
  if (!s.ok()) return s;
  return write_whole_file(base + ".pub",
                          "# An es public key (es keygen): give it to a node's allow-list "
                          "(esd --allow) or to clients (es --server-key).\n" +
                              public_line,
                          0644);
}

Result<KeyPair> load_key_pair(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::invalid("cannot read " + path + ": " + std::strerror(errno));
  auto values = key_file_lines(path);
  if (!values.ok()) return values.status();
  if (values->count("secret-key") == 0 || values->count("public-key") == 0)
    return Status::invalid(path +
                           " holds no key pair (public-key and secret-key; es keygen "
                           "makes one)");
  // PostgreSQL's rule for its server key: 0600 or less, or 0640 when root
  // owns the file (a Kubernetes Secret mounted for the pod's fsGroup).
  const mode_t too_open =
      st.st_uid == 0 && ::geteuid() != 0 ? (S_IWGRP | S_IXGRP | S_IRWXO) : (S_IRWXG | S_IRWXO);
  if ((st.st_mode & too_open) != 0)
    return Status::invalid(path + " holds a secret key and others may read it (mode " +
                           octal(st.st_mode) + "): chmod 600 " + path);
  return KeyPair{(*values)["public-key"], (*values)["secret-key"]};
}

Result<std::string> load_public_key(const std::string& key_or_file) {
  struct stat st {};
  if (::stat(key_or_file.c_str(), &st) != 0) {
    if (is_curve_key(key_or_file)) return key_or_file;
    return Status::invalid("'" + key_or_file +
                           "' is neither a public key (40 characters of Z85) nor a file that "
                           "holds one");
  }
  auto values = key_file_lines(key_or_file);
  if (!values.ok()) return values.status();
  if (values->count("public-key") == 0)
    return Status::invalid(key_or_file + " holds no public-key");
  return (*values)["public-key"];
}

const char* role_name(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kReplica:
      return "replica";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role r : {Role::kRead, Role::kWrite, Role::kReplica, Role::kAdmin})
    if (name == role_name(r)) return r;
  return std::nullopt;
}

bool role_covers(Role have, Role need) {
  return have == Role::kAdmin || need == Role::kRead || have == need;
}

Result<std::shared_ptr<AllowList>> AllowList::load(const std::string& path) {
  auto list = std::make_shared<AllowList>();
  Status s = each_line(path, [&](std::string_view line) -> Status {
    std::istringstream words{std::string(line)};
    std::string role_word, key, name;
    words >> role_word >> key;
    std::getline(words, name);
    auto role = parse_role(role_word);
    if (!role) {
      const std::string near = nearest(role_word, {"read", "write", "replica", "admin"});
      return Status::invalid("'" + role_word + "' is not a role (read, write, replica or admin)" +
                             (near.empty() ? "" : "; did you mean '" + near + "'?"));
    }
    if (!is_curve_key(key))
      return Status::invalid("expected ROLE PUBLIC-KEY [NAME]; '" + key +
                             "' is not a public key (40 characters of Z85)");
    if (list->find(key) != nullptr) return Status::invalid("the key " + key + " is listed twice");
    name = std::string(trim(name));
    list->add({*role, key, name.empty() ? key.substr(0, 8) : name});
    return {};
  });
  if (!s.ok()) return s;
  return list;
}

void AllowList::add(AllowedKey key) {
  std::string public_key = key.public_key;
  keys_.insert_or_assign(std::move(public_key), std::move(key));
}

const AllowedKey* AllowList::find(std::string_view public_key) const {
  auto it = keys_.find(std::string(public_key));
  return it == keys_.end() ? nullptr : &it->second;
}

void set_curve_client(zmq::socket_t& socket, const CurveClient& keys) {
  if (!keys.enabled()) return;
  socket.set(zmq::sockopt::curve_serverkey, keys.server_key);
  socket.set(zmq::sockopt::curve_publickey, keys.own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys.own.secret_key);
}

void set_curve_server(zmq::socket_t& socket, const KeyPair& node) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, node.secret_key);
}

}  // namespace es
