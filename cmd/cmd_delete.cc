// cmd/cmd_delete.cc: `es delete STREAM [--hard]` and `es retention STREAM`,
// a stream's lifecycle (es/stream_rules.h). The node writes each change as
// an event of the stream's metadata stream "$$STREAM" (admin role); reads
// apply it at once, and the node removes what it hides by itself.
#include <cctype>

#include <fmt/format.h>

#include "es/stream_rules.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

using es::protocol::StreamRulesRequest;

// A soft delete without --expect deletes the stream as it is when the node
// gets it: an append in between is a conflict, tried again this often.
constexpr int kDeleteTries = 5;

struct DeleteArgs {
  std::string stream;
  bool hard = false;
  std::string expect;  // a version, or empty
};

struct RetentionArgs {
  std::string stream;
  std::string max_count, max_age, truncate_before;  // empty: unchanged; "none": cleared
};

// "90", "90s", "15m", "12h", "30d", "2w" -> seconds.
es::Result<std::uint64_t> parse_age(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (unit == "d") scale = 86400;
  if (unit == "w") scale = 7 * 86400;
  if (digits == 0 || digits > 12 || scale == 0) {
    return es::Status::invalid("--max-age " + text +
                               ": give seconds, or a number with s, m, h, d or w (30d), or none");
  }
  return std::stoull(text.substr(0, digits)) * scale;
}

void print_rules(Context& ctx, const std::string& stream, const es::StreamRules& rules,
                 std::optional<es::Position> position) {
  ObjectWriter w(ctx.text());
  w.field("stream", stream);
  if (rules.truncate_before) w.field("truncate_before", *rules.truncate_before);
  if (rules.max_count) w.field("max_count", *rules.max_count);
  if (rules.max_age_s) w.field("max_age", static_cast<std::uint64_t>(*rules.max_age_s));
  if (rules.tombstone) w.field("tombstone", true);
  if (position) w.field("position", *position);
  ctx.emit(w.str());
}

// The rules `stream` has: its metadata stream's last event.
es::Result<es::StreamRules> current_rules(es::Client& client, const std::string& stream) {
  es::ReadRequest rq;
  rq.stream = es::metadata_stream_of(stream);
  rq.backwards = true;
  rq.from_end = true;
  rq.limit = 1;
  auto page = client.read(rq);
  if (!page.ok() && page.status().code() == es::Code::kNotFound) return es::StreamRules{};
  if (!page.ok()) return page.status();
  if (page->events.empty()) return es::StreamRules{};
  return es::rules_of(page->events.front());
}

ExitCode run_delete(Context& ctx, const DeleteArgs& args) {
  StreamRulesRequest rq;
  rq.stream = args.stream;
  rq.action = args.hard ? StreamRulesRequest::kTombstone : StreamRulesRequest::kDelete;
  if (!args.expect.empty()) {
    auto v = es::ExpectedVersion::parse(args.expect);
    if (!v.ok() || v->kind() != es::ExpectedVersion::Kind::kExact)
      return ctx.usage("--expect " + args.expect + ": give the stream's last version, a number");
    rq.has_expected = true;
    rq.expected = v->version();
  }
  auto client = ctx.connect();
  es::Result<es::AppendResult> done = es::Status::unavailable("not sent");
  for (int attempt = 0; attempt < kDeleteTries; ++attempt) {
    done = client->change_stream_rules(rq);
    if (done.ok() || rq.has_expected || done.status().code() != es::Code::kWrongExpectedVersion)
      break;
  }
  if (!done.ok()) return ctx.fail(done.status());
  const es::Position at = done->streams.empty() ? 0 : done->streams.front().last_position;
  if (ctx.text()) {
    ctx.emit(
        fmt::format("{} deleted{} (position {})", args.stream, args.hard ? " for good" : "", at));
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("stream", args.stream)
                 .field("deleted", std::string_view(args.hard ? "hard" : "soft"))
                 .field("position", at)
                 .str());
  }
  return ExitCode::kSuccess;
}

ExitCode run_retention(Context& ctx, const RetentionArgs& args) {
  auto client = ctx.connect();
  std::string patch;
  auto member = [&](const char* name, const std::string& value) {
    patch += patch.empty() ? "{" : ",";
    patch += fmt::format("\"{}\":{}", name, value);
  };
  if (!args.max_count.empty())
    member("max_count", args.max_count == "none" ? "null" : args.max_count);
  if (!args.max_age.empty()) {
    if (args.max_age == "none") {
      member("max_age", "null");
    } else {
      auto age = parse_age(args.max_age);
      if (!age.ok()) return ctx.usage(age.status().message());
      member("max_age", std::to_string(*age));
    }
  }
  if (!args.truncate_before.empty()) member("truncate_before", args.truncate_before);
  if (patch.empty()) {  // show them
    auto rules = current_rules(*client, args.stream);
    if (!rules.ok()) return ctx.fail(rules.status());
    print_rules(ctx, args.stream, *rules, std::nullopt);
    return ExitCode::kSuccess;
  }
  StreamRulesRequest rq;
  rq.stream = args.stream;
  rq.action = StreamRulesRequest::kRetention;
  rq.patch = patch + "}";
  auto done = client->change_stream_rules(rq);
  if (!done.ok()) return ctx.fail(done.status());
  auto rules = current_rules(*client, args.stream);
  if (!rules.ok()) return ctx.fail(rules.status());
  print_rules(ctx, args.stream, *rules,
              done->streams.empty() ? std::nullopt
                                    : std::optional<es::Position>(done->streams[0].last_position));
  return ExitCode::kSuccess;
}

// A count for --max-count: a whole number from 1, or none.
CLI::Validator count_or_none() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v == "none") return {};
        if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos ||
            std::stoull(v) == 0)
          return "give a whole number from 1, or none";
        return {};
      },
      "COUNT|none");
}

}  // namespace

void register_delete(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<DeleteArgs>();
  CLI::App* sub = app.add_subcommand(
      "delete",
      "Delete a stream: it reads as gone, and its events are removed (admin); --hard: for good");
  sub->add_option("stream", args->stream, "Stream to delete")
      ->required()
      ->check(escli::not_empty("STREAM"))
      ->type_name("STREAM");
  sub->add_flag("--hard", args->hard,
                "A tombstone: the stream is never written again (a soft delete lets it be "
                "written again from its next version)");
  sub->add_option("--expect", args->expect,
                  "Only if the stream's last version is this one (else exit 3)")
      ->check(escli::whole_number())
      ->type_name("VERSION");
  sub->callback([&ctx, args] { ctx.exit_code = run_delete(ctx, *args); });
}

void register_retention(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RetentionArgs>();
  CLI::App* sub = app.add_subcommand(
      "retention",
      "Show or set how long a stream keeps its events: by count, by age, or before a version "
      "(setting needs admin); the node removes what they leave out");
  sub->add_option("stream", args->stream, "The stream")
      ->required()
      ->check(escli::not_empty("STREAM"))
      ->type_name("STREAM");
  sub->add_option("--max-count", args->max_count, "Keep the last COUNT events (none: no limit)")
      ->check(count_or_none())
      ->type_name("COUNT");
  sub->add_option("--max-age", args->max_age,
                  "Keep events younger than AGE: seconds, or 15m, 12h, 30d, 2w (none: no limit)")
      ->type_name("AGE");
  sub->add_option("--truncate-before", args->truncate_before,
                  "Remove the versions before VERSION (it only moves forward)")
      ->check(escli::whole_number())
      ->type_name("VERSION");
  sub->callback([&ctx, args] { ctx.exit_code = run_retention(ctx, *args); });
}

}  // namespace escmd
