#include "keyring.h"

namespace esd {

es::Result<std::shared_ptr<Keyring>> Keyring::open(const NodeKeys& keys) {
  auto ring = std::make_shared<Keyring>();
  if (keys.key_file.empty()) {
    if (!keys.allow_file.empty())
      return es::Status::invalid(
          "--allow " + keys.allow_file +
          " needs --key-file: the node's own key pair (es keygen makes one)");
    if (!keys.peer_key.empty())
      return es::Status::invalid("--peer-key needs --key-file: the node's own key pair");
    return ring;
  }
  auto pair = es::load_key_pair(keys.key_file);
  if (!pair.ok()) return es::Status::invalid("--key-file: " + pair.status().message());
  ring->enabled_ = true;
  ring->keys_ = keys;
  ring->node_ = std::move(pair).value();
  ring->peer_key_ = ring->node_.public_key;
  if (!keys.peer_key.empty()) {
    auto peer = es::load_public_key(keys.peer_key);
    if (!peer.ok()) return es::Status::invalid("--peer-key: " + peer.status().message());
    ring->peer_key_ = *peer;
  }
  auto list = ring->load_list();
  if (!list.ok()) return es::Status::invalid("--allow: " + list.status().message());
  ring->list_ = std::move(list).value();
  return ring;
}

es::Result<std::shared_ptr<const es::AllowList>> Keyring::load_list() const {
  auto shared = std::make_shared<es::AllowList>();
  if (!keys_.allow_file.empty()) {
    auto loaded = es::AllowList::load(keys_.allow_file);
    if (!loaded.ok()) return loaded.status();
    shared = std::move(loaded).value();
  }
  es::AllowList& list = *shared;
  if (list.find(node_.public_key) == nullptr) {
    es::AllowedKey own;
    own.role = es::Role::kReplica;
    own.public_key = node_.public_key;
    own.name = std::string("this node's key");
    list.add(std::move(own));
  }
  return std::shared_ptr<const es::AllowList>(std::move(shared));
}

es::CurveClient Keyring::client(bool to_peer) const {
  if (!enabled_) return {};
  return es::CurveClient{to_peer ? peer_key_ : node_.public_key, node_};
}

es::Result<es::CurveClient> Keyring::internal_client(es::Role role, const std::string& name) {
  if (!enabled_) return es::CurveClient{};
  auto pair = es::generate_key_pair();
  if (!pair.ok()) return pair.status();
  es::AllowedKey key;
  key.role = role;
  key.public_key = pair->public_key;
  key.name = name;
  std::lock_guard lock(mu_);
  internal_.push_back(std::move(key));
  return es::CurveClient{node_.public_key, *pair};
}

std::optional<es::AllowedKey> Keyring::find(std::string_view public_key) const {
  std::shared_ptr<const es::AllowList> list;
  {
    std::lock_guard lock(mu_);
    for (const auto& k : internal_)
      if (k.public_key == public_key) return k;
    list = list_;
  }
  if (list == nullptr) return std::nullopt;
  const es::AllowedKey* key = list->find(public_key);
  if (key == nullptr) return std::nullopt;
  return *key;
}

std::size_t Keyring::size() const {
  std::lock_guard lock(mu_);
  return list_ == nullptr ? 0 : list_->size();
}

es::Result<std::size_t> Keyring::reload() {
  if (!enabled_) return std::size_t{0};
  auto list = load_list();
  if (!list.ok()) return list.status();
  const std::size_t n = (*list)->size();
  std::lock_guard lock(mu_);
  list_ = std::move(list).value();
  return n;
}

}  // namespace esd
