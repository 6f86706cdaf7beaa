#include "bench/read_loop.h"

#include "bench/events.h"

namespace es::bench {

Result<ReadLoopResult> run_read_loop(Client& client, const ReadLoopOptions& o) {
  ReadLoopResult r;
  ReadRequest rq;
  rq.stream = o.stream;
  rq.from = o.stream.empty() ? 1 : 0;
  rq.limit = o.page_events;
  const std::int64_t t0 = now_ns();
  for (long pages = 0; pages < 100'000'000; pages++) {
    const std::int64_t a = now_ns();
    auto page = client.read(rq);
    r.page_latency_ns.push_back(now_ns() - a);
    if (!page.ok()) return page.status();
    r.pages++;
    for (const auto& e : page->events) {
      r.events++;
      r.data_bytes += e.data.size() + e.metadata.size();
      if (o.on_event) o.on_event(e);
    }
    if (o.on_progress) o.on_progress(r.events);
    if (page->end) break;
    if (page->next <= rq.from) return Status::protocol("the read does not advance");
    rq.from = page->next;
    if (now_ns() - t0 > o.time_limit.count()) return Status::unavailable("read timed out");
  }
  r.secs = secs_since(t0);
  return r;
}

}  // namespace es::bench
