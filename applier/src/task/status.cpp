#include "task/status.h"

#include <charconv>

#include "pg/literals.h"
#include "store/task_store.h"

namespace pgdts::task {
TaskStatus read_status(pg::Connection& dest, const std::string& task) {
  TaskStatus s;
  s.task = task;
  std::optional<store::StoredStatus> row = store::TaskStore(dest).status(task);
  if (!row) return s;
  s.found = true;
  static_cast<store::StoredStatus&>(s) = *row;
  for (const auto& arg : store::TaskStore(dest).stored_task_options(task)) {
    if (arg.rfind("--filter=", 0) == 0) s.filters.push_back(arg.substr(9));
    if (arg.rfind("--transform=", 0) == 0) s.transforms.push_back(arg.substr(12));
  }
  s.full = store::load_status(dest, task);
  return s;
}

void add_source_status(pg::Connection& source, TaskStatus& s) {
  std::string slot = store::slot_name(s.task);
  pg::Result r = source.exec(
      "SELECT pg_catalog.pg_current_wal_lsn()::text, confirmed_flush_lsn::text,"
      " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::bigint, active"
      " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
      {slot.c_str()});
  if (r.rows() != 1) return;
  s.source_lsn = std::string(r.value(0, 0));
  s.slot_confirmed_lsn = r.optional(0, 1);
  if (!r.is_null(0, 2)) s.slot_retained_bytes = pg::to_int64(r.value(0, 2));
  s.slot_active = r.value(0, 3) == "t";
}

}  // namespace pgdts::task
