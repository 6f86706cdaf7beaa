// cmd/cmd_check.cc: `es check`, a one-line verdict on a node for monitoring
// (Nagios, Icinga, Kubernetes' exec probes), as `nats server check` gives:
// the head's age, replication lag, projections' state and disk room.
//
// Exit status: the Nagios plugin codes, not es's own (context.h): 0 OK,
// 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A node that does not answer is CRITICAL
// (it is down for its users, as nats server check says); UNKNOWN is for
// what es cannot judge: a command line it cannot parse, a node that answers
// in another protocol version.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "es/json.h"

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

// A WARN[,CRIT] pair; a value past `warn` warns, past `crit` is critical.
struct Threshold {
  std::optional<double> warn, crit;
};

struct CheckArgs {
  std::string head_age;             // seconds; off by default
  std::string lag = "1000,100000";  // events
  std::string disk_free = "20,10";  // percent free
};

es::Result<Threshold> parse_threshold(const std::string& option, const std::string& text) {
  Threshold t;
  if (text.empty()) return t;
  const auto comma = text.find(',');
  auto number = [&](const std::string& part) -> es::Result<double> {
    try {
      std::size_t used = 0;
      const double v = std::stod(part, &used);
      if (used == part.size() && v >= 0 && std::isfinite(v)) return v;
    } catch (const std::exception&) {
    }
    return es::Status::invalid(option + " '" + text + "': expected WARN[,CRIT], numbers >= 0");
  };
  auto warn = number(text.substr(0, comma));
  if (!warn.ok()) return warn.status();
  t.warn = *warn;
  if (comma != std::string::npos) {
    auto crit = number(text.substr(comma + 1));
    if (!crit.ok()) return crit.status();
    t.crit = *crit;
  }
  return t;
}

enum Verdict {
  kOk = static_cast<int>(NagiosCode::kOk),
  kWarning = static_cast<int>(NagiosCode::kWarning),
  kCritical = static_cast<int>(NagiosCode::kCritical),
  kUnknown = static_cast<int>(NagiosCode::kUnknown),
};
const char* verdict_name(Verdict v) {
  static const char* const kNames[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
  return kNames[v];
}

// What is found: the worst verdict, the problems that made it (said first),
// and the facts.
class Findings {
 public:
  void problem(Verdict v, std::string what) {
    verdict_ = std::max(verdict_, v);
    problems_.push_back(std::move(what));
  }
  void fact(std::string what) { facts_.push_back(std::move(what)); }
  // Over a threshold where `higher_is_worse`, under it otherwise.
  Verdict judge(double value, const Threshold& t, bool higher_is_worse) const {
    auto past = [&](std::optional<double> limit) {
      return limit && (higher_is_worse ? value > *limit : value < *limit);
    };
    return past(t.crit) ? kCritical : past(t.warn) ? kWarning : kOk;
  }
  Verdict verdict() const { return verdict_; }
  const std::vector<std::string>& problems() const { return problems_; }
  std::string line() const {
    std::string out = std::string(verdict_name(verdict_)) + ": ";
    std::vector<std::string> all = problems_;
    all.insert(all.end(), facts_.begin(), facts_.end());
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (i > 0) out += i == problems_.size() ? "; " : ", ";
      out += all[i];
    }
    for (char& c : out)
      if (c == '\n' || c == '\r') c = ' ';  // one line, as Nagios reads it
    return out;
  }

 private:
  Verdict verdict_ = kOk;
  std::vector<std::string> problems_, facts_;
};

std::string json_strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const auto& s : v) {
    if (out.size() > 1) out += ',';
    es::append_json_string(out, s);
  }
  return out + "]";
}

std::string age_text(double s) {
  return s < 120 ? fmt::format("{:.0f} s", s) : fmt::format("{:.0f} min", s / 60);
}

Verdict run_check(const CheckArgs& args, Context& ctx, bool json) {
  auto head_age = parse_threshold("--head-age", args.head_age);
  auto lag = parse_threshold("--lag", args.lag);
  auto disk = parse_threshold("--disk-free", args.disk_free);
  for (const es::Status& s : {head_age.status(), lag.status(), disk.status()}) {
    if (!s.ok()) {
      ctx.emit(std::string("UNKNOWN: ") + s.message());
      return kUnknown;
    }
  }
  Findings f;
  ObjectWriter w(false);
  auto finish = [&] {
    if (json) {
      w.field("status", std::string_view(verdict_name(f.verdict())))
          .field("code", static_cast<std::uint64_t>(f.verdict()))
          .raw("problems", json_strings(f.problems()), "")
          .field("message", f.line());
      ctx.emit(w.str());
    } else {
      ctx.emit(f.line());
    }
    return f.verdict();
  };
  auto client = ctx.connect();
  auto status = client->status();
  if (!status.ok()) {
    const bool down = status.status().code() == es::Code::kUnavailable;
    f.problem(down ? kCritical : kUnknown, "node " + ctx.server + ": " + status.status().message());
    return finish();
  }
  const auto& s = *status;

  // The head, and how old it is.
  std::optional<double> age;
  if (s.head_time_us > 0)
    age = std::max<double>(0, static_cast<double>(es::now_us() - s.head_time_us) / 1e6);
  std::string head =
      fmt::format("head {}", s.head) + (age ? " (" + age_text(*age) + " old)" : " (empty)");
  if (Verdict v = age ? f.judge(*age, *head_age, true) : kOk; v != kOk) {
    f.problem(v, head + ", older than " +
                     fmt::format("{:g}", v == kCritical ? *head_age->crit : *head_age->warn) +
                     " s");
  } else {
    f.fact(head);
  }
  w.field("head", s.head).field("head_age_s", age);

  // Replication: a replica's own lag, or the replicas reporting to this node.
  std::optional<double> worst_lag;
  if (!s.primary.empty()) {
    const double behind =
        s.primary_head > s.head ? static_cast<double>(s.primary_head - s.head) : 0;
    worst_lag = behind;
    if (s.follow_state != "following") {
      f.problem(s.follow_state == "diverged" ? kCritical : kWarning,
                "replica of " + s.primary + " is " + s.follow_state +
                    (s.follow_error.empty() ? "" : " (" + s.follow_error + ")"));
    } else if (Verdict v = f.judge(behind, *lag, true); v != kOk) {
      f.problem(v, fmt::format("{:.0f} events behind its primary {}", behind, s.primary));
    } else {
      f.fact(fmt::format("following {} within {:.0f} events", s.primary, behind));
    }
  }
  if (!s.source.empty() && s.source_lag_events >= 0) {
    const double behind = static_cast<double>(s.source_lag_events);
    worst_lag = std::max(worst_lag.value_or(0), behind);
    if (Verdict v = f.judge(behind, *lag, true); v != kOk)
      f.problem(v, fmt::format("projections {:.0f} events behind {}", behind, s.source));
  }
  std::string replicas_json = "[";
  std::size_t replicas = 0;
  double replica_lag = 0;
  for (const auto& r : s.replicas) {
    if (r.stopping) continue;  // stopped on purpose
    ++replicas;
    const double behind = s.head > r.head ? static_cast<double>(s.head - r.head) : 0;
    replica_lag = std::max(replica_lag, behind);
    if (replicas_json.size() > 1) replicas_json += ',';
    replicas_json += ObjectWriter(false)
                         .field("listen", r.listen)
                         .field("lag_events", static_cast<std::uint64_t>(behind))
                         .field("seen_s", static_cast<double>(r.age_ms) / 1e3)
                         .str();
    if (Verdict v = f.judge(behind, *lag, true); v != kOk)
      f.problem(v, fmt::format("{} {} is {:.0f} events behind", r.role, r.listen, behind));
    if (r.age_ms > 60'000)
      f.problem(kWarning,
                fmt::format("{} {} silent for {:.0f} s", r.role, r.listen, r.age_ms / 1e3));
  }
  if (s.primary.empty()) {
    f.fact(replicas == 0 ? "no replicas"
                         : fmt::format("{} replica{} within {:.0f} events", replicas,
                                       replicas == 1 ? "" : "s", replica_lag));
  }
  if (replicas > 0) worst_lag = std::max(worst_lag.value_or(0), replica_lag);
  w.raw("replicas", replicas_json + "]", "").field("lag_events", worst_lag);

  // Projections: a failed one is critical.
  auto list = client->projections({""});
  if (!list.ok()) {
    f.problem(kUnknown, "projections: " + list.status().message());
  } else {
    std::uint64_t running = 0, stopped = 0;
    std::vector<std::string> failed;
    for (const auto& p : list->projections) {
      if (p.status == "running") ++running;
      if (p.status == "stopped") ++stopped;
      if (p.status == "failed") {
        failed.push_back(p.name);
        // The error names the projection already: "projection NAME: ...".
        std::string why = p.error;
        if (const std::string named = "projection " + p.name + ": "; why.rfind(named, 0) == 0)
          why = why.substr(named.size());
        f.problem(kCritical, "projection " + p.name + " failed: " + why);
      }
    }
    f.fact(fmt::format("{} projection{} running", running, running == 1 ? "" : "s") +
           (stopped > 0 ? fmt::format(" ({} stopped)", stopped) : ""));
    w.raw("projections",
          ObjectWriter(false)
              .field("running", running)
              .field("stopped", stopped)
              .raw("failed", json_strings(failed), "")
              .str(),
          "");
  }

  // Disk room on the data directory's file system.
  std::optional<double> free_pct;
  if (s.disk_bytes > 0)
    free_pct = 100.0 * static_cast<double>(s.disk_free_bytes) / static_cast<double>(s.disk_bytes);
  if (!free_pct) {
    f.fact("disk room unknown");
  } else if (Verdict v = f.judge(*free_pct, *disk, false); v != kOk) {
    f.problem(v, fmt::format("{:.0f}% disk free ({} MiB)", std::floor(*free_pct),
                             s.disk_free_bytes >> 20));
  } else {
    f.fact(fmt::format("{:.0f}% disk free", std::floor(*free_pct)));
  }
  w.field("disk_free_percent", free_pct).field("disk_free_bytes", s.disk_free_bytes);
  return finish();
}

}  // namespace

void register_check(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "One-line health verdict for monitoring; exits with Nagios codes (0 OK, 1 WARNING, "
      "2 CRITICAL, 3 UNKNOWN)");
  sub->add_option("--head-age", args->head_age,
                  "Seconds the head (the last event) may be old: WARN[,CRIT] (default: not "
                  "checked)")
      ->type_name("WARN[,CRIT]");
  sub->add_option("--lag", args->lag,
                  "Events a replica may be behind: WARN[,CRIT] (default 1000,100000)")
      ->type_name("WARN[,CRIT]");
  sub->add_option("--disk-free", args->disk_free,
                  "Percent of the data file system that must stay free: WARN[,CRIT] (default "
                  "20,10)")
      ->type_name("WARN[,CRIT]");
  sub->callback([args, &ctx, sub] {
    // Text unless -o json is given: a monitor reads one line.
    const bool json =
        ctx.output == "json" && (sub->count("--output") > 0 || ctx.root->count("--output") > 0);
    ctx.exit_code = nagios_exit(run_check(*args, ctx, json));
  });
}

}  // namespace escmd
