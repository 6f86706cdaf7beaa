// cmd/output.h: how es prints results (NDJSON by default, text with -o text).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "es/event.h"

#include "context.h"
#include "protocol/messages.h"
#include "view/output.h"

namespace escmd {

// The shapes es shares with esd's dashboard (view/output.h).
using es::view::add_source_fields;
using es::view::event_line;
using es::view::ObjectWriter;
using es::view::seconds_ago;
using es::view::status_line;
using es::view::stream_line;
using es::view::text_time_us;
using es::view::written_line;

// Rows under a header, in aligned columns (-o text); cells that look like
// numbers align right. The first 1,000 rows set the widths, so that a long
// listing starts at once and stays bounded in memory; later, longer cells
// push their line out.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  // Adds a row, printing through `ctx` once the widths are set. False once
  // stdout is closed.
  bool add(std::vector<std::string> row, Context& ctx);
  // Prints what is held. False once stdout is closed.
  bool finish(Context& ctx);

 private:
  static constexpr std::size_t kWidthRows = 1000;
  bool print(const std::vector<std::string>& row, Context& ctx);
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> held_;
  std::vector<std::size_t> widths_;
  std::vector<bool> numeric_;
  bool fixed_ = false;
};

}  // namespace escmd
