// es/curve.h
//
// CurveZMQ keys (ZeroMQ's RFC 26): who a client or a node is, and what a
// node lets each key do.
//
// - A key pair is two Z85 strings of 40 characters (32 bytes each). `es
//   keygen BASE` writes BASE.key (both keys; mode 0600) and BASE.pub (the
//   public key alone, to hand out). Both are lines of `name = "value"`:
//       public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//       secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//   A .key file that group or others may read is refused, as ssh refuses
//   an unprotected private key (one that root owns may be 0640 for a
//   reader in its group, as PostgreSQL allows for its server key).
// - An allow-list (esd --allow FILE) is one key per line: a role, the
//   public key, and a name for the log (the rest of the line); '#' starts
//   a comment line:
//       admin   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  ops laptop
//   Roles: read (hello, reads, status, subscriptions, checkpoints and
//   projections looked at), write (read, and appends, its own checkpoints,
//   consumer groups), replica (read, and a follower's reports), admin
//   (everything: stop, promote, projections, removals, backups, any
//   checkpoint).
// - A socket is set up as a CURVE client (the node's public key, and the
//   client's pair) or server (the node's pair). No keys: ZeroMQ's NULL
//   mechanism, as before (esd then binds loopback only, unless --insecure).
//
// Thread safety: values and free functions; nothing shared.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "es/result.h"
#include "es/status.h"

namespace es {

inline constexpr std::size_t kCurveKeyChars = 40;  // Z85 of 32 bytes

struct KeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// Whether `text` is a Z85-encoded 32-byte key.
bool is_curve_key(std::string_view text);
// A new pair from the system's random source (libsodium, through libzmq).
Result<KeyPair> generate_key_pair();
// Writes BASE.key (0600) and BASE.pub (0644), each through a temporary
// file and a rename; an existing file is refused unless `replace`.
Status write_key_files(const std::string& base, const KeyPair& pair, bool replace);
// The pair in a .key file; errors name the file (and its line).
Result<KeyPair> load_key_pair(const std::string& path);
// A public key given as itself (40 characters of Z85) or as a file that
// holds one (a .pub or .key file): a file of that name wins.
Result<std::string> load_public_key(const std::string& key_or_file);

enum class Role { kRead, kWrite, kReplica, kAdmin };
const char* role_name(Role role);
std::optional<Role> parse_role(std::string_view name);
// Whether a key of role `have` may make a request that needs `need`.
bool role_covers(Role have, Role need);

struct AllowedKey {
  Role role = Role::kRead;
  std::string public_key;  // Z85
  std::string name;        // for the log: the file's name for it, else the key's first 8 characters
};

// An allow-list file, read whole and checked: a bad line is an error that
// names the file, the line and what is wrong; a key listed twice too.
class AllowList {
 public:
  static Result<std::shared_ptr<AllowList>> load(const std::string& path);
  // Adds `key` (a node's own key: internal clients carry it).
  void add(AllowedKey key);
  const AllowedKey* find(std::string_view public_key) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::unordered_map<std::string, AllowedKey> keys_;  // by public key
};

// What a client presents: the node's public key and its own pair. Empty:
// the NULL mechanism.
struct CurveClient {
  std::string server_key;
  KeyPair own;
  bool enabled() const { return !server_key.empty(); }
};

// Sets `socket` (before it connects or binds) up as a CURVE client or server.
void set_curve_client(zmq::socket_t& socket, const CurveClient& keys);
void set_curve_server(zmq::socket_t& socket, const KeyPair& node);

}  // namespace es
