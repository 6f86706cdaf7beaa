// cmd/cmd_append.cc: `es append [STREAM]`
//
// With --data, appends one event and never reads stdin (unless it is
// `--data -`; `--data @FILE` reads FILE). Otherwise reads NDJSON events
// from stdin and sends them in batches of --batch events (or as one
// all-or-nothing append with --atomic, where each line may carry its
// stream's "expect"). A key a line may not have is refused, naming the line
// and the nearest known key; the other members of `es read`'s lines are
// skipped, so that `es read A | es append B` copies a stream. Event ids are
// made here when the input has none, so that resending a request is
// idempotent. With --expect, every batch after the first expects the exact
// version the previous one left, so a concurrent writer still makes it fail
// (exit 3).
//
// Correlation ids: each event es makes gets "$correlationId" in its
// metadata (--correlation-id, or a UUID made once per run), unless the
// metadata has one. Events that come with an id of their own keep their
// bytes (a retry must resend the same content; es read's lines copied into
// another stream are copies) unless --correlation-id names one: a copy
// never gets one.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>

#include <rapidjson/document.h>

#include "es/json.h"
#include "es/suggest.h"
#include "es/uuid.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "progress.h"

namespace escmd {
namespace {

constexpr std::size_t kBatchBytes = 4u << 20;
constexpr std::size_t kMaxLineBytes = es::kMaxDataBytes + es::kMaxMetadataBytes + 64 * 1024;

struct AppendArgs {
  std::string stream;
  std::string type;
  std::optional<std::string> data;
  std::optional<std::string> metadata;
  std::string id;
  std::string expect = "any";
  bool atomic = false;
  std::size_t batch = 1000;
  std::string correlation_id;  // empty: one made per run
};

constexpr std::size_t kMaxCorrelationIdBytes = 256;

// Adds "$correlationId": `id` to `e`'s metadata (canonical JSON, an object
// or empty), first, unless it has one.
es::Status add_correlation_id(es::ProposedEvent& e, const std::string& id) {
  std::string member = "\"$correlationId\":";
  es::append_json_string(member, id);
  if (e.metadata.empty()) {
    e.metadata = "{" + member + "}";
    return {};
  }
  if (e.metadata.find("\"$correlationId\"") != std::string::npos) {
    rapidjson::Document doc;
    doc.Parse(e.metadata.data(), e.metadata.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("$correlationId")) return {};
  }
  std::string meta = "{" + member + "," + e.metadata.substr(1);
  if (meta.size() > es::kMaxMetadataBytes) {
    return es::Status::invalid("metadata with its $correlationId is over " +
                               std::to_string(es::kMaxMetadataBytes) + " bytes");
  }
  e.metadata = std::move(meta);
  return {};
}

// Per-stream totals over all batches, in order of first appearance.
class Totals {
 public:
  void add(const es::AppendResult& r) {
    for (const auto& w : r.streams) {
      auto it = index_.find(w.stream);
      if (it == index_.end()) {
        index_.emplace(w.stream, totals_.size());
        totals_.push_back(w);
        continue;
      }
      es::StreamWritten& t = totals_[it->second];
      t.count += w.count;
      t.last_version = w.last_version;
      t.last_position = w.last_position;
    }
  }
  std::optional<es::Version> last_version(const std::string& stream) const {
    auto it = index_.find(stream);
    if (it == index_.end()) return std::nullopt;
    return totals_[it->second].last_version;
  }
  std::uint64_t events() const {
    std::uint64_t n = 0;
    for (const auto& t : totals_) n += t.count;
    return n;
  }
  void print(Context& ctx) const {
    for (const auto& t : totals_) {
      if (!ctx.emit(written_line(t, ctx.text()))) return;
    }
  }

 private:
  std::vector<es::StreamWritten> totals_;
  std::map<std::string, std::size_t> index_;
};

class Appender {
 public:
  Appender(Context& ctx, es::ExpectedVersion expected)
      : ctx_(ctx), expected_(expected), client_(ctx.connect()) {}

  // Sends `request`, adding the expectations for its streams: a stream's
  // own (from its lines' "expect") wins over --expect.
  es::Status send(es::AppendRequest& request,
                  const std::map<std::string, es::ExpectedVersion>& own = {}) {
    std::vector<std::string> seen;
    for (const auto& e : request.events) {
      if (std::find(seen.begin(), seen.end(), e.stream) != seen.end()) continue;
      seen.push_back(e.stream);
      if (auto it = own.find(e.stream); it != own.end()) {
        request.expectations.push_back({e.stream, it->second});
      } else if (expected_.kind() != es::ExpectedVersion::Kind::kAny) {
        auto last = totals_.last_version(e.stream);
        request.expectations.push_back(
            {e.stream, last ? es::ExpectedVersion::exact(*last) : expected_});
      }
    }
    auto result = client_->append(request);
    if (!result.ok()) return result.status();
    totals_.add(*result);
    progress_.update(totals_.events());
    return {};
  }
  const Totals& totals() const { return totals_; }
  void clear_progress() { progress_.clear(); }

 private:
  Context& ctx_;
  es::ExpectedVersion expected_;
  std::unique_ptr<es::Client> client_;
  Totals totals_;
  Progress progress_{"appended", "events"};  // on a terminal only
};

es::Result<es::ProposedEvent> make_event(std::string stream, std::string type,
                                         std::string_view data, std::string_view metadata,
                                         std::string_view id) {
  es::ProposedEvent e;
  e.stream = std::move(stream);
  e.type = std::move(type);
  ES_RETURN_IF_ERROR(es::validate_name("stream name", e.stream));
  ES_RETURN_IF_ERROR(es::validate_name("event type", e.type));
  auto canonical = es::canonical_json(data, "data", es::kMaxDataBytes);
  if (!canonical.ok()) return canonical.status();
  e.data = std::move(canonical).value();
  if (!metadata.empty()) {
    auto meta =
        es::canonical_json(metadata, "metadata", es::kMaxMetadataBytes, es::JsonShape::kObject);
    if (!meta.ok()) return meta.status();
    if (*meta != "{}") e.metadata = std::move(meta).value();
  }
  if (id.empty()) {
    e.id = es::Uuid::v7();
  } else {
    auto parsed = es::Uuid::parse(id);
    if (!parsed.ok()) return parsed.status();
    e.id = *parsed;
  }
  return e;
}

// Reads one line of `in` (without its newline) into `line`, but stops past
// `max` bytes, so that a huge line is refused without being held: false at
// the end of the input; *too_long when the line is longer than `max`.
bool read_line(std::istream& in, std::string* line, std::size_t max, bool* too_long) {
  line->clear();
  *too_long = false;
  std::streambuf* buf = in.rdbuf();
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return !line->empty();
    }
    if (c == '\n') return true;
    if (line->size() >= max) {
      *too_long = true;
      return true;
    }
    line->push_back(static_cast<char>(c));
  }
}

// Reads at most `max` + 1 bytes of `in`: enough for the size check that
// follows to refuse, without holding a huge input.
std::string read_bounded(std::istream& in, std::size_t max) {
  std::string out;
  char buf[65536];
  while (out.size() <= max && in.read(buf, sizeof buf).gcount() > 0)
    out.append(buf, static_cast<std::size_t>(in.gcount()));
  return out;
}

// The value of --data or --metadata: the JSON given, or "@FILE": FILE's
// contents, or "-": stdin's.
es::Result<std::string> json_argument(const std::string& option, const std::string& value,
                                      std::size_t max) {
  if (value == "-") {
    std::string text = read_bounded(std::cin, max);
    if (std::cin.bad()) return es::Status::io_error(option + " -: cannot read stdin");
    return text;
  }
  if (value.empty() || value[0] != '@') return value;
  const std::string path = value.substr(1);
  if (path.empty()) return es::Status::invalid(option + " @FILE: the file name is empty");
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return es::Status::io_error(option + " " + value + ": cannot open " + path + ": " +
                                std::strerror(errno));
  }
  std::string text = read_bounded(file, max);
  if (file.bad()) return es::Status::io_error(option + " " + value + ": cannot read " + path);
  return text;
}

// One input line: an event, and the version its stream is expected at.
struct Line {
  es::ProposedEvent event;
  std::optional<es::ExpectedVersion> expect;
  bool has_id = false;  // the line gave the event's id (a retry, or a copy)
  bool copy = false;    // an event of another stream (es read A | es append B)
};

es::Status unknown_key(const std::string& key) {
  std::string message = "unknown key \"" + key + "\"";
  if (std::string near = es::nearest(key, es::event_line_keys()); !near.empty())
    message += "; did you mean \"" + near + "\"?";
  else
    message += " (an event line has stream, type, data, metadata, id and expect)";
  return es::Status::invalid(message);
}

// Parses one input line into an event.
es::Result<Line> parse_line(const std::string& line, const std::string& stream_arg) {
  auto fields = es::parse_event_fields(line);
  if (!fields.ok()) return fields.status();
  if (!fields->unknown_keys.empty()) return unknown_key(fields->unknown_keys.front());
  if (!fields->type) return es::Status::invalid("no \"type\" string");
  std::string stream = stream_arg;
  if (stream.empty()) {
    if (!fields->stream)
      return es::Status::invalid("no \"stream\" string (give one per line, or a STREAM argument)");
    stream = *fields->stream;
  }
  if (!fields->data) return es::Status::invalid("no \"data\" (any JSON value)");
  Line out;
  if (fields->expect) {
    auto expect = es::ExpectedVersion::parse(*fields->expect);
    if (!expect.ok()) return es::Status::invalid("\"expect\": " + expect.status().message());
    out.expect = *expect;
  }
  std::string id = fields->id.value_or("");
  out.has_id = !id.empty();
  // A line that names another stream than the one it goes to, with an id,
  // is an event copied from there (es read A | es append B): the copy gets
  // an id of its own, the same on every run.
  if (!id.empty() && fields->stream && *fields->stream != stream) {
    auto source = es::Uuid::parse(id);
    if (!source.ok()) return es::Status::invalid("\"id\": " + source.status().message());
    id = es::Uuid::copy_of(*source, stream).to_string();
    out.copy = true;
  }
  auto e = make_event(std::move(stream), std::move(*fields->type), *fields->data,
                      fields->metadata.value_or(""), id);
  if (!e.ok()) return e.status();
  out.event = std::move(e).value();
  return out;
}

// The streams' own expected versions in one --atomic append, from the
// lines' "expect": one per stream.
class LineExpectations {
 public:
  es::Status add(const std::string& stream, const es::ExpectedVersion& expect,
                 std::size_t line_no) {
    auto [it, added] = by_stream_.emplace(stream, expect);
    if (!added && it->second.to_string() != expect.to_string()) {
      return es::Status::invalid("stream " + stream + " expects " + it->second.to_string() +
                                 " on line " + std::to_string(line_of_[stream]) +
                                 "; one append checks one expected version per stream");
    }
    line_of_.emplace(stream, line_no);
    return {};
  }
  const std::map<std::string, es::ExpectedVersion>& by_stream() const { return by_stream_; }

 private:
  std::map<std::string, es::ExpectedVersion> by_stream_;
  std::map<std::string, std::size_t> line_of_;
};

ExitCode finish(Context& ctx, Appender& appender, const es::Status& s) {
  appender.clear_progress();
  appender.totals().print(ctx);
  if (s.ok()) return ExitCode::kSuccess;
  ctx.flush();
  std::uint64_t done = appender.totals().events();
  if (done == 0) return ctx.fail(s);
  return ctx.fail(es::Status(s.code(), s.message() + " (" + std::to_string(done) +
                                           " events were appended before it, as printed)"));
}

ExitCode run_append(const AppendArgs& args, Context& ctx) {
  auto expected = es::ExpectedVersion::parse(args.expect);
  if (!expected.ok()) return ctx.usage(expected.status().message());
  const bool given_correlation = !args.correlation_id.empty();
  if (args.correlation_id.size() > kMaxCorrelationIdBytes) {
    return ctx.usage("--correlation-id is at most " + std::to_string(kMaxCorrelationIdBytes) +
                     " bytes");
  }
  const std::string correlation =
      given_correlation ? args.correlation_id : es::Uuid::v7().to_string();
  if (args.data) {
    if (args.type.empty()) return ctx.usage("--data needs --type");
    if (args.stream.empty()) return ctx.usage("--data needs a STREAM");
    if (*args.data == "-" && args.metadata == "-")
      return ctx.usage("--data - and --metadata -: only one of them can read stdin");
    auto data = json_argument("--data", *args.data, es::kMaxDataBytes);
    if (!data.ok()) return ctx.fail(data.status());
    auto metadata = json_argument("--metadata", args.metadata.value_or(""), es::kMaxMetadataBytes);
    if (!metadata.ok()) return ctx.fail(metadata.status());
    Appender appender(ctx, *expected);
    auto e = make_event(args.stream, args.type, *data, *metadata, args.id);
    if (!e.ok()) return ctx.fail(e.status());
    if (args.id.empty() || given_correlation) {
      if (es::Status s = add_correlation_id(*e, correlation); !s.ok()) return ctx.fail(s);
    }
    es::AppendRequest request;
    request.events.push_back(std::move(e).value());
    return finish(ctx, appender, appender.send(request));
  }
  if (!args.type.empty() || args.metadata || !args.id.empty()) {
    return ctx.usage("--type, --metadata and --id go with --data; stdin lines carry their own");
  }

  Appender appender(ctx, *expected);
  LineExpectations line_expectations;
  es::AppendRequest request;
  std::size_t request_bytes = 0, line_no = 0;
  std::string line;
  bool too_long = false;
  while (read_line(std::cin, &line, kMaxLineBytes, &too_long)) {
    ++line_no;
    if (too_long) {
      return finish(ctx, appender,
                    es::Status::invalid("stdin line " + std::to_string(line_no) + ": longer than " +
                                        std::to_string(kMaxLineBytes) +
                                        " bytes (an event's data is at most " +
                                        std::to_string(es::kMaxDataBytes >> 20) + " MiB)"));
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = parse_line(line, args.stream);
    es::Status line_status = parsed.status();
    if (line_status.ok() && !parsed->copy && (!parsed->has_id || given_correlation))
      line_status = add_correlation_id(parsed->event, correlation);
    if (line_status.ok() && parsed->expect) {
      line_status = args.atomic
                        ? line_expectations.add(parsed->event.stream, *parsed->expect, line_no)
                        : es::Status::invalid(
                              "\"expect\" goes with --atomic (one append checks every "
                              "stream's expected version)");
    }
    if (!line_status.ok()) {
      return finish(ctx, appender,
                    es::Status::invalid("stdin line " + std::to_string(line_no) + ": " +
                                        line_status.message()));
    }
    es::ProposedEvent& e = parsed->event;
    request_bytes += e.data.size() + e.metadata.size() + e.stream.size() + e.type.size() + 64;
    request.events.push_back(std::move(e));
    if (args.atomic) {
      if (request.events.size() > es::kMaxAppendEvents || request_bytes > es::kMaxAppendBytes) {
        return finish(ctx, appender,
                      es::Status::invalid("--atomic input is larger than one append may be (" +
                                          std::to_string(es::kMaxAppendEvents) + " events, " +
                                          std::to_string(es::kMaxAppendBytes >> 20) +
                                          " MiB); nothing was appended"));
      }
    } else if (request.events.size() >= args.batch || request_bytes >= kBatchBytes) {
      if (es::Status s = appender.send(request); !s.ok()) return finish(ctx, appender, s);
      request = {};
      request_bytes = 0;
    }
  }
  if (std::cin.bad()) return finish(ctx, appender, es::Status::io_error("cannot read stdin"));
  if (!request.events.empty()) {
    if (es::Status s = appender.send(request, line_expectations.by_stream()); !s.ok())
      return finish(ctx, appender, s);
  } else if (appender.totals().events() == 0) {
    return ctx.fail(es::Status::invalid("no events on stdin"));
  }
  return finish(ctx, appender, {});
}

}  // namespace

void register_append(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<AppendArgs>();
  CLI::App* sub = app.add_subcommand(
      "append", "Append events to a stream (one with --data, else NDJSON from stdin)");
  sub->add_option("stream", args->stream,
                  "Stream to append to (else each stdin line names its \"stream\")")
      ->check(escli::not_empty("STREAM"))
      ->type_name("STREAM");
  sub->add_option("-t,--type", args->type, "Event type (with --data)")
      ->check(escli::not_empty("--type"))
      ->type_name("TYPE");
  sub->add_option("-d,--data", args->data,
                  "Event data as JSON, @FILE for FILE's, or - for stdin's; stdin is not read "
                  "otherwise")
      ->check(escli::not_empty("--data"))
      ->type_name("JSON");
  sub->add_option("-m,--metadata", args->metadata,
                  "Event metadata as a JSON object, @FILE or - (with --data)")
      ->check(escli::not_empty("--metadata"))
      ->type_name("JSON");
  sub->add_option("--id", args->id, "Event id, a UUID (with --data; default: a new UUIDv7)")
      ->check(escli::not_empty("--id"))
      ->type_name("UUID");
  sub->add_option("-e,--expect", args->expect, "Expected version: any, no-stream, exists or N")
      ->type_name("VERSION");
  sub->add_option("--correlation-id", args->correlation_id,
                  "The \"$correlationId\" es adds to each event's metadata (default: a new "
                  "UUID per run; not added to copies or where the metadata has one)")
      ->check(escli::not_empty("--correlation-id"))
      ->type_name("ID");
  sub->add_flag("--atomic", args->atomic, "Append the whole input as one all-or-nothing append");
  sub->add_option("--batch", args->batch, "Events per request when reading stdin (default 1000)")
      ->check(escli::whole_number(1))
      ->type_name("N");
  sub->callback([args, &ctx] { ctx.exit_code = run_append(*args, ctx); });
}

}  // namespace escmd
