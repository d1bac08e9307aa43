// pgdts.table_sync: creation, reading, status (see table_sync.h). The
// statements that move a table's state live with the workers that run them
// inside their data transactions (full_sync.cpp).
#include "store/table_sync.h"

#include "error.h"
#include "pg/literals.h"

#include <charconv>

namespace pgdts::store {
namespace {

constexpr const char* kCreate =
    "CREATE SCHEMA IF NOT EXISTS pgdts;"
    "CREATE TABLE IF NOT EXISTS pgdts.table_sync ("
    "  task text NOT NULL,"
    "  source_schema text NOT NULL,"
    "  source_table text NOT NULL,"
    "  dest_schema text NOT NULL,"
    "  dest_table text NOT NULL,"
    "  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','copying','copied')),"
    "  sync_lsn pg_lsn,"
    "  rows_copied bigint NOT NULL DEFAULT 0,"
    "  bytes_copied bigint NOT NULL DEFAULT 0,"
    "  rows_estimate bigint NOT NULL DEFAULT 0,"
    "  bytes_estimate bigint NOT NULL DEFAULT 0,"
    "  chunks_total int NOT NULL DEFAULT 1,"
    "  chunks_done int NOT NULL DEFAULT 0,"
    "  started_at timestamptz,"
    "  finished_at timestamptz,"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (task, source_schema, source_table))";

bool table_exists(pg::Connection& dest) {
  return dest.exec("SELECT pg_catalog.to_regclass('pgdts.table_sync') IS NOT NULL").value(0, 0) ==
         "t";
}

}  // namespace

void ensure_table_sync(pg::Connection& dest) {
  try {
    dest.exec(kCreate);
  } catch (const pg::SqlError& e) {
    // Another task created them at the same moment (unique violation on the
    // catalog): they exist now.
    if (e.sqlstate() != "23505" && e.sqlstate() != "42P06" && e.sqlstate() != "42P07") throw;
    dest.exec(kCreate);
  }
}

std::vector<TableSyncRow> load_table_sync(pg::Connection& dest, const std::string& task) {
  std::vector<TableSyncRow> out;
  if (!table_exists(dest)) return out;
  pg::Result r = dest.exec(
      "SELECT source_schema, source_table, dest_schema, dest_table, state, sync_lsn::text,"
      "  rows_copied, bytes_copied, rows_estimate, bytes_estimate, chunks_total, chunks_done,"
      "  extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8 "
      "FROM pgdts.table_sync WHERE task = $1 ORDER BY source_schema, source_table",
      {task.c_str()});
  for (int i = 0; i < r.rows(); ++i) {
    TableSyncRow row;
    row.source = {std::string(r.value(i, 0)), std::string(r.value(i, 1))};
    row.dest = {std::string(r.value(i, 2)), std::string(r.value(i, 3))};
    row.state = r.value(i, 4);
    if (!r.is_null(i, 5)) row.sync_lsn = pg::parse_lsn(r.value(i, 5));
    row.rows_copied = pg::to_int64(r.value(i, 6));
    row.bytes_copied = pg::to_int64(r.value(i, 7));
    row.rows_estimate = pg::to_int64(r.value(i, 8));
    row.bytes_estimate = pg::to_int64(r.value(i, 9));
    row.chunks_total = static_cast<int>(pg::to_int64(r.value(i, 10)));
    row.chunks_done = static_cast<int>(pg::to_int64(r.value(i, 11)));
    if (!r.is_null(i, 12)) row.seconds = std::stod(std::string(r.value(i, 12)));
    out.push_back(std::move(row));
  }
  return out;
}

std::map<model::TableName, pg::Lsn> copied_positions(pg::Connection& dest, const std::string& task) {
  std::map<model::TableName, pg::Lsn> out;
  for (const TableSyncRow& row : load_table_sync(dest, task))
    if (row.state == "copied" && row.sync_lsn) out[row.source] = *row.sync_lsn;
  return out;
}

FullSyncStatus load_status(pg::Connection& dest, const std::string& task) {
  FullSyncStatus s;
  s.tables = load_table_sync(dest, task);
  for (const TableSyncRow& row : s.tables) {
    ++s.tables_total;
    if (row.state == "copied") ++s.tables_done;
    s.rows_copied += row.rows_copied;
    s.bytes_copied += row.bytes_copied;
    s.rows_estimate += row.rows_estimate;
    s.bytes_estimate += row.bytes_estimate;
    if (row.state != "copied" && row.seconds && *row.seconds > 0) {
      s.rows_per_second += row.rows_copied / *row.seconds;
      s.bytes_per_second += row.bytes_copied / *row.seconds;
    }
  }
  return s;
}

void recopy_all(pg::Connection& dest, const std::string& task) {
  if (!table_exists(dest)) return;
  dest.exec(
      "UPDATE pgdts.table_sync SET state = 'pending', sync_lsn = NULL, rows_copied = 0,"
      "  bytes_copied = 0, chunks_done = 0, started_at = NULL, finished_at = NULL,"
      "  updated_at = now() WHERE task = $1",
      {task.c_str()});
}

void forget_task(pg::Connection& dest, const std::string& task) {
  if (!table_exists(dest)) return;
  dest.exec("DELETE FROM pgdts.table_sync WHERE task = $1", {task.c_str()});
  dest.exec(
      "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pgdts.table_sync) THEN "
      "DROP TABLE pgdts.table_sync; END IF; END$$");
}

void plan_table_copy(pg::Connection& dest, const std::string& task, const model::TableName& source,
                     const model::TableName& target, std::int64_t rows_estimate,
                     std::int64_t bytes_estimate, int chunks_total) {
  std::string rows_est = std::to_string(rows_estimate);
  std::string bytes_est = std::to_string(bytes_estimate);
  std::string chunks = std::to_string(chunks_total);
  dest.exec(
      "INSERT INTO pgdts.table_sync AS s (task, source_schema, source_table, dest_schema,"
      "  dest_table, state, rows_estimate, bytes_estimate, chunks_total, chunks_done,"
      "  updated_at) "
      "VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, 0, now()) "
      "ON CONFLICT (task, source_schema, source_table) DO UPDATE SET"
      "  dest_schema = excluded.dest_schema, dest_table = excluded.dest_table,"
      "  state = 'pending', sync_lsn = NULL, rows_copied = 0, bytes_copied = 0,"
      "  rows_estimate = excluded.rows_estimate, bytes_estimate = excluded.bytes_estimate,"
      "  chunks_total = excluded.chunks_total, chunks_done = 0, started_at = NULL,"
      "  finished_at = NULL, updated_at = now()",
      {task.c_str(), source.schema.c_str(), source.name.c_str(), target.schema.c_str(),
       target.name.c_str(), rows_est.c_str(), bytes_est.c_str(), chunks.c_str()});
}

void mark_copying(pg::Connection& dest, const std::string& task, const model::TableName& source) {
  // rows_copied stays what is committed; a pending or copying table is
  // recopied whole on resume.
  dest.exec(
      "UPDATE pgdts.table_sync SET state = 'copying', started_at = coalesce(started_at, now()),"
      "  updated_at = now() "
      "WHERE task = $1 AND source_schema = $2 AND source_table = $3 AND state = 'pending'",
      {task.c_str(), source.schema.c_str(), source.name.c_str()});
}

ChunkRecorded record_chunk(pg::Connection& dest, const std::string& task,
                           const model::TableName& source, std::int64_t rows, std::int64_t bytes,
                           pg::Lsn sync_lsn) {
  std::string rows_text = std::to_string(rows), bytes_text = std::to_string(bytes);
  std::string lsn_text = pg::format_lsn(sync_lsn);
  pg::Result r = dest.exec(
      "UPDATE pgdts.table_sync SET"
      "  chunks_done = chunks_done + 1,"
      "  rows_copied = rows_copied + $4, bytes_copied = bytes_copied + $5,"
      "  state = CASE WHEN chunks_done + 1 >= chunks_total THEN 'copied' ELSE 'copying' END,"
      "  sync_lsn = CASE WHEN chunks_done + 1 >= chunks_total THEN $6::pg_lsn END,"
      "  started_at = coalesce(started_at, now()),"
      "  finished_at = CASE WHEN chunks_done + 1 >= chunks_total THEN clock_timestamp() END,"
      "  updated_at = clock_timestamp() "
      "WHERE task = $1 AND source_schema = $2 AND source_table = $3 "
      "RETURNING state, rows_copied, bytes_copied,"
      "  extract(epoch FROM clock_timestamp() - started_at)::float8",
      {task.c_str(), source.schema.c_str(), source.name.c_str(), rows_text.c_str(),
       bytes_text.c_str(), lsn_text.c_str()});
  if (r.rows() != 1)
    throw Error("destination: the full sync progress row of " + model::display_name(source) +
                " in pgdts.table_sync vanished (was the task released meanwhile?)");
  return {r.value(0, 0) == "copied", std::string(r.value(0, 1)), std::string(r.value(0, 2)),
          std::string(r.value(0, 3))};
}

}  // namespace pgdts::store
