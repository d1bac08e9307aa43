// verify and cutover work on the task's tables: given no task options, they
// take those the task's sync stored (pgdts.task.task_options), so that the
// DBA need not repeat --schemas/--tables/--map for every command.
#include "cli/commands.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "store/task_store.h"

namespace pgdts::cli {

Options with_stored_task_objects(const Options& o) {
  if (!o.object_args.empty()) return o;
  pg::Connection dest =
      pg::Connection::open(o.target, {"destination", false, store::application_name(o.task), ""});
  std::vector<std::string> stored = store::TaskStore(dest).stored_task_options(o.task);
  if (stored.empty()) return o;
  Options with = o;
  use_stored_task_objects(with, stored);
  std::string args;
  for (const auto& a : stored) args += (args.empty() ? "" : " ") + a;
  log::Event("task_options_used").field("task", o.task).field("options", args).info();
  return with;
}

}  // namespace pgdts::cli
