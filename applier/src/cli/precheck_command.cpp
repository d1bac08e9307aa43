// pgdts precheck: runs the checks of task/precheck.h and prints them. Exit 0
// when none failed (warnings allowed), 1 on any failure. pgdts sync runs the
// same checks first (sync/runner.cpp).
#include <cstdio>

#include "cli/commands.h"
#include "error.h"
#include "secrets/json.h"
#include "cli/precheck_report.h"
#include "logging/log.h"

namespace pgdts::cli {

std::string precheck_text(const std::vector<task::Check>& checks) {
  std::string out;
  for (const auto& c : checks) out += task::format_line(c) + "\n";
  return out + task::summary_line(checks) + "\n";
}

std::string precheck_json(const std::vector<task::Check>& checks) {
  std::string list = "[";
  for (const auto& c : checks) {
    if (list.size() > 1) list += ',';
    list += secrets::JsonObject()
                .field("name", c.name)
                .field("status", std::string(task::status_name(c.status)))
                .field("message", c.message)
                .field("fix", c.fix)
                .str();
  }
  list += "]";
  return secrets::JsonObject()
             .field("result", std::string(task::status_name(task::overall(checks))))
             .raw("checks", list)
             .str() +
         "\n";
}

int run_precheck(const Options& o) {
  std::vector<task::Check> checks;
  try {
    checks = task::run_prechecks(task::precheck_input(o));
  } catch (const UsageError& e) {
    return report_error(e.what(), 2);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
  std::string out = o.json ? precheck_json(checks) : precheck_text(checks);
  print(out);
  return task::overall(checks) == task::Check::fail ? 1 : 0;
}

}  // namespace pgdts::cli
