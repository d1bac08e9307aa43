// The order of pgdts verify's steps (see verify.h).
#include "verify/verify.h"

#include "logging/log.h"
#include "pg/connection.h"
#include "schema/schema_sync.h"
#include "store/task_store.h"
#include "verify/metadata.h"
#include "verify/repair.h"
#include "verify/sql.h"
#include "verify/tables.h"

namespace pgdts::verify {
namespace {

pg::Connection open(const pg::ConnInfo& info, const char* side) {
  return open_comparable(info, side, "pgdts_verify");
}

// The catalog model of one side, read in one snapshot.
schema::SourceSchema read_schema(pg::Connection& conn, const model::Selection& selection) {
  return schema::read_schema_in_snapshot(conn, selection);
}

TableResult compare_rows(pg::Connection& source, pg::Connection& target, const TablePair& pair,
                         const PassOptions& options, Suspects& suspects) {
  TableResult r;
  r.source = pair.source;
  r.target = pair.target;
  for (auto i : pair.key) r.key_columns.push_back(pair.columns[i].source);
  suspects.table = &pair;
  std::int64_t ranges = 0, differing_ranges = 0;
  if (!pair.target_exists) {
    r.status = TableStatus::missing;
    return r;
  }
  try {
    FirstPass pass = first_pass(source, target, pair, options);
    r.source_rows = pass.source_rows;
    r.target_rows = pass.target_rows;
    r.differing = pass.beyond_limit;  // not rechecked: they count as they are
    ranges = pass.ranges;
    differing_ranges = pass.differing_ranges;
    suspects.keys = std::move(pass.keys);
    suspects.rows = std::move(pass.rows);
  } catch (const pg::SqlError& e) {
    r.error = pg::one_line(e.what());
  }
  log::Event("verify_table")
      .field("table", model::display_name(pair.source))
      .field("ranges", ranges)
      .field("differing_ranges", differing_ranges)
      .field("suspects", suspects.keys.size() + suspects.rows.size())
      .debug();
  return r;
}

}  // namespace

pg::Connection open_comparable(const pg::ConnInfo& info, const char* side,
                               const std::string& application_name) {
  // search_path = pg_catalog: type names print schema-qualified; every
  // statement names its tables in full.
  return pg::Connection::open(info, {side, false, application_name,
                                     std::string(kComparableSettings) + " -c search_path=pg_catalog"});
}

VerifyResult run_verify(const VerifyInput& in) {
  VerifyResult result;
  result.task = in.task;
  pg::Connection source = open(in.source, "source");
  pg::Connection target = open(in.target, "destination");

  schema::SourceSchema schema = read_schema(source, in.selection);
  schema::add_expression_columns(source, schema, in.transforms);
  schema::SourceSchema dest_schema = read_schema(target, mapped_selection(schema, in.names));
  result.metadata = compare_metadata(schema, dest_schema, in.names);
  result.sequences = compare_sequences(source, target, schema, in.names);

  std::vector<TablePair> pairs = plan_tables(source, target, schema, in.names);
  apply_rules(pairs, schema, in.filters, in.transforms);
  std::vector<Suspects> suspects(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i)
    result.tables.push_back(compare_rows(source, target, pairs[i], in.pass, suspects[i]));

  std::string origin = store::origin_name(in.task);
  bool any = false;
  for (const auto& s : suspects) any = any || !s.keys.empty() || !s.rows.empty();
  RecheckOptions options;
  options.origin = origin;
  options.rounds = in.rounds;
  options.wait_seconds = in.wait_seconds;
  std::string unavailable = any ? origin_unavailable(target, origin) : "";
  if (any) {
    if (!unavailable.empty()) {
      result.notes.push_back(unavailable + ": compared once, differences not rechecked");
    } else {
      RecheckOutcome rc = recheck(source, target, suspects, options);
      result.rechecked = rc.rechecked;
      result.recheck_rounds = rc.rounds;
      for (auto& n : rc.notes) result.notes.push_back(std::move(n));
    }
  }
  result.repair = in.repair;
  if (in.repair == RepairMode::repair && any && !unavailable.empty()) {
    // Without the task's origin no sync has run (or it cannot be read):
    // nothing would apply the repair, or verify could not tell that it did.
    result.notes.push_back("not repaired: " + unavailable);
  } else if (in.repair != RepairMode::none) {
    RepairOutcome ro = repair_differences(source, target, suspects, result.tables,
                                          RepairOptions{in.task, in.repair == RepairMode::dry_run, options});
    result.repair_pending = ro.pending;
    result.rechecked += ro.rechecked;
    result.recheck_rounds += ro.rounds;
    for (auto& n : ro.notes) result.notes.push_back(std::move(n));
  }
  std::int64_t unrepaired = 0;  // differences past the suspect limit: not read again, not repaired
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    TableResult& r = result.tables[i];
    if (r.repaired) unrepaired += r.differing;
    r.differing += static_cast<std::int64_t>(suspects[i].keys.size() + suspects[i].rows.size());
    r.keys = std::move(suspects[i].keys);
    r.rows = std::move(suspects[i].rows);
    if (r.status == TableStatus::equal && r.differing > 0) r.status = TableStatus::different;
  }
  if (unrepaired > 0)
    result.notes.push_back(std::to_string(unrepaired) + " differences past the " +
                           std::to_string(in.pass.suspect_limit) +
                           " per table that verify keeps were not repaired: run pgdts verify --repair again");
  return result;
}

}  // namespace pgdts::verify
