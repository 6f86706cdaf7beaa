#include "backup_worker.h"

#include <spdlog/spdlog.h>

namespace esd {

namespace {
const char* const kDoneEndpoint = "inproc://esd-backup-done";
}  // namespace

BackupWorker::BackupWorker(zmq::context_t& ctx, es::Store& store,
                           const es::ProjectionStore& projections, es::store::BackupOptions options)
    : store_(store),
      projections_(projections),
      options_(options),
      done_in_(ctx, zmq::socket_type::pair),
      done_out_(ctx, zmq::socket_type::pair) {
  done_in_.set(zmq::sockopt::linger, 0);
  done_out_.set(zmq::sockopt::linger, 0);
  done_in_.bind(kDoneEndpoint);
  done_out_.connect(kDoneEndpoint);
}

BackupWorker::~BackupWorker() {
  if (thread_.joinable()) thread_.join();
}

es::Status BackupWorker::start(std::string identity, std::uint64_t request_id, std::string dir) {
  if (running()) {
    return es::Status(es::Code::kBusy, "a backup into " + outcome_.dir +
                                           " is running: one backup at a time; try again "
                                           "when it is done");
  }
  outcome_ = Outcome{std::move(identity), request_id, std::move(dir)};
  thread_ = std::thread([this] {
    outcome_.report = es::store::backup(store_, projections_, outcome_.dir, options_);
    char done = 1;
    done_out_.send(zmq::buffer(&done, 1), zmq::send_flags::dontwait);
  });
  return {};
}

std::optional<BackupWorker::Outcome> BackupWorker::finish() {
  if (!running()) return std::nullopt;
  thread_.join();
  zmq::message_t m;
  (void)done_in_.recv(m, zmq::recv_flags::dontwait);  // its wake-up, if not taken yet
  return std::move(outcome_);
}

}  // namespace esd
