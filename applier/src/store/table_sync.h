// Full-sync progress on the destination: pgdts.table_sync, one row per
// (task, source table). A row is written in the destination transaction that
// commits the data it describes, so it never claims more than is committed:
//
//   pending   nothing of this table's copy is committed (yet, or any more)
//   copying   chunks_done of chunks_total block ranges are committed
//   copied    the whole table is, as of the snapshot at sync_lsn
//
// The incremental applier skips, for a copied table, the source transactions
// whose commit record lies before its sync_lsn: they are in the copy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pg/lsn.h"
#include "model/selection.h"

namespace pgdts::store {

struct TableSyncRow {
  model::TableName source, dest;
  std::string state;  // pending, copying, copied
  std::optional<pg::Lsn> sync_lsn;
  std::int64_t rows_copied = 0, bytes_copied = 0, rows_estimate = 0, bytes_estimate = 0;
  int chunks_total = 0, chunks_done = 0;
  std::optional<double> seconds;  // finished_at - started_at, or now - started_at
};

struct FullSyncStatus {
  int tables_total = 0, tables_done = 0;
  std::int64_t rows_copied = 0, bytes_copied = 0, rows_estimate = 0, bytes_estimate = 0;
  // committed rows per second over the tables being copied (0 when none)
  double rows_per_second = 0, bytes_per_second = 0;
  std::vector<TableSyncRow> tables;
};

// CREATE SCHEMA/TABLE IF NOT EXISTS, safe against a concurrent creator.
void ensure_table_sync(pg::Connection& dest);

// Every row of the task (empty when the table does not exist).
std::vector<TableSyncRow> load_table_sync(pg::Connection& dest, const std::string& task);

// Source table -> sync_lsn of every table the task has copied.
std::map<model::TableName, pg::Lsn> copied_positions(pg::Connection& dest, const std::string& task);

// For pgdts status.
FullSyncStatus load_status(pg::Connection& dest, const std::string& task);

// A table's copy is planned (again): pending, nothing copied, chunks_total
// chunks to go (in the caller's transaction).
void plan_table_copy(pg::Connection& dest, const std::string& task, const model::TableName& source,
                     const model::TableName& target, std::int64_t rows_estimate,
                     std::int64_t bytes_estimate, int chunks_total);

// The copy of a pending table started (for pgdts status).
void mark_copying(pg::Connection& dest, const std::string& task, const model::TableName& source);

// What a table's row says once a chunk is recorded.
struct ChunkRecorded {
  bool copied = false;  // the table's last chunk: copied as of sync_lsn
  std::string rows_copied, bytes_copied, seconds;
};

// Counts one more committed chunk of rows and bytes, in the caller's
// transaction (the one that commits the chunk's rows); the last chunk makes
// the table copied as of sync_lsn. Throws Error when the row is gone.
ChunkRecorded record_chunk(pg::Connection& dest, const std::string& task,
                           const model::TableName& source, std::int64_t rows, std::int64_t bytes,
                           pg::Lsn sync_lsn);

// Marks every table of the task to be copied again (pgdts sync --resync),
// in the caller's transaction.
void recopy_all(pg::Connection& dest, const std::string& task);

// Removes the task's rows (pgdts release); drops the table when it is empty.
void forget_task(pg::Connection& dest, const std::string& task);

}  // namespace pgdts::store
