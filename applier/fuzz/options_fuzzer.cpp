// Fuzz target: the command line and the --config INI file (src/cli/
// options.cpp), everything that turns what a user typed into Options.
//
// An input is the arguments after the program name, one per line, then
// optionally a line "#config" and the config file's text:
//
//   sync
//   --source
//   host=a dbname=app
//   --target=postgres://b/app
//   #config
//   map = public=dst
//   full-rps = 500
//
// The config text is written to a file of this process and given as
// --config FILE (an argument naming another config file is dropped: the
// fuzzer must not read /dev/zero or a terminal). Then:
//   - parse_command_line gives Options, help, or a UsageError (exit 2);
//   - the config file read again for SIGHUP (reread_throttles) gives the
//     same, or a UsageError;
//   - the object options a sync stores with its task (Options::object_args)
//     must parse again (use_stored_task_objects), as verify and cutover
//     parse them: a UsageError there is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.h"
#include "error.h"

namespace {

using namespace pgdts;

constexpr std::string_view kConfigLine = "#config\n";
constexpr std::size_t kMaxArgs = 64;

const std::string& config_path() {
  static const std::string path =
      "/tmp/pgdts-fuzz-options-" + std::to_string(::getpid()) + ".ini";
  return path;
}

void write_config(std::string_view text) {
  std::FILE* f = std::fopen(config_path().c_str(), "wb");
  if (!f) std::abort();  // the fuzzer's own environment, not the input
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

bool names_a_config_file(std::string_view arg) { return arg.rfind("--config", 0) == 0; }

std::vector<std::string> read_args(std::string_view input) {
  std::vector<std::string> args;
  while (!input.empty() && args.size() < kMaxArgs) {
    std::size_t eol = input.find('\n');
    std::string_view arg = input.substr(0, eol);
    if (!names_a_config_file(arg)) args.emplace_back(arg);
    if (eol == std::string_view::npos) break;
    input.remove_prefix(eol + 1);
  }
  return args;
}

// What verify and cutover do with the object options sync stored.
void check_stored_objects_parse(const cli::Options& parsed) {
  if (parsed.object_args.empty()) return;
  cli::Options later;
  later.command = cli::Command::verify;
  try {
    cli::use_stored_task_objects(later, parsed.object_args);
  } catch (const UsageError&) {
    __builtin_trap();  // options sync accepted and stored no longer parse
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t config_at = input.find(kConfigLine);
  std::vector<std::string> args = read_args(input.substr(0, config_at));
  if (config_at != std::string_view::npos) {
    write_config(input.substr(config_at + kConfigLine.size()));
    args.push_back("--config");
    args.push_back(config_path());
  }
  try {
    cli::ParseResult r = cli::parse_command_line(args);
    if (r.options) {  // else help or version
      check_stored_objects_parse(*r.options);
      (void)cli::reread_throttles(*r.options);
    }
  } catch (const UsageError&) {
    // a clean error: one line, exit status 2
  }
  // per input: libFuzzer ends with _Exit, which runs no atexit handler
  std::remove(config_path().c_str());
  return 0;
}
