// daemon/keyring.h
//
// The node's CurveZMQ keys (esd --key-file, --allow, --peer-key; es/curve.h):
// its own pair, which its request and publish sockets use as a CURVE
// server, and the allow-list of the public keys that may connect, each with
// a role. With no --key-file the keyring is off: ZeroMQ's NULL mechanism, every
// peer may do everything, and esd binds loopback only (unless --insecure).
//
// The node's internal clients (a replica's follower, a read node's link,
// the projection workers) present the node's own pair. Its public key is
// in the allow-list with the replica role (read, and a follower's
// reports), so that nodes sharing one pair follow each other without a
// line for it; give a node's key another role with a line of its own.
//
// reload() (SIGHUP) reads the allow-list again: a key added, revoked or
// given another role takes effect for new connections and for the next
// request of a connected one. A file that does not load keeps the old list.
//
// Thread safety: find() and reload() may run on any thread (the ZAP
// handler's, the loop's).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "es/curve.h"
#include "es/result.h"

namespace esd {

struct NodeKeys {
  std::string key_file;    // --key-file; empty: the keyring is off
  std::string allow_file;  // --allow; empty: only the node's own key
  std::string peer_key;    // --peer-key: --follow's or --project-from's public key (or a file)
};

class Keyring {
 public:
  Keyring() = default;  // off
  // Loads the pair and the allow-list; an error names the file and line.
  static es::Result<std::shared_ptr<Keyring>> open(const NodeKeys& keys);

  bool enabled() const { return enabled_; }
  const es::KeyPair& node() const { return node_; }
  // What an internal client presents to this node (server_key empty) or to
  // the node it follows or projects from (the --peer-key, else this
  // node's own public key). Empty when off.
  es::CurveClient client(bool to_peer) const;
  const std::string& key_file() const { return keys_.key_file; }

  // A key pair of this process's own, allowed `role` until esd exits (no
  // file holds it; reloads keep it): what the dashboard presents, so that
  // it may do on this node what its admin token allows. Off: an empty
  // client.
  es::Result<es::CurveClient> internal_client(es::Role role, const std::string& name);

  // The allowed key, copied (a reload may replace the list meanwhile).
  std::optional<es::AllowedKey> find(std::string_view public_key) const;
  std::size_t size() const;
  // Reads --allow again; on success, how many keys it holds.
  es::Result<std::size_t> reload();

 private:
  es::Result<std::shared_ptr<const es::AllowList>> load_list() const;

  bool enabled_ = false;
  NodeKeys keys_;
  es::KeyPair node_;
  std::string peer_key_;
  mutable std::mutex mu_;
  std::shared_ptr<const es::AllowList> list_;  // guarded by mu_
  std::vector<es::AllowedKey> internal_;       // guarded by mu_
};

}  // namespace esd
