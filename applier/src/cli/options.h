// The command line (and --config INI file) of pgdts: parsing, validation and
// help. Everything that can be wrong with the options is found here and
// reported as a UsageError (exit status 2) before anything connects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/options.h"

namespace pgdts::cli {

using model::Command;
using model::Options;

struct ParseResult {
  std::optional<Options> options;  // set unless help was asked for
  std::string help;                // print it and exit 0
};

// args: argv without the program name. Throws UsageError.
ParseResult parse_command_line(const std::vector<std::string>& args);

// Takes the task's stored object options (Options::object_args of its sync)
// when none were given. Throws UsageError when they no longer parse.
void use_stored_task_objects(Options& options, const std::vector<std::string>& stored);

// The throttle options (--full-*, --incr-*) after reading the config file
// again: those on the command line stay, the others take the file's values
// (an option removed from the file means no limit). Throws UsageError.
Options reread_throttles(const Options& options);

}  // namespace pgdts::cli
