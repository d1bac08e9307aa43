#include "task/status.h"

#include <charconv>

#include "pg/literals.h"
#include "task/task_state.h"

namespace pgdts::task {
namespace {

bool exists(pg::Connection& dest, const char* relation) {
  pg::Result r = dest.exec("SELECT pg_catalog.to_regclass($1) IS NOT NULL", {relation});
  return r.value(0, 0) == "t";
}

}  // namespace

TaskStatus read_status(pg::Connection& dest, const std::string& task) {
  TaskStatus s;
  s.task = task;
  if (!exists(dest, "pgdts.task")) return s;
  std::string origin = origin_name(task);
  pg::Result r = dest.exec(
      "SELECT t.phase, t.last_error, t.updated_at::text, t.snapshot_lsn::text,"
      " (SELECT os.remote_lsn::text FROM pg_catalog.pg_replication_origin o"
      "  JOIN pg_catalog.pg_replication_origin_status os ON os.local_id = o.roident"
      "  WHERE o.roname = $2),"
      " t.latency_ms, extract(epoch FROM now() - t.latency_at),"
      " t.applied_changes, t.skipped_changes, t.changes_per_second, t.throttles"
      " FROM pgdts.task t WHERE t.task = $1",
      {task.c_str(), origin.c_str()});
  if (r.rows() != 1) return s;
  s.found = true;
  s.phase = std::string(r.value(0, 0));
  s.last_error = r.optional(0, 1);
  s.updated_at = std::string(r.value(0, 2));
  s.snapshot_lsn = r.optional(0, 3);
  s.applied_lsn = r.optional(0, 4);
  if (!r.is_null(0, 5)) s.latency_ms = pg::to_int64(r.value(0, 5));
  if (!r.is_null(0, 6)) s.latency_age_seconds = std::stod(std::string(r.value(0, 6)));
  if (!r.is_null(0, 7)) s.applied_changes = pg::to_int64(r.value(0, 7));
  if (!r.is_null(0, 8)) s.skipped_changes = pg::to_int64(r.value(0, 8));
  if (!r.is_null(0, 9)) s.changes_per_second = std::stod(std::string(r.value(0, 9)));
  s.throttles = r.optional(0, 10);
  for (const auto& arg : TaskStore(dest).stored_task_options(task)) {
    if (arg.rfind("--filter=", 0) == 0) s.filters.push_back(arg.substr(9));
    if (arg.rfind("--transform=", 0) == 0) s.transforms.push_back(arg.substr(12));
  }
  s.full = fullsync::load_status(dest, task);
  return s;
}

void add_source_status(pg::Connection& source, TaskStatus& s) {
  std::string slot = slot_name(s.task);
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
