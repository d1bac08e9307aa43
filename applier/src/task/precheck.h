// pgdts precheck: everything SPEC.md's Precheck section asks of a source, a
// destination and a task's options, checked before a task starts (by
// `pgdts precheck`, and by `pgdts sync`, which refuses to start on a
// failure). Each check is one line: pass, warning (the task can run, with
// the consequence said) or failure (it cannot, with how to fix it).
//
// Checks read catalogs only and change nothing. A side that cannot be
// reached is one failed check; the checks that need that side are then left
// out, not failed again.
#pragma once

#include <string>
#include <vector>

#include "model/row_filter.h"
#include "model/transform.h"
#include "pg/conninfo.h"
#include "model/options.h"
#include "model/selection.h"

namespace pgdts::task {

struct Check {
  enum Status { pass, warn, fail };
  std::string name;     // short, fixed: wal_level, replication_slots, ...
  Status status = pass;
  std::string message;  // what was found, naming the objects
  std::string fix;      // how to fix a failure (or avoid a warning); may be empty
};

// The task as its options describe it.
struct PrecheckInput {
  pg::ConnInfo source;
  pg::ConnInfo target;
  std::string task = "default";
  model::Selection selection;
  model::NameMap names;
  // --filter: checked on the source; a filter that does not hold is bad
  // usage (run_prechecks throws UsageError), not a failed check.
  std::vector<model::RowFilter> filters;
  std::vector<model::ColumnTransform> transforms;  // --transform: likewise
  std::vector<std::string> phases;  // schema, full, incremental
  bool conflict_ignore = false;
  bool replica_identity_full = false;
  // Ownership (docs/security.md): --no-owner, --owner-role, --trust-source.
  bool no_owner = false;
  std::string owner_role;  // empty: the --target user
  bool trust_source = false;
  std::string application_name = "pgdts_precheck";
  // Transactions open longer than this are reported. 300 s; the environment
  // variable PGDTS_TEST_LONG_TXN_SECONDS overrides it, for the integration
  // tests only.
  int long_transaction_seconds = default_long_transaction_seconds();
  // When set, receives the destination names of the selected tables (sync
  // records them with the task: pgdts.task_table).
  std::vector<model::TableName>* task_tables_out = nullptr;

  static int default_long_transaction_seconds();
  bool has_phase(const std::string& phase) const;
};

std::vector<Check> run_prechecks(const PrecheckInput& input);

// The worst status of all checks (pass when there are none).
Check::Status overall(const std::vector<Check>& checks);
const char* status_word(Check::Status status);  // PASS, WARN, FAIL
const char* status_name(Check::Status status);  // pass, warn, fail (JSON)

// `PASS  name  message`, `FAIL  name  message; fix: ...` (no newline).
std::string format_line(const Check& check);
// "precheck: 12 passed, 2 warnings, 1 failed" (no newline).
std::string summary_line(const std::vector<Check>& checks);

// "a, b, c and 3 more": at most `limit` names.
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 10);

// The task as a command's options describe it.
PrecheckInput precheck_input(const model::Options& o);

}  // namespace pgdts::task
