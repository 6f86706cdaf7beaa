// daemon/http_listener.h
//
// esd's HTTP listener (--http-listen): GET /metrics (the Prometheus text
// format, NodeMetrics::render), /livez and /readyz (NodeMetrics' health,
// a one-line plain text reason), and the dashboard: its page at / and its
// API under /api/ (dashboard.h, which checks who may use them). Another
// path is 404, another method 405. It binds loopback unless told otherwise.
//
// Bounds: kWorkers worker threads (the dashboard's live streams take at
// most Dashboard::kMaxLive of them), at most kMaxQueued connections waiting
// for them (past that the accepting thread serves the next one itself, so
// that accepting stops and the kernel's backlog fills), one request per
// connection, 5 s to read a request and to write a reply, a request of at
// most 8 KiB of headers and a body of at most Dashboard::kMaxBody.
//
// Thread safety: start() and the destructor from one thread; the handlers
// run on the listener's threads and only read NodeMetrics.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "es/result.h"

#include "http_address.h"

namespace httplib {
class Server;
}

namespace esd {

class NodeMetrics;
class Dashboard;

class HttpListener {
 public:
  static constexpr int kWorkers = 8;
  static constexpr int kMaxQueued = 16;

  // Binds `address` and serves from a thread of its own; an error names the
  // address. `metrics` must outlive the listener; `dashboard` is made once
  // the port is known (its Host check needs it), or not at all (null).
  static es::Result<std::unique_ptr<HttpListener>> start(
      const HttpAddress& address, const NodeMetrics& metrics,
      const std::function<std::unique_ptr<Dashboard>(const HttpAddress& bound)>& dashboard);
  ~HttpListener();  // stops serving and joins its threads
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;
  // The address as bound (a port of 0 resolved).
  const HttpAddress& address() const { return bound_; }

 private:
  HttpListener() = default;
  std::unique_ptr<Dashboard> dashboard_;
  Dashboard* board_ = nullptr;  // set before serving starts
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};  // the thread has left its accept loop
  HttpAddress bound_;
};

}  // namespace esd
