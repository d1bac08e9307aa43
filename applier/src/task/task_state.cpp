#include "task/task_state.h"

#include "error.h"

namespace pgdts::task {
namespace {

constexpr const char* kCreate =
    "CREATE SCHEMA IF NOT EXISTS pgdts;"
    "CREATE TABLE IF NOT EXISTS pgdts.task ("
    "  task text PRIMARY KEY,"
    "  phase text NOT NULL,"
    "  slot_name text NOT NULL,"
    "  source_system_identifier text NOT NULL,"
    "  source_database text NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  last_error text);"
    "ALTER TABLE pgdts.task ADD COLUMN IF NOT EXISTS snapshot_lsn pg_lsn,"
    "  ADD COLUMN IF NOT EXISTS latency_ms bigint,"
    "  ADD COLUMN IF NOT EXISTS latency_at timestamptz";

}  // namespace

TaskPhase TaskStore::register_task(const std::string& task, const std::string& phase,
                                   const std::string& slot, const SourceIdentity& source) {
  try {
    dest_.exec(kCreate);
  } catch (const pg::SqlError& e) {
    // Two tasks creating the schema at once: one loses the race (unique
    // violation on the catalog); the objects exist now.
    if (e.sqlstate() != "23505" && e.sqlstate() != "42P06" && e.sqlstate() != "42P07") throw;
    dest_.exec(kCreate);
  }
  dest_.exec(
      "INSERT INTO pgdts.task (task, phase, slot_name, source_system_identifier, source_database) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (task) DO NOTHING",
      {task.c_str(), phase.c_str(), slot.c_str(), source.system_id.c_str(),
       source.database.c_str()});
  pg::Result r = dest_.exec(
      "SELECT source_system_identifier, source_database, phase, snapshot_lsn FROM pgdts.task "
      "WHERE task = $1",
      {task.c_str()});
  if (r.rows() != 1) throw Error("task \"" + task + "\" vanished from pgdts.task on the destination");
  std::string system_id(r.value(0, 0)), database(r.value(0, 1));
  if (system_id != source.system_id || database != source.database)
    throw Error("task \"" + task + "\" on the destination belongs to source database \"" +
                database + "\" of system " + system_id + ", not to database \"" +
                source.database + "\" of system " + source.system_id +
                "; use another --task, or run pgdts release for the old one first");
  TaskPhase where{std::string(r.value(0, 2)), 0};
  if (!r.is_null(0, 3)) where.snapshot_lsn = pg::parse_lsn(r.value(0, 3)).value_or(0);
  dest_.exec("UPDATE pgdts.task SET updated_at = now(), last_error = NULL WHERE task = $1",
             {task.c_str()});
  return where;
}

std::string TaskStore::phase(const std::string& task) {
  pg::Result r = dest_.exec("SELECT phase FROM pgdts.task WHERE task = $1", {task.c_str()});
  if (r.rows() != 1) throw Error("task \"" + task + "\" has no row in pgdts.task on the destination");
  return std::string(r.value(0, 0));
}

void TaskStore::set_phase(const std::string& task, const std::string& phase) {
  dest_.exec("UPDATE pgdts.task SET phase = $2, updated_at = now() WHERE task = $1",
             {task.c_str(), phase.c_str()});
}

void TaskStore::set_latency(const std::string& task, std::int64_t milliseconds) {
  std::string ms = std::to_string(milliseconds);
  dest_.exec("UPDATE pgdts.task SET latency_ms = $2, latency_at = now() WHERE task = $1",
             {task.c_str(), ms.c_str()});
}

void TaskStore::set_snapshot_lsn(const std::string& task, pg::Lsn lsn) {
  std::string text = pg::format_lsn(lsn);
  dest_.exec("UPDATE pgdts.task SET snapshot_lsn = $2::pg_lsn, updated_at = now() WHERE task = $1",
             {task.c_str(), text.c_str()});
}

void TaskStore::set_last_error(const std::string& task, const std::string& error) {
  dest_.exec(
      "UPDATE pgdts.task SET last_error = $2, updated_at = now() WHERE task = $1 "
      "AND pg_catalog.to_regclass('pgdts.task') IS NOT NULL",
      {task.c_str(), error.c_str()});
}

bool TaskStore::remove_task(const std::string& task) {
  pg::Result exists = dest_.exec("SELECT pg_catalog.to_regclass('pgdts.task') IS NOT NULL");
  if (exists.value(0, 0) != "t") return false;
  pg::Result r = dest_.exec("DELETE FROM pgdts.task WHERE task = $1 RETURNING 1", {task.c_str()});
  bool removed = r.rows() > 0;
  pg::Result left = dest_.exec("SELECT count(*) FROM pgdts.task");
  if (left.value(0, 0) == "0") {
    // Leave nothing behind once the last task is gone, unless somebody else
    // keeps objects in schema pgdts.
    dest_.exec(
        "DO $$BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = c.relnamespace WHERE n.nspname = 'pgdts' AND c.relkind IN ('r','v','m','S','f','p') "
        "    AND c.relname NOT IN ('task', 'table_sync')) "
        "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = p.pronamespace WHERE n.nspname = 'pgdts') "
        "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = t.typnamespace WHERE n.nspname = 'pgdts' AND t.typrelid = 0 AND t.typelem = 0) "
        "THEN DROP TABLE IF EXISTS pgdts.table_sync; DROP TABLE pgdts.task; DROP SCHEMA pgdts; "
        "END IF; END$$");
  }
  return removed;
}

}  // namespace pgdts::task
