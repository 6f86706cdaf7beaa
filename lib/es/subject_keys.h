// es/subject_keys.h
//
// Erasure by crypto-shredding (GDPR's right to be forgotten). An event whose
// metadata names a data subject ("$subject": "user-3") has its data sealed
// with that subject's key before it is stored (es/sealed.h): the log, its
// journal, its backups and its replicas hold only ciphertext. The keys live
// in a key store of their own, a directory outside the data directory (esd
// --subject-keys): one file per subject, named by a digest of the subject
// (so that the directory does not list them), holding 32 random bytes, mode
// 0600 in a 0700 directory. Destroying a subject's key (es forget) makes
// every copy of its data unreadable at once, wherever it is stored.
//
// Guarantees: a key is durable (file and directory synced) before it is
// returned, so no event is acknowledged sealed with a key that a crash
// could lose. destroy() overwrites the file with zeros, syncs, unlinks it
// and syncs the directory. What it cannot reach: a copy of the key store
// made before (a backup of it restores the subject: back it up apart, and
// forget again after restoring one), and blocks of the file system below
// the file (a copy-on-write or journaling file system may keep old blocks).
//
// Thread safety: safe from any thread (esd's loop and its follower). Keys
// read are kept in memory until destroyed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "es/result.h"

namespace es {

using SubjectKey = std::array<std::uint8_t, 32>;

class SubjectKeys {
 public:
  // Opens (making it 0700 when missing) the key store at `dir`, which must
  // not be inside `data_dir` (the store and its backups must not hold the
  // keys); refuses a directory group or others may enter.
  static Result<std::unique_ptr<SubjectKeys>> open(const std::string& dir,
                                                   const std::string& data_dir);

  // The subject's key; nullopt when it has none (never had, or forgotten).
  Result<std::optional<SubjectKey>> get(std::string_view subject) const;
  // The subject's key, made (durably) when it has none.
  Result<SubjectKey> get_or_create(std::string_view subject);
  // Stores a key copied from a primary (a replica's).
  Status put(std::string_view subject, const SubjectKey& key);
  // Destroys the subject's key (see above); ok when it has none.
  Status destroy(std::string_view subject);
  const std::string& dir() const { return dir_; }

  // A subject: 1..255 bytes of UTF-8 without controls (es/types.h names).
  static Status validate(std::string_view subject);

 private:
  explicit SubjectKeys(std::string dir) : dir_(std::move(dir)) {}
  std::string path_of(std::string_view subject) const;
  Result<std::optional<SubjectKey>> read_key(std::string_view subject) const;
  Status write_key(std::string_view subject, const SubjectKey& key);
  std::string dir_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, SubjectKey> cache_;
};

}  // namespace es
