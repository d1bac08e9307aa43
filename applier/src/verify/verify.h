// pgdts verify: compares every table of a task between the source and the
// destination, row by row, while pgdts sync keeps applying changes, and the
// catalogs (columns, constraints, indexes, sequence values). docs/verify.md.
//
//   tables.h    which tables, under which names, by which key
//   sql.h       the statements, for either side (pure)
//   ranges.h    first pass: hashes of key ranges, rows of differing ranges
//   row_diff.h  comparing rows by key / as a multiset (pure)
//   recheck.h   telling rows in flight from rows that differ
//   repair.h    --repair: the differences written from the source, in the stream
//   metadata.h  catalogs and sequences
//   report.h    text and JSON (pure)
#pragma once

#include <string>

#include "model/row_filter.h"
#include "model/transform.h"
#include "pg/connection.h"
#include "pg/conninfo.h"
#include "model/selection.h"
#include "verify/model.h"
#include "verify/ranges.h"
#include "verify/recheck.h"

namespace pgdts::verify {

struct VerifyInput {
  pg::ConnInfo source, target;
  std::string task;
  model::Selection selection;
  model::NameMap names;
  std::vector<model::RowFilter> filters;  // source rows outside them are not compared
  std::vector<model::ColumnTransform> transforms;  // compared: the expression's value
  PassOptions pass;
  int rounds = 3;
  double wait_seconds = 60;
  // --repair (--dry-run): what differs after the recheck is written from
  // the source through the sync's stream (verify/repair.h), or listed.
  RepairMode repair = RepairMode::none;
};

// A connection on which values print the same on both sides
// (kComparableSettings) and type names schema-qualified.
pg::Connection open_comparable(const pg::ConnInfo& info, const char* side,
                               const std::string& application_name);

// Throws pg::ConnectionError, pg::SqlError, Error: a failure to compare at
// all (a table that cannot be read is reported in its TableResult instead).
VerifyResult run_verify(const VerifyInput& input);

}  // namespace pgdts::verify
