// daemon/checkpoint_owners.h
//
// Which key made each named subscription's checkpoint, so that a write key
// moves only its own (an admin key moves any). A write key that moves a
// checkpoint no one has made yet claims it; one that exists without an
// owner (made before the node had keys, or by an admin) is an admin's to
// move. Removing a checkpoint (admin) drops its claim.
//
// Kept in DATA/checkpoint-owners (0600), one "PUBLIC-KEY NAME" line each,
// written whole and synced before the move that claims the name commits:
// a claim is never lost once its checkpoint exists. Not replicated: after
// a promotion, the new primary's checkpoints are an admin's to move until
// claimed again (esd(8), Security).
//
// Thread safety: the loop's.
#pragma once

#include <map>
#include <string>

#include "es/result.h"

namespace esd {

class CheckpointOwners {
 public:
  // A missing file: no claims. A line that does not parse is an error
  // naming the file and the line.
  static es::Result<CheckpointOwners> load(const std::string& path);

  // The key (Z85) that claimed `name`; nullptr when none did.
  const std::string* owner(const std::string& name) const;
  // Claims `name` for `key` and writes the file.
  es::Status claim(const std::string& name, const std::string& key);
  // Drops `name`'s claim (when it has one) and writes the file.
  es::Status forget(const std::string& name);

 private:
  es::Status save() const;

  std::string path_;
  std::map<std::string, std::string> owners_;  // name -> key
};

}  // namespace esd
