#include "checkpoint_owners.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "es/curve.h"
#include "es/whole_file.h"

namespace esd {

es::Result<CheckpointOwners> CheckpointOwners::load(const std::string& path) {
  CheckpointOwners owners;
  owners.path_ = path;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return owners;
    return es::Status::io_error("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    // The key first: a name may hold spaces.
    const std::string key = line.substr(0, es::kCurveKeyChars);
    if (line.size() < es::kCurveKeyChars + 2 || line[es::kCurveKeyChars] != ' ' ||
        !es::is_curve_key(key))
      return es::Status::corruption(path + ":" + std::to_string(number) +
                                    ": expected PUBLIC-KEY NAME");
    owners.owners_[line.substr(es::kCurveKeyChars + 1)] = key;
  }
  return owners;
}

const std::string* CheckpointOwners::owner(const std::string& name) const {
  auto it = owners_.find(name);
  return it == owners_.end() ? nullptr : &it->second;
}

es::Status CheckpointOwners::claim(const std::string& name, const std::string& key) {
  owners_[name] = key;
  es::Status s = save();
  if (!s.ok()) owners_.erase(name);
  return s;
}

es::Status CheckpointOwners::forget(const std::string& name) {
  if (owners_.erase(name) == 0) return {};
  return save();
}

es::Status CheckpointOwners::save() const {
  std::string text;
  for (const auto& [name, key] : owners_) text += key + " " + name + "\n";
  return es::write_whole_file(path_, text, 0600, es::FileReplace::kAllowed, es::FileSync::kDurable);
}

}  // namespace esd
