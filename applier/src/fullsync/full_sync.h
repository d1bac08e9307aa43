// Full sync: copy every selected table's rows from one exported snapshot of
// the source into the destination, with --jobs workers, resumably. See
// docs/full-sync.md for the design; in short:
//
// - the caller creates the snapshot (the task's slot on a first run, a
//   temporary slot on a resumed one), keeps its exporting connection open
//   while run_full_sync runs, and passes its name and LSN;
// - each worker imports the snapshot once into a REPEATABLE READ transaction
//   on the source that it keeps for the whole run, and streams COPY TO STDOUT
//   into COPY FROM STDIN on its own destination connection, without parsing;
// - big tables are split into block (ctid) ranges, biggest tables first;
// - pgdts.table_sync on the destination records, in the transaction of the
//   data it describes, each table's chunks and finally 'copied' with its
//   sync_lsn; a table whose copy did not finish is emptied and copied again
//   under the new snapshot (resume granularity is the table).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "error.h"
#include "fullsync/plan.h"
#include "fullsync/progress.h"
#include "store/table_sync.h"
#include "fullsync/throttle.h"
#include "pg/conninfo.h"
#include "pg/connection.h"
#include "pg/lsn.h"
#include "model/selection.h"

namespace pgdts::fullsync {

// A table's columns changed on the source between the task's snapshot and
// the table's copy (DDL on a table not copied yet): its rows cannot be
// copied into the table the snapshot described. Not retried: a retry copies
// from a newer snapshot into the same table and fails alike.
class TableChangedError : public Error {
 public:
  using Error::Error;
};

struct CopyJob {
  model::TableName source, dest;
  // Same length, in the same order: source_columns[i] goes into dest_columns[i].
  std::vector<std::string> source_columns, dest_columns;
  // --transform: per source column, the expression (in parentheses) whose
  // value is copied instead of the column's; empty: the column's own.
  std::vector<std::string> source_expressions;
  // pages: pg_relation_size / block size (not relpages, which may be stale);
  // the estimates only drive splitting, ordering and the ETA.
  std::int64_t pages = 0, rows_estimate = 0, bytes_estimate = 0;
  // --filter: the condition (in parentheses) rows must meet to be copied;
  // empty: every row.
  std::string row_filter;
};

struct FullSyncConfig {
  pg::ConnInfo source, target;
  std::string task, application_name, snapshot;
  pg::Lsn snapshot_lsn = 0;
  int jobs = 1;
  Limits limits;
  bool keep_existing_rows = false;  // --conflict ignore: a destination row wins a key clash
  // pgdts sync --resync: every table not copied yet is emptied before its
  // copy, whatever pgdts.table_sync says (its rows may predate the copy).
  bool empty_first = false;
  // Chunk sizes (see plan.h); tests lower the minimum to split small tables.
  std::int64_t min_chunk_bytes = 32LL << 20, max_chunk_bytes = 256LL << 20;
  bool display = true;                  // the default progress display/log
  ProgressObserver* observer = nullptr; // also told, if set (metrics, status)
  Throttle* throttle = nullptr;         // shared, if set (limits changed at run time)
};

// Copies every job not yet 'copied'; true when all are copied, false when
// stopped. Throws pgdts::Error / pg::ConnectionError on failure (the caller
// retries within its windows).
bool run_full_sync(const FullSyncConfig& config, const std::vector<CopyJob>& jobs,
                   const std::atomic<bool>& stop);

}  // namespace pgdts::fullsync
