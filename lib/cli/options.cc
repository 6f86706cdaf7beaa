#include "cli/options.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "es/suggest.h"

namespace escli {
namespace {

// `value` as it was typed (quoted when it holds a space or nothing),
// shortened when it is long.
std::string shown(const std::string& value) {
  std::string text = value.size() > 40 ? value.substr(0, 40) + "..." : value;
  const bool plain =
      !value.empty() && std::none_of(value.begin(), value.end(),
                                     [](unsigned char c) { return std::isspace(c) != 0; });
  return plain ? text : "'" + text + "'";
}

std::string number_text(double x) {
  const double whole = std::floor(x);
  if (whole == x && x < 1e15) return with_commas(static_cast<std::uint64_t>(x));
  return fmt::format("{:g}", x);
}

}  // namespace

std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

CLI::Validator whole_number(std::uint64_t min, std::uint64_t max) {
  std::string range = max == std::numeric_limits<std::uint64_t>::max()
                          ? "(" + with_commas(min) + " or more)"
                          : "(from " + with_commas(min) + " to " + with_commas(max) + ")";
  return CLI::Validator(
      [min, max, range](std::string& value) -> std::string {
        const bool digits = !value.empty() && value.size() <= 20 &&
                            std::all_of(value.begin(), value.end(),
                                        [](unsigned char c) { return std::isdigit(c); });
        if (!digits) return shown(value) + " is not a whole number " + range;
        errno = 0;
        const unsigned long long n = std::strtoull(value.c_str(), nullptr, 10);
        if (errno == ERANGE || n < min || n > max)
          return shown(value) + " is not a whole number " + range;
        return {};
      },
      "", "whole number");
}

CLI::Validator seconds(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(value.c_str(), &end);
        const bool number = !value.empty() && end == value.c_str() + value.size() &&
                            std::isfinite(x) && !std::isspace(static_cast<unsigned char>(value[0]));
        if (min > 0 && (!number || x < min || x > max)) {
          return shown(value) + " is not a number of seconds from " + number_text(min) + " to " +
                 number_text(max);
        }
        if (!number || x <= 0) return shown(value) + " is not a number of seconds above 0";
        if (x > max) return shown(value) + " is more seconds than " + number_text(max);
        return {};
      },
      "", "seconds");
}

CLI::Validator endpoint(es::EndpointUse use) {
  return CLI::Validator(
      [use](std::string& value) -> std::string {
        auto parsed = es::parse_endpoint(value, use);
        return parsed.ok() ? std::string() : parsed.status().message();
      },
      "", "endpoint");
}

CLI::Validator not_empty(std::string name) {
  return CLI::Validator(
      [name](std::string& value) -> std::string {
        // Thrown past CLI11's "NAME: " prefix: the message names it itself.
        if (value.empty()) throw CLI::ConversionError(name + " is empty");
        return {};
      },
      "", "not empty");
}

const CLI::App* deepest_command(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return at;
}

std::string command_path(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* p = command.get_parent(); p != nullptr; p = p->get_parent())
    path = p->get_name() + " " + path;
  return path;
}

namespace {

// For CLI11's "The following arguments were not expected": the first
// unknown option and the nearest option its command has; empty when what
// was not expected is no option.
std::string unknown_option(const CLI::App& root) {
  const CLI::App* at = deepest_command(root);
  const std::string path = command_path(*at);
  for (const CLI::App* p = at; p != nullptr; p = p->get_parent()) {
    for (const std::string& word : p->remaining()) {
      if (word.size() < 2 || word.front() != '-') continue;
      const std::string option = word.substr(0, word.find('='));
      std::vector<std::string> names;
      for (const CLI::Option* o : at->get_options()) {
        for (const auto& l : o->get_lnames()) names.push_back("--" + l);
        for (const auto& s : o->get_snames()) names.push_back("-" + s);
      }
      const std::string message = path + " has no option " + option;
      const std::string near = es::nearest(option, names);
      if (!near.empty()) return message + "; did you mean " + near + "?";
      return message + " (`" + path + " --help` lists them)";
    }
  }
  return {};
}

}  // namespace

void plain_errors(CLI::App& app, const std::string& program) {
  app.failure_message([program](const CLI::App* root, const CLI::Error& e) {
    std::string message = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      if (std::string option = unknown_option(*root); !option.empty()) message = option;
    }
    return program + ": error: " + message + "\nRun with --help for more information.\n";
  });
}

}  // namespace escli
