// es/whole_file.h
//
// A small file written whole: a temporary file beside it (PATH.tmp, made
// with `mode` whatever the umask), renamed over PATH, so that a reader sees
// the old text or the new, never a part. For small files (named contexts,
// key files, esd's checkpoint owners). With FileSync::kDurable the file is
// synced before the rename and its directory after: the new text survives
// a crash once this returns.
#pragma once

#include <string>
#include <string_view>

#include "es/status.h"

#include <sys/types.h>

namespace es {

enum class FileReplace { kAllowed, kRefused };
enum class FileSync { kNone, kDurable };

// kRefused: an existing PATH is refused (kInvalidArgument, naming it).
Status write_whole_file(const std::string& path, std::string_view text, mode_t mode,
                        FileReplace replace = FileReplace::kAllowed,
                        FileSync sync = FileSync::kNone);

// Syncs directory `dir`, so that the names made or removed in it last.
Status sync_dir(const std::string& dir);

}  // namespace es
