#include "store/lmdb.h"

#include <cerrno>
#include <string>

namespace es::store {

Status lmdb_status(int rc, std::string_view op) {
  if (rc == MDB_SUCCESS) return {};
  std::string msg = std::string(op) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND:
      return Status::not_found(msg);
    case ENOSPC:
    case EDQUOT:
      return Status(Code::kDiskFull, "disk full: " + msg);
    case MDB_MAP_FULL:
      return Status(Code::kDiskFull, msg);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
      return Status::corruption(msg);
    case EAGAIN:
    case EBUSY:
      return Status(Code::kBusy, msg);
    default:
      return Status::io_error(msg);
  }
}

}  // namespace es::store
