// store/private_files.h (private)
//
// A data directory and its files are private to the user esd runs as:
// directories are made 0700 and files 0600 (whatever the umask), as
// PostgreSQL keeps its own. A directory that others may write is refused
// (anyone could swap a file under the store); one that others may read or
// enter is used, with a warning, since its files are still 0600. Files an
// older esd made 0644 are made 0600 when the store opens.
#pragma once

#include <string>

#include "es/status.h"

namespace es::store {

// Creates `dir` (and its parents) when missing, the last one 0700; refuses
// it when group or others may write it.
Status prepare_private_dir(const std::string& dir);

// Drops every group and other permission of `path` when it exists.
Status make_private(const std::string& path);

}  // namespace es::store
