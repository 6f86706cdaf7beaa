#include "http_listener.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "dashboard.h"
#include "metrics.h"

#include <httplib.h>
#include <sys/socket.h>

namespace esd {

namespace {

constexpr int kTimeoutSeconds = 5;

// httplib's thread pool with a bound on the connections queued for it: past
// kMaxQueued the accepting thread serves the connection itself, which stops
// it accepting until it is done (the kernel's backlog holds, then refuses).
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool() : pool_(HttpListener::kWorkers) {}
  void enqueue(std::function<void()> fn) override {
    if (queued_.fetch_add(1) >= HttpListener::kMaxQueued) {
      queued_.fetch_sub(1);
      fn();
      return;
    }
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      queued_.fetch_sub(1);
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<int> queued_{0};
};

void answer(httplib::Response& res, const Health& h) {
  res.status = h.http_status;
  res.set_content(h.reason + "\n", "text/plain; charset=utf-8");
}

bool is_health(const std::string& path) {
  return path == "/metrics" || path == "/livez" || path == "/readyz";
}

}  // namespace

es::Result<std::unique_ptr<HttpListener>> HttpListener::start(
    const HttpAddress& address, const NodeMetrics& metrics,
    const std::function<std::unique_ptr<Dashboard>(const HttpAddress& bound)>& dashboard) {
  std::unique_ptr<HttpListener> l(new HttpListener());
  l->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *l->server_;
  svr.new_task_queue = [] { return new BoundedPool(); };
  // SO_REUSEADDR (a restart binds despite TIME_WAIT), not httplib's
  // default SO_REUSEPORT, with which a second esd would share the port.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_keep_alive_max_count(1);
  svr.set_read_timeout(kTimeoutSeconds, 0);
  svr.set_write_timeout(kTimeoutSeconds, 0);
  svr.set_payload_max_length(Dashboard::kMaxBody);
  Dashboard** board = &l->board_;
  svr.set_pre_routing_handler([board](const httplib::Request& req, httplib::Response& res) {
    const bool post = req.path == "/api/append" || req.path == "/api/stop";
    if (!is_health(req.path) && *board == nullptr) {
      res.status = 404;
      res.set_content("not found: esd serves /metrics, /livez and /readyz\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != (post ? "POST" : "GET") && (post || req.method != "HEAD")) {
      res.status = 405;
      res.set_header("Allow", post ? "POST" : "GET, HEAD");
      res.set_content(post ? "method not allowed: POST only\n" : "method not allowed: GET only\n",
                      "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!is_health(req.path) && !(*board)->admit(req, res))
      return httplib::Server::HandlerResponse::Handled;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/livez", [&metrics](const httplib::Request&, httplib::Response& res) {
    answer(res, metrics.live());
  });
  svr.Get("/readyz", [&metrics](const httplib::Request&, httplib::Response& res) {
    answer(res, metrics.ready());
  });
  l->bound_ = address;
  errno = 0;
  if (address.port == 0) {
    const int port = svr.bind_to_any_port(address.host);
    if (port > 0) l->bound_.port = port;
  } else if (!svr.bind_to_port(address.host, address.port)) {
    l->bound_.port = -1;
  }
  if (l->bound_.port <= 0) {
    const int err = errno;
    return es::Status::unavailable("cannot serve HTTP on " + address.to_string() + ": " +
                                   (err != 0 ? std::strerror(err) : "cannot bind"));
  }
  if (dashboard) {
    l->dashboard_ = dashboard(l->bound_);
    l->dashboard_->route(svr);
    l->board_ = l->dashboard_.get();
  }
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    res.set_content(res.status == 404 ? "not found\n" : "error\n", "text/plain");
  });
  l->thread_ = std::thread([&svr, done = &l->done_] {
    svr.listen_after_bind();
    done->store(true);
  });
  return l;
}

HttpListener::~HttpListener() {
  // stop() does nothing before the thread is in its accept loop.
  for (int i = 0; i < 2000 && thread_.joinable() && !done_ && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (dashboard_) dashboard_->close();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace esd
