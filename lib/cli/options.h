// cli/options.h
//
// Checks for command-line options, shared by es and esd, so that every bad
// value is refused while the command line is parsed: a usage error (exit 2)
// "PROGRAM: error: OPTION: VALUE is not ..." that names the option and the
// value and writes ranges as people write them ("1 to 65,535", not
// CLI11's "Value 0 not in range 0.000000 to 1797693...").
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <CLI/CLI.hpp>

#include "es/endpoint.h"

namespace escli {

// 3600000 -> "3,600,000".
std::string with_commas(std::uint64_t n);

// A whole number written with digits only (no sign, no fraction), from
// `min` to `max`: counts, positions, milliseconds, sizes.
CLI::Validator whole_number(std::uint64_t min = 0,
                            std::uint64_t max = std::numeric_limits<std::uint64_t>::max());

// A number of seconds (a decimal fraction allowed) above 0, or from `min`
// when `min` > 0, and at most `max`.
CLI::Validator seconds(double min = 0, double max = 1e6);

// An endpoint, as es::parse_endpoint() takes it.
CLI::Validator endpoint(es::EndpointUse use);

// Refuses an empty value, naming the option or argument as `name` ("--type
// is empty", "STREAM is empty").
CLI::Validator not_empty(std::string name);

// Makes every parse error print "PROGRAM: error: MESSAGE" and a pointer to
// --help (the usage code 2 is the caller's: app.exit() returns CLI11's).
// An option the command does not have is named with the nearest one it
// has: "es read has no option --limt; did you mean --limit?".
void plain_errors(CLI::App& app, const std::string& program);

// The deepest command given (es, es project, es project add, ...).
const CLI::App* deepest_command(const CLI::App& app);
// A command's name with its parents' ("es project add").
std::string command_path(const CLI::App& command);

}  // namespace escli
