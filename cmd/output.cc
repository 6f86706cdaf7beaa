#include "output.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace escmd {

namespace {
bool looks_numeric(std::string_view cell) {
  return !cell.empty() && (cell == "-" || std::all_of(cell.begin(), cell.end(), [](char c) {
                             return std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
                                    c == ',' || c == '-';
                           }));
}
}  // namespace

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)), widths_(header_.size()), numeric_(header_.size(), true) {
  for (std::size_t i = 0; i < header_.size(); ++i) widths_[i] = header_[i].size();
}

bool TextTable::add(std::vector<std::string> row, Context& ctx) {
  row.resize(header_.size());
  if (fixed_) return print(row, ctx);
  for (std::size_t i = 0; i < row.size(); ++i) {
    widths_[i] = std::max(widths_[i], row[i].size());
    numeric_[i] = numeric_[i] && looks_numeric(row[i]);
  }
  held_.push_back(std::move(row));
  return held_.size() < kWidthRows || finish(ctx);
}

bool TextTable::finish(Context& ctx) {
  if (!fixed_) {
    fixed_ = true;
    if (!print(header_, ctx)) return false;
  }
  for (const auto& row : held_) {
    if (!print(row, ctx)) return false;
  }
  held_.clear();
  return !ctx.stdout_closed();
}

bool TextTable::print(const std::vector<std::string>& row, Context& ctx) {
  std::string line;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i > 0) line += "  ";
    const bool last = i + 1 == row.size();
    if (numeric_[i])
      line += fmt::format("{:>{}}", row[i], widths_[i]);
    else
      line += last ? row[i] : fmt::format("{:<{}}", row[i], widths_[i]);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return ctx.emit(line);
}

}  // namespace escmd
