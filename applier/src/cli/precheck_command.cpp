// pgdts precheck: runs the checks of task/precheck.h and prints them. Exit 0
// when none failed (warnings allowed), 1 on any failure. pgdts sync runs the
// same checks first (precheck_before_sync).
#include <cstdio>

#include "cli/commands.h"
#include "secrets/json.h"
#include "cli/precheck_report.h"
#include "logging/log.h"
#include "task/task_state.h"

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

task::PrecheckInput precheck_input(const Options& o) {
  task::PrecheckInput in;
  in.source = o.source;
  in.target = o.target;
  in.task = o.task;
  in.selection = o.selection;
  in.names = o.names;
  in.filters = o.filters;
  in.transforms = o.transforms;
  in.phases = o.phases;
  in.conflict_ignore = o.conflict_ignore;
  in.replica_identity_full = o.replica_identity_full;
  in.no_owner = o.no_owner;
  in.owner_role = o.owner_role;
  in.trust_source = o.trust_source;
  in.application_name = task::application_name(o.task);
  return in;
}

std::string precheck_before_sync(const Options& o, std::vector<task::TableName>& task_tables) {
  task::PrecheckInput input = precheck_input(o);
  input.task_tables_out = &task_tables;
  std::vector<task::Check> checks = task::run_prechecks(input);
  std::string failed;
  for (const auto& c : checks) {
    if (c.status == task::Check::pass) continue;
    log::Event event("precheck");
    event.field("check", c.name).field("status", task::status_name(c.status)).field("message", c.message);
    if (!c.fix.empty()) event.field("fix", c.fix);
    if (c.status == task::Check::warn) {
      event.warn();
      continue;
    }
    event.error();
    failed += (failed.empty() ? "" : "; ") + c.name + ": " + c.message +
              (c.fix.empty() ? "" : " (fix: " + c.fix + ")");
  }
  if (failed.empty()) return "";
  return "precheck failed, not starting: " + failed;
}

int run_precheck(const Options& o) {
  std::vector<task::Check> checks;
  try {
    checks = task::run_prechecks(precheck_input(o));
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
