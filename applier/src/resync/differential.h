// The copy of pgdts sync --resync (docs/task-state.md, *A lost slot*): each
// table of the task is compared with the destination under the new slot's
// exported snapshot, by key ranges hashed as verify hashes them
// (verify/ranges.h, verify/sql.h), and only what differs is written again.
//
// - A keyed table is cut into ranges of about range_rows source keys. A
//   range whose hash differs is compared key by key (key, md5 of the row on
//   each side), and the differing keys are deleted on the destination and
//   copied from the snapshot, in one destination transaction per range: a
//   run killed half-way leaves each range either as it was or repaired.
// - A table without a key is compared as a multiset (buckets of row texts)
//   and, when it differs, emptied and copied whole in one transaction.
// - Row filters, column expressions and name mapping are compared and copied
//   as the destination should hold them (verify/tables.h, apply_rules).
// - A table whose rows' writing runs code a source role could have written
//   (a function in a constraint, an index expression, a generated column,
//   a domain, a partition key, a trigger or forced policy: rights/
//   table_rights.h) and whose owner is no superuser is not written here,
//   as pgdts' own role: it is left to full sync, which the sync runs next
//   for such tables and which writes their rows through the owner's run_as
//   function (docs/security.md).
// - pgdts.table_sync records a table as copied at the snapshot's position
//   once all its ranges are done; a plain pgdts sync after a kill compares
//   the others again under its own snapshot.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/row_filter.h"
#include "model/selection.h"
#include "model/transform.h"
#include "pg/conninfo.h"
#include "pg/lsn.h"
#include "schema/schema_sync.h"

namespace pgdts::resync {

struct Config {
  pg::ConnInfo source, target;
  std::string task, application_name;
  std::string snapshot;  // exported by a connection the caller keeps open
  pg::Lsn snapshot_lsn = 0;
  std::int64_t range_rows = 20000;
  int jobs = 2;  // workers, each with a session on either side, sharing a table's ranges
  model::NameMap names;
  std::vector<model::RowFilter> filters;
  std::vector<model::ColumnTransform> transforms;
};

// What the resync of one table did.
struct TableOutcome {
  model::TableName source, dest;
  bool skipped = false;  // copied by an earlier run of this resync
  bool whole = false;    // no key: compared and copied as a whole
  // Writing its rows runs a non-superuser owner's code: left to full sync
  // (emptied and copied as its owner), not compared here.
  bool left_to_full_sync = false;
  std::int64_t ranges = 0;           // key ranges (or buckets) compared
  std::int64_t ranges_recopied = 0;  // ranges written again (1 for a whole table)
  std::int64_t rows_copied = 0, rows_deleted = 0;
  double seconds = 0;
};

// Resyncs every table of schema (the source's, read at the snapshot, with
// expression columns) not yet copied; nullopt when stop ended it. Logs
// one resync_table event per table. Throws pg::ConnectionError /
// pg::SqlError / Error.
std::optional<std::vector<TableOutcome>> resync_tables(const Config& config,
                                                       const schema::SourceSchema& schema,
                                                       const std::atomic<bool>& stop);

// The summary of a finished resync: one resync_summary event per table
// and a resync_finished event with the totals.
void log_summary(const std::string& task, const std::vector<TableOutcome>& tables, double seconds);

}  // namespace pgdts::resync
