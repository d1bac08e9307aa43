// pgdts: command dispatch only.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "error.h"
#include "logging/log.h"
#include "secrets/redact.h"

int main(int argc, char** argv) {
  using namespace pgdts;
  if (const char* password = std::getenv("PGPASSWORD")) secrets::remember(password);
  cli::ParseResult parsed;
  try {
    parsed = cli::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    return cli::report_error(e.what(), 2);
  } catch (const std::exception& e) {
    return cli::report_error(e.what(), 2);
  }
  if (!parsed.options) {
    std::fputs(parsed.help.c_str(), stdout);
    return 0;
  }
  model::Options options = *parsed.options;
  log::init(options.log_level);
  if (options.command == cli::Command::verify || options.command == cli::Command::cutover) {
    try {
      options = cli::with_stored_task_objects(options);
    } catch (const UsageError& e) {
      return cli::report_error(e.what(), 2);
    } catch (const std::exception& e) {
      return cli::report_error(e.what(), 1);
    }
  }
  switch (options.command) {
    case cli::Command::sync: return cli::run_sync(options);
    case cli::Command::stream: return cli::run_stream(options);
    case cli::Command::release: return cli::run_release(options);
    case cli::Command::status: return cli::run_status(options);
    case cli::Command::precheck: return cli::run_precheck(options);
    case cli::Command::verify: return cli::run_verify(options);
    case cli::Command::cutover: return cli::run_cutover(options);
  }
  return 2;
}
