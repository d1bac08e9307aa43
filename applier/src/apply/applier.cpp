// The per-change hot path: look the statement up by a key built in a reused
// buffer, fill the reused parameter arrays, queue the execution. Nothing here
// waits for the destination except when the pipeline is full.
#include "apply/applier.h"

#include "stream/timestamp.h"

#include <cstring>
#include <ctime>

#include "apply/statement_sql.h"
#include "error.h"
#include "logging/log.h"
#include "pg/literals.h"
#include "secrets/redact.h"
#include "stream/format_version.h"

namespace pgdts::apply {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kOriginStatement = "pgdts_origin";
// Groups are pipelined back to back: a failed group is skipped by the server
// up to its Sync, and the next group would otherwise commit and move the
// origin past it before the client has read the error, so a retry would skip
// the failed transactions. $3 is the end of the group before this one: the
// statement fails (and its group with it) unless the origin is exactly there.
// pg_current_xact_id() gives the transaction an xid even when it wrote
// nothing (only skipped changes or messages): without one, COMMIT writes no
// commit record and the origin would not advance.
constexpr const char* kOriginSql =
    "SELECT pg_catalog.pg_replication_origin_xact_setup($1::pg_catalog.pg_lsn, "
    "$2::pg_catalog.timestamptz), pg_catalog.pg_current_xact_id(), "
    "CASE WHEN coalesce(pg_catalog.pg_replication_origin_session_progress(false), '0/0') "
    "<> $3::pg_catalog.pg_lsn THEN ('pgdts: an earlier group did not commit: origin at ' "
    "|| coalesce(pg_catalog.pg_replication_origin_session_progress(false)::text, '0/0') "
    "|| ', expected ' || $3::pg_catalog.text)::pg_catalog.int4 END";

constexpr auto kWarnEvery = std::chrono::seconds(30);
// Values held back (merged UPDATEs, batched INSERTs) before they are
// written out anyway.
constexpr std::size_t kHoldMaxBytes = 16 << 20;
// Larger rows are written at once rather than copied to be held back.
constexpr std::size_t kHoldMaxRowBytes = 256 << 10;
// Rows per multi-row INSERT statement (and parameters per statement stay
// below PostgreSQL's 65535).
constexpr int kInsertBatchRows = 64;
// Merged UPDATEs of one table written as one statement (send_update_set):
// from this many rows on (fewer go one by one, through the plan of a key
// lookup), at most this many per statement (so the destination executes
// one set while the next is being built).
constexpr std::size_t kSetMinRows = 4;
constexpr std::size_t kSetMaxRows = 1000;

// The first group of a backlog: small enough to reach the destination
// while the walsender is still reading the WAL after it.
constexpr std::size_t kFirstGroupChanges = 512;
// Nothing at hand for this long ends a backlog.
constexpr auto kBacklogPause = std::chrono::seconds(1);

std::size_t first_group_limit(const ApplyLimits& limits) {
  return std::min(kFirstGroupChanges, limits.group_max_changes);
}

bool is_typed(const pgdts::Value& v) {
  switch (v.kind_case()) {
    case pgdts::Value::kIntValue:
    case pgdts::Value::kFloatValue:
    case pgdts::Value::kBoolValue:
    case pgdts::Value::kBinaryValue:
      return true;
    default:
      return false;
  }
}

std::string truncated(std::string_view s, std::size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, n)) + "...";
}

}  // namespace

std::string format_timestamptz(std::int64_t unix_micros) {
  return stream::format_utc(unix_micros, ' ', "+00");
}

Applier::Applier(pg::Connection& dest, pg::Lsn origin_position, ApplyLimits limits,
                 DestinationCatalog& catalog, bool replica_role, const TaskScope& scope,
                 rights::Ownership rights)
    : pipeline_(dest),
      rights_(std::move(rights)),
      limits_(limits),
      catalog_(catalog),
      replica_role_(replica_role),
      scope_(scope),
      planner_(scope.selection, scope.names, scope.tables,
               ddl::DestinationLookup{
                   [this](const std::string& schema, const std::string& index) {
                     return catalog_.has_relation(schema, index, "iI");
                   },
                   [this](const std::string& schema, const std::string& sequence) {
                     return catalog_.has_relation(schema, sequence, "S");
                   }},
               ddl::PlannerOptions{rights_.keep_owners}),
      merger_(limits.group_max_changes, kHoldMaxBytes),
      batcher_(limits.group_max_changes, kHoldMaxBytes),
      deletes_(limits.group_max_changes, kHoldMaxBytes),
      ledger_(origin_position),
      group_limit_(first_group_limit(limits)) {
  emit_merged_ = [this](const stream::Relation& rel, const std::vector<HeldRow>& rows) {
    write_merged_rows(rel, rows);
  };
  pipeline_.on_missing_rows = [this](const pg::CommandTag& tag, std::uint64_t missing) {
    row_not_found(tag, missing);
  };
  session_role_ = catalog_.session_role();
  session_settings_ = catalog_.session_settings();
  static const std::string origin_sql = kOriginSql;
  pipeline_.prepare(kOriginStatement, origin_sql, 3,
                    pg::CommandTag{"preparing the origin statement", origin_sql, 0, false});
}

void Applier::handle(const pgdts::Record& record, pg::Lsn lsn, std::size_t wire_bytes) {
  record_bytes_ = wire_bytes;
  handling_lsn_ = lsn;
  switch (record.kind_case()) {
    case pgdts::Record::kBegin: begin(record.begin(), lsn); break;
    case pgdts::Record::kCommit: commit(record.commit(), lsn); break;
    case pgdts::Record::kRelation:
      // Rows held for the former definition are written with it.
      write_held(record.relation().oid());
    {
      const stream::Relation& stored =
          relations_.update(record.relation(), [this](stream::Relation& rel) {
            scope_.adjust(rel);
            model::TableName source{rel.source_schema, rel.source_name};
            planner_.saw_table(source);
            // a partition of a task table, created later: its rows arrive as its own
            if (!rel.in_task && planner_.joined(source)) rel.in_task = true;
          });
      // The destination table may have changed (a replayed DDL) even when
      // the source's description did not: describe it again.
      traits_.erase(stored.version);
      break;
    }
    case pgdts::Record::kInsert: insert(record.insert(), lsn); break;
    case pgdts::Record::kUpdate: update(record.update(), lsn); break;
    case pgdts::Record::kDelete: remove(record.delete_(), lsn); break;
    case pgdts::Record::kTruncate: truncate(record.truncate(), lsn); break;
    case pgdts::Record::kMessage: message(record.message(), lsn); break;
    case pgdts::Record::kDdl: ddl(record.ddl(), lsn); break;
    default:
      throw Error("change record at source LSN " + pg::format_lsn(lsn) + " is of no known kind");
  }
}

void Applier::begin(const pgdts::Begin& b, pg::Lsn lsn) {
  if (in_txn_)
    throw Error("stream out of order: BEGIN at source LSN " + pg::format_lsn(lsn) +
                " inside transaction " + std::to_string(xid_));
  stream::check_begin_format(b.format_version(), pg::format_lsn(lsn));
  if (isolate_from_ != 0 && b.final_lsn() >= isolate_from_) {
    isolate_from_ = 0;
    if (group_open_ && group_txns_ > 0) end_group();
  }
  in_txn_ = true;
  ddl_in_txn_ = false;
  txn_changes_ = group_changes_;
  xid_ = b.xid();
  final_lsn_ = b.final_lsn();
  txn_commit_time_ = b.commit_time();
  // A transaction whose commit record lies before the origin's position
  // ended at or before it: applied already (the slot may re-send it after
  // a source crash moved its confirmed position back).
  skip_txn_ = ledger_.applied_already(b.final_lsn());
  if (skip_txn_) {
    ++counters_.replayed;
    log::Event("transaction_skipped")
        .field("xid", xid_)
        .field("commit_lsn", pg::format_lsn(b.final_lsn()))
        .field("reason", "already applied")
        .debug();
    return;
  }
  if (!group_open_) open_group();
}

void Applier::commit(const pgdts::Commit& c, pg::Lsn lsn) {
  if (!in_txn_)
    throw Error("stream out of order: COMMIT at source LSN " + pg::format_lsn(lsn) +
                " outside a transaction");
  in_txn_ = false;
  if (skip_txn_) {
    skip_txn_ = false;
    return;
  }
  group_end_ = c.end_lsn();
  group_commit_time_ = c.commit_time();
  ++group_txns_;
  if (ddl_in_txn_) {
    // What was learned about tables on the catalog connection may predate
    // the DDL (that connection sees only committed definitions): commit,
    // wait, and learn again.
    close_group();
    pipeline_.wait_all();
    traits_.clear();
    ddl_in_txn_ = false;
    return;
  }
  if (group_changes_ >= group_limit_) {
    close_group();
    group_limit_ = std::min(group_limit_ * 2, limits_.group_max_changes);
  } else if (Clock::now() - group_started_ >= limits_.group_max_age) {
    close_group();
  }
}

void Applier::open_group() {
  static const pg::CommandTag tag{"BEGIN", "BEGIN", 0, false};
  pipeline_.query("BEGIN", 0, nullptr, tag);
  role_.clear();  // SET LOCAL ROLE ended with the last transaction
  group_open_ = true;
  group_first_commit_time_ = txn_commit_time_;
  ++group_serial_;
  group_changes_ = 0;
  group_txns_ = 0;
  group_repaired_ = 0;
  group_started_ = Clock::now();
  // After a pause the next backlog starts small; a moment with nothing at
  // hand in the middle of a catch-up (the walsender slower than the
  // destination) lets groups keep their size, and merge as much.
  if (idle_since_) {
    if (group_started_ - *idle_since_ >= kBacklogPause) group_limit_ = first_group_limit(limits_);
    idle_since_.reset();
  }
}

void Applier::close_group() {
  if (!group_open_ || in_txn_) return;
  end_group();
}

void Applier::end_group() {
  if (!group_open_) return;
  group_open_ = false;
  if (group_txns_ == 0) {
    for (std::size_t i : group_tallies_) tallies_[i].pending = {};
    group_tallies_.clear();
    static const pg::CommandTag tag{"ROLLBACK", "ROLLBACK", 0, false};
    pipeline_.query("ROLLBACK", 0, nullptr, tag);
    pipeline_.sync();
    return;
  }
  write_all_held();
  act_as("");  // the origin is the session's own business
  GroupLedger::Group sent{group_end_, group_changes_, group_txns_, group_commit_time_,
                          group_first_commit_time_, {}, group_repaired_};
  sent.tables.reserve(group_tallies_.size());
  for (std::size_t i : group_tallies_) {
    sent.tables.emplace_back(i, tallies_[i].pending);
    tallies_[i].pending = {};
  }
  group_tallies_.clear();
  pg::Lsn previous_end = ledger_.sent(std::move(sent));
  std::string lsn_text = pg::format_lsn(group_end_);
  std::snprintf(origin_lsn_, sizeof origin_lsn_, "%s", lsn_text.c_str());
  std::snprintf(origin_time_, sizeof origin_time_, "%s",
                format_timestamptz(group_commit_time_).c_str());
  std::snprintf(origin_prev_, sizeof origin_prev_, "%s", pg::format_lsn(previous_end).c_str());
  const char* values[3] = {origin_lsn_, origin_time_, origin_prev_};
  static const pg::CommandTag origin_tag{"advancing the replication origin", kOriginSql, 0, false};
  pipeline_.execute(kOriginStatement, 3, values, nullptr, nullptr,
                    pg::CommandTag{origin_tag.what, origin_tag.sql, group_end_, false});
  pipeline_.query("COMMIT", 0, nullptr, pg::CommandTag{"COMMIT", "COMMIT", group_end_, false});
  pipeline_.sync();
  counters_.last_end = group_end_;
  log::Event("group_committed")
      .field("transactions", group_txns_)
      .field("changes", group_changes_)
      .field("end_lsn", lsn_text)
      .debug();
}

void Applier::confirm_durable(pg::Lsn durable) {
  ledger_.confirm(durable, [this](const GroupLedger::Group& g) {
    counters_.changes += g.changes;
    counters_.transactions += g.transactions;
    counters_.repaired += g.repaired;
    counters_.durable_commit_time = g.commit_time;
    for (const auto& [i, counts] : g.tables) tallies_[i].durable += counts;
  });
}

std::int64_t Applier::pending_since() const {
  if (ledger_.has_unconfirmed()) return ledger_.oldest_pending_commit_time();
  if (group_open_) return group_first_commit_time_;
  if (in_txn_ && !skip_txn_) return txn_commit_time_;
  return 0;
}

void Applier::idle() {
  close_group();
  if (!idle_since_) idle_since_ = Clock::now();
  pipeline_.poll();
}

void Applier::finish() {
  close_group();
  pipeline_.wait_all();
}

void Applier::require_transaction(std::string_view what, pg::Lsn lsn) const {
  if (!in_txn_)
    throw Error("stream out of order: " + std::string(what) + " at source LSN " +
                pg::format_lsn(lsn) + " outside a transaction");
}

const Statement& Applier::prepare(std::string sql, std::string what, pg::Lsn lsn) {
  const Statement& st =
      statements_.add(key_, std::move(sql), std::move(what), count_params(set_) + count_params(where_));
  // The conversion is a temporary: libpq copies the text when it queues it.
  pipeline_.prepare(st.name.c_str(), catalog_.in_session_encoding(st.sql), 0,
                    pg::CommandTag{st.what, st.sql, lsn, false});
  log::Event("statement_prepared").field("name", st.name).field("sql", st.sql).debug();
  return st;
}

std::vector<std::string> column_names(const stream::Relation& rel) {
  std::vector<std::string> names;
  names.reserve(rel.columns.size());
  for (const auto& c : rel.columns) names.push_back(c.name);
  return names;
}

void Applier::send(const stream::Relation& rel, const Statement& st, pg::Lsn lsn,
                   std::uint32_t expect_rows) {
  if (params_.size() != st.nparams)
    throw Error("internal error: " + st.what + " has " + std::to_string(st.nparams) +
                " parameters, got " + std::to_string(params_.size()));
  const TableTraits& t = traits(rel);
  bool as_owner = t.found && !t.owner_superuser;
  if (as_owner && t.runs_code) return send_as_owner(rel, t, st, lsn, expect_rows);
  act_as(as_owner && t.owner != session_role_ ? t.owner : std::string());
  pipeline_.execute(st.name.c_str(), params_.size(), params_.values(), params_.lengths(),
                    params_.formats(), pg::CommandTag{st.what, st.sql, lsn, expect_rows});
}

// Through the owner's run_as function: the table's code runs with the
// owner's rights and cannot leave them (run_as.h). The statement reads its
// parameters from one text[], cast to the destination's column types.
void Applier::send_as_owner(const stream::Relation& rel, const TableTraits& t,
                            const Statement& st, pg::Lsn lsn, std::uint32_t expect_rows) {
  act_as("");
  const RoleFacts& owner = role_facts(t.owner, true);
  auto [it, fresh] = array_sql_.try_emplace(&st);
  if (fresh) {
    // A column added by a DDL earlier in this destination transaction is
    // not yet seen by the catalog connection: its type as the source's
    // plugin named it (format_type, quoted and qualified) stands in.
    std::vector<std::string> types;
    for (int i = 0; i < params_.size(); ++i) {
      auto col = static_cast<std::size_t>(params_.column(i));
      if (params_.column(i) < 0 || col >= rel.columns.size())
        types.emplace_back("pg_catalog.text");
      else if (col < t.column_types.size() && !t.column_types[col].empty())
        types.push_back(t.column_types[col]);
      else
        types.push_back(rel.columns[col].type_name);
    }
    it->second = catalog_.in_session_encoding(with_array_parameters(st.sql, types));
  }
  std::string args = parameters_as_text_array(params_);
  const std::string& call = run_as_calls_[owner.name];
  const char* values[5] = {it->second.c_str(), args.c_str(), nullptr, session_settings_.c_str(),
                           owner.name.c_str()};
  pipeline_.query(call.c_str(), 5, values, pg::CommandTag{st.what, st.sql, lsn, expect_rows});
}

void Applier::act_as(const std::string& role) {
  if (role == role_) return;
  role_ = role;
  static const std::string sql = "SELECT pg_catalog.set_config('role', $1, true)";
  const char* values[1] = {role.empty() ? "none" : role.c_str()};
  pipeline_.query(sql.c_str(), 1, values, pg::CommandTag{"switching to the owner's role", sql, 0, false});
}

const RoleFacts& Applier::role_facts(const std::string& name, bool with_function) {
  auto [it, fresh] = roles_.try_emplace(name);
  if (fresh) it->second = catalog_.role(name);
  const RoleFacts& r = it->second;
  if (!r.exists)
    throw Error("role \"" + name +
                "\" does not exist on the destination; pgdts keeps the source's owners: create "
                "the role there (pg_dumpall --roles-only on the source), or sync with --no-owner");
  if (with_function && !run_as_calls_.count(name)) {
    catalog_.provide_run_as(r);
    run_as_calls_.emplace(name, rights::run_as_call(r));
  }
  return r;
}

const RoleFacts& Applier::ddl_role(const ddl::Plan& plan, pg::Lsn lsn) {
  std::string name = !rights_.keep_owners ? rights_.owner_role
                     : plan.role.empty()  ? session_role_
                                          : plan.role;
  const RoleFacts& r = role_facts(name, true);
  if (rights_.keep_owners && r.superuser && plan.role_superuser_known && !plan.role_superuser)
    throw Error("DDL " + plan.what + " at source LSN " + pg::format_lsn(lsn) + " was run by role \"" +
                name + "\", which is a superuser on the destination but was not one on the "
                "source: replaying it would give source users superuser rights. Make the roles "
                "alike (ALTER ROLE " + quote_identifier(name) + " NOSUPERUSER on the destination)");
  return r;
}

void Applier::add_where_params(const stream::Relation& rel) {
  for (std::size_t i = 0; i < where_.size(); ++i)
    if (where_values_[i])
      params_.add(*where_values_[i], rel.columns[i].type_oid,
                  where_[i] == code::kTextEqual ? -1 : static_cast<int>(i));
}

static void check_arity(const stream::Relation& rel, int n, pg::Lsn lsn, const char* what) {
  if (static_cast<std::size_t>(n) != rel.columns.size())
    throw Error(std::string(what) + " of " + rel.display_name + " at source LSN " +
                pg::format_lsn(lsn) + " has " + std::to_string(n) + " values for " +
                std::to_string(rel.columns.size()) + " columns");
}

void Applier::insert(const pgdts::Insert& ins, pg::Lsn lsn) {
  require_transaction("INSERT", lsn);
  if (skip_txn_) return;
  const stream::Relation& rel = relations_.get(ins.relation_oid(), lsn);
  if (!applies_to(rel)) return;
  check_arity(rel, ins.new_tuple().values_size(), lsn, "INSERT");
  ++group_changes_;
  {
    metrics::TableCounts& t = tally(rel);
    ++t.inserts;
    t.bytes += record_bytes_;
  }
  // keep the table's order
  write_merged(rel.oid);
  write_held_deletes(rel.oid);
  if (may_batch(rel, ins.new_tuple())) {
    batcher_.add(relations_.share(rel.oid), ins.new_tuple(), lsn);
    if (batcher_.full()) write_all_held();
    return;
  }
  write_held_inserts(rel.oid);
  const auto& values = ins.new_tuple().values();
  set_.clear();
  where_.clear();
  for (const auto& v : values)
    set_ += v.kind_case() == pgdts::Value::kUnchangedToast ? code::kSkip : code::kValue;
  key_.clear();
  append_version(key_, rel.version, 'I');
  key_ += set_;
  const Statement* st = statements_.find(key_);
  if (!st)
    st = &prepare(insert_sql(table_names(rel.schema, rel.name, column_names(rel)), set_, 1,
                             overwrite_keys(rel)),
                  "INSERT into " + rel.display_name, lsn);

  params_.clear();
  for (int i = 0; i < values.size(); ++i)
    if (set_[i] == code::kValue) params_.add(values[i], rel.columns[i].type_oid, i);
  send(rel, *st, lsn, 0);
}

// Sets of rows (one array per column) where the table allows; otherwise,
// and for the last few rows, multi-row INSERTs of chunks of 64, 32, ... 1
// rows: a few statement shapes per table, prepared once.
void Applier::write_inserts(RowBatcher::Table& table) {
  const stream::Relation& rel = *table.rel;
  std::size_t total = table.rows.size();
  std::size_t done = may_write_set(rel) ? write_in_sets(rel, table.rows, &Applier::send_insert_set) : 0;
  set_.assign(rel.columns.size(), code::kValue);
  where_.clear();
  int per_row = static_cast<int>(rel.columns.size());
  int max_chunk = kInsertBatchRows;
  while (max_chunk > 1 && max_chunk * std::max(per_row, 1) > 65535) max_chunk /= 2;
  while (done < total) {
    int chunk = max_chunk;
    while (static_cast<std::size_t>(chunk) > total - done) chunk /= 2;
    key_.clear();
    append_version(key_, rel.version, 'B');
    key_.append(reinterpret_cast<const char*>(&chunk), sizeof chunk);
    const Statement* st = statements_.find(key_);
    if (!st) {
      std::string sql = insert_sql(table_names(rel.schema, rel.name, column_names(rel)), set_, chunk,
                                   overwrite_keys(rel));
      const Statement& added = statements_.add(key_, std::move(sql), "INSERT into " + rel.display_name,
                                               per_row * chunk);
      pipeline_.prepare(added.name.c_str(), catalog_.in_session_encoding(added.sql), 0,
                        pg::CommandTag{added.what, added.sql, table.rows[done].lsn, false});
      st = &added;
    }
    params_.clear();
    for (int r = 0; r < chunk; ++r) {
      const pgdts::Tuple& row = table.rows[done + r].row;
      for (int i = 0; i < per_row; ++i) params_.add(row.values(i), rel.columns[i].type_oid, i);
    }
    send(rel, *st, table.rows[done].lsn, 0);
    if (chunk > 1) counters_.batched += chunk;
    done += chunk;
  }
}

bool Applier::identify_row(const stream::Relation& rel, pgdts::OldImage image,
                           const pgdts::Tuple* old, const pgdts::Tuple* new_tuple, pg::Lsn lsn,
                           bool& by_ctid) {
  std::size_t n = rel.columns.size();
  where_.assign(n, code::kSkip);
  where_values_.assign(n, nullptr);
  by_ctid = false;

  const std::vector<bool>& nondeterministic = traits(rel).nondeterministic;
  auto use = [&](std::size_t col, const pgdts::Value& v, bool full) {
    switch (v.kind_case()) {
      case pgdts::Value::kIsNull:
        where_[col] = code::kIsNull;
        return;
      case pgdts::Value::kUnchangedToast:
        if (!full)
          throw Error("key column " + rel.columns[col].name + " of " + rel.display_name +
                      " at source LSN " + pg::format_lsn(lsn) + " was sent as an unchanged TOAST value");
        return;  // not compared
      default:
        break;
    }
    // Typed values (ints, floats, bool, bytea) belong to types whose =
    // means "same value", domains over them included.
    bool exact = is_typed(v) || (has_reliable_equality(rel.columns[col].type_oid) &&
                                 !(col < nondeterministic.size() && nondeterministic[col]));
    where_[col] = (!full || exact) ? code::kEqual : code::kTextEqual;
    where_values_[col] = &v;
  };

  if (image == pgdts::OLD_IMAGE_FULL && old) {
    if (static_cast<std::size_t>(old->values_size()) != n)
      throw Error("old row of " + rel.display_name + " at source LSN " + pg::format_lsn(lsn) +
                  " has " + std::to_string(old->values_size()) + " values for " +
                  std::to_string(n) + " columns");
    for (std::size_t i = 0; i < n; ++i) use(i, old->values(static_cast<int>(i)), true);
    by_ctid = true;
    return true;
  }
  if (rel.key_columns.empty()) return false;
  if (image == pgdts::OLD_IMAGE_KEY && old) {
    if (static_cast<std::size_t>(old->values_size()) != rel.key_columns.size())
      throw Error("old key of " + rel.display_name + " at source LSN " + pg::format_lsn(lsn) +
                  " has " + std::to_string(old->values_size()) + " values for " +
                  std::to_string(rel.key_columns.size()) + " key columns");
    for (std::size_t k = 0; k < rel.key_columns.size(); ++k)
      use(static_cast<std::size_t>(rel.key_columns[k]), old->values(static_cast<int>(k)), false);
    return true;
  }
  if (new_tuple) {  // UPDATE that kept its key: the new row's key finds it
    for (int col : rel.key_columns) use(static_cast<std::size_t>(col), new_tuple->values(col), false);
    return true;
  }
  return false;
}

void Applier::update(const pgdts::Update& upd, pg::Lsn lsn) {
  require_transaction("UPDATE", lsn);
  if (skip_txn_) return;
  const stream::Relation& rel = relations_.get(upd.relation_oid(), lsn);
  if (!applies_to(rel)) return;
  check_arity(rel, upd.new_tuple().values_size(), lsn, "UPDATE");
  ++group_changes_;
  // keep the table's order
  write_held_inserts(rel.oid);
  write_held_deletes(rel.oid);
  if (may_merge(rel, upd)) {
    if (merger_.add(relations_.share(rel.oid), upd.new_tuple(), lsn)) ++counters_.merged;
    if (merger_.full()) write_all_merged();
  } else {
    write_merged(rel.oid);
    if (!send_update(rel, upd.new_tuple(), upd.has_old_tuple() ? &upd.old_tuple() : nullptr,
                     upd.old_image(), lsn))
      return;
  }
  // A merged UPDATE counts too: its row was keyed, so it is never skipped.
  metrics::TableCounts& t = tally(rel);
  ++t.updates;
  t.bytes += record_bytes_;
}

bool Applier::may_merge(const stream::Relation& rel, const pgdts::Update& upd) {
  if (!replica_role_ || upd.old_image() != pgdts::OLD_IMAGE_NONE || rel.key_columns.empty() ||
      (rel.identity != pgdts::REPLICA_IDENTITY_DEFAULT &&
       rel.identity != pgdts::REPLICA_IDENTITY_INDEX))
    return false;
  for (const auto& v : upd.new_tuple().values())
    if (v.kind_case() == pgdts::Value::kUnchangedToast) return false;
  if (upd.new_tuple().ByteSizeLong() > kHoldMaxRowBytes) return false;
  const TableTraits& t = traits(rel);
  return t.plain && t.may_defer && t.unique_only_on_key;
}

const std::vector<int>* Applier::overwrite_keys(const stream::Relation& rel) const {
  return overwrite_existing_rows_ && !rel.key_columns.empty() ? &rel.key_columns : nullptr;
}

bool Applier::may_batch(const stream::Relation& rel, const pgdts::Tuple& row) {
  if (!replica_role_ || rel.columns.empty()) return false;
  for (const auto& v : row.values())
    if (v.kind_case() == pgdts::Value::kUnchangedToast) return false;
  if (row.ByteSizeLong() > kHoldMaxRowBytes) return false;
  const TableTraits& t = traits(rel);
  return t.found && t.may_defer;
}

const TableTraits& Applier::traits(const stream::Relation& rel) {
  auto [it, fresh] = traits_.try_emplace(rel.version);
  if (fresh) {
    it->second = catalog_.describe(rel);
    log::Event("table_traits")
        .field("table", rel.display_name)
        .flag("found", it->second.found)
        .flag("may_defer", it->second.may_defer)
        .flag("unique_only_on_key", it->second.unique_only_on_key)
        .flag("partitioned", it->second.partitioned)
        .debug();
  }
  return it->second;
}

void Applier::write_held(std::uint32_t oid) {
  write_held_inserts(oid);
  write_merged(oid);
  write_held_deletes(oid);
}

void Applier::write_all_held() {
  for (RowBatcher::Table& held : batcher_.take_all()) write_inserts(held);
  write_all_merged();
  for (RowBatcher::Table& held : deletes_.take_all()) write_deletes(held);
}

void Applier::write_held_inserts(std::uint32_t oid) {
  if (!batcher_.holds(oid)) return;
  RowBatcher::Table held = batcher_.take(oid);
  write_inserts(held);
}

void Applier::write_held_deletes(std::uint32_t oid) {
  if (!deletes_.holds(oid)) return;
  RowBatcher::Table held = deletes_.take(oid);
  write_deletes(held);
}

void Applier::write_merged(std::uint32_t oid) {
  if (merger_.holds(oid)) merger_.drain(oid, emit_merged_);
}

void Applier::write_all_merged() {
  if (!merger_.empty()) merger_.drain_all(emit_merged_);
}

bool Applier::send_update(const stream::Relation& rel, const pgdts::Tuple& new_row,
                          const pgdts::Tuple* old_key, pgdts::OldImage image, pg::Lsn lsn) {
  const auto& values = new_row.values();
  bool by_ctid = false;
  if (!identify_row(rel, image, old_key, &new_row, lsn, by_ctid)) {
    skip_change(rel, "UPDATE");
    return false;
  }
  set_.clear();
  bool sets_any = false;
  const auto& always_identity = traits(rel).always_identity;
  for (int i = 0; i < values.size(); ++i) {
    bool unchanged = values[i].kind_case() == pgdts::Value::kUnchangedToast ||
                     (!always_identity.empty() && always_identity[i]);
    set_ += unchanged ? code::kSkip : code::kValue;
    sets_any |= !unchanged;
  }
  if (!sets_any) return true;  // only unchanged TOAST values: nothing to write

  key_.clear();
  append_version(key_, rel.version, by_ctid ? 'u' : 'U');
  key_ += set_;
  key_ += where_;
  const Statement* st = statements_.find(key_);
  if (!st)
    st = &prepare(
        update_sql(table_names(rel.schema, rel.name, column_names(rel), &traits(rel).equal_operators),
                   set_, where_, by_ctid),
        "UPDATE of " + rel.display_name, lsn);

  params_.clear();
  for (int i = 0; i < values.size(); ++i)
    if (set_[i] == code::kValue) params_.add(values[i], rel.columns[i].type_oid, i);
  add_where_params(rel);
  send(rel, *st, lsn, 1);
  return true;
}

void Applier::write_merged_rows(const stream::Relation& rel, const std::vector<HeldRow>& rows) {
  std::size_t done = may_write_set(rel) ? write_in_sets(rel, rows, &Applier::send_update_set) : 0;
  for (; done < rows.size(); ++done)
    send_update(rel, rows[done].row, nullptr, pgdts::OLD_IMAGE_NONE, rows[done].lsn);
}

// Sends rows in sets of at most kSetMaxRows through send_set while at
// least kSetMinRows are left; returns how many it sent (the rest go one by
// one).
std::size_t Applier::write_in_sets(const stream::Relation& rel, const std::vector<HeldRow>& rows,
                                   SendSet send_set) {
  std::size_t done = 0;
  while (rows.size() - done >= kSetMinRows) {
    std::size_t n = std::min(rows.size() - done, kSetMaxRows);
    (this->*send_set)(rel, rows.data() + done, n);
    counters_.in_sets += n;
    done += n;
  }
  return done;
}

// A set needs every column's destination type (a column added earlier in
// this destination transaction has none yet), element types that a
// one-dimensional array holds, and no run_as (whose parameters are one
// text[] already).
bool Applier::may_write_set(const stream::Relation& rel) {
  if (ddl_in_txn_) return false;  // the catalog connection does not see this transaction's DDL
  const TableTraits& t = traits(rel);
  if (!t.plain || (!t.owner_superuser && t.runs_code)) return false;
  if (t.column_types.size() != rel.columns.size()) return false;
  for (std::size_t i = 0; i < rel.columns.size(); ++i)
    if (t.column_types[i].empty() || (i < t.not_in_arrays.size() && t.not_in_arrays[i])) return false;
  return true;
}

// Merged UPDATEs of n rows as one statement: one array per column, joined
// on the key (update_from_arrays_sql). Each key is held once, so each
// array row updates at most one row; the command must touch n.
void Applier::send_update_set(const stream::Relation& rel, const HeldRow* rows, std::size_t n) {
  const TableTraits& t = traits(rel);
  std::size_t columns = rel.columns.size();
  set_.clear();
  for (std::size_t i = 0; i < columns; ++i)
    set_ += !t.always_identity.empty() && t.always_identity[i] ? code::kSkip : code::kValue;
  // Key columns left out of SET still travel (prepare counts them here).
  where_.assign(columns, code::kSkip);
  for (int k : rel.key_columns)
    if (set_[static_cast<std::size_t>(k)] == code::kSkip) where_[static_cast<std::size_t>(k)] = code::kEqual;
  key_.clear();
  append_version(key_, rel.version, 'S');
  key_ += set_;
  pg::Lsn first = add_column_arrays(rel, rows, n);
  const Statement* st = statements_.find(key_);
  if (!st)
    st = &prepare(update_from_arrays_sql(table_names(rel.schema, rel.name, column_names(rel),
                                                     &t.equal_operators),
                                         set_, rel.key_columns, t.column_types),
                  "UPDATE of " + rel.display_name + " (a set of rows)", first);
  send(rel, *st, first, static_cast<std::uint32_t>(n));
}

// Held INSERTs of n rows as one statement, one array per column.
void Applier::send_insert_set(const stream::Relation& rel, const HeldRow* rows, std::size_t n) {
  set_.assign(rel.columns.size(), code::kValue);
  where_.clear();
  key_.clear();
  append_version(key_, rel.version, 'J');
  pg::Lsn first = add_column_arrays(rel, rows, n);
  const Statement* st = statements_.find(key_);
  if (!st)
    st = &prepare(insert_from_arrays_sql(table_names(rel.schema, rel.name, column_names(rel)), set_,
                                         traits(rel).column_types, overwrite_keys(rel)),
                  "INSERT into " + rel.display_name + " (a set of rows)", first);
  send(rel, *st, first, 0);
  counters_.batched += n;
}

pg::Lsn Applier::add_column_arrays(const stream::Relation& rel, const HeldRow* rows, std::size_t n,
                                   bool key_images) {
  std::size_t columns = rel.columns.size();
  auto sent = [&](std::size_t i) {
    return set_[i] == code::kValue || (i < where_.size() && where_[i] == code::kEqual);
  };
  // Where column i's value is in a row: its position, or in a key image
  // its place among the key columns.
  value_index_.resize(columns);
  for (std::size_t i = 0; i < columns; ++i) value_index_[i] = static_cast<int>(i);
  if (key_images)
    for (std::size_t k = 0; k < rel.key_columns.size(); ++k)
      value_index_[static_cast<std::size_t>(rel.key_columns[k])] = static_cast<int>(k);
  pg::Lsn first = rows[0].lsn;
  arrays_.reset(columns);
  for (std::size_t r = 0; r < n; ++r) {
    first = std::min(first, rows[r].lsn);
    for (std::size_t i = 0; i < columns; ++i)
      if (sent(i)) arrays_.add(i, rows[r].row.values(value_index_[i]), rel.columns[i].type_oid);
  }
  params_.clear();
  for (std::size_t i = 0; i < columns; ++i)
    if (sent(i)) params_.add_text(arrays_.literal(i));
  return first;
}

void Applier::remove(const pgdts::Delete& del, pg::Lsn lsn) {
  require_transaction("DELETE", lsn);
  if (skip_txn_) return;
  const stream::Relation& rel = relations_.get(del.relation_oid(), lsn);
  if (!applies_to(rel)) return;
  // keep the table's order
  write_held_inserts(rel.oid);
  write_merged(rel.oid);
  ++group_changes_;
  if (may_hold_delete(rel, del)) {
    deletes_.add(relations_.share(rel.oid), del.old_tuple(), lsn);
    metrics::TableCounts& t = tally(rel);
    ++t.deletes;
    t.bytes += record_bytes_;
    if (deletes_.full()) write_all_held();
    return;
  }
  write_held_deletes(rel.oid);
  if (!send_delete(rel, del.old_image(), del.has_old_tuple() ? &del.old_tuple() : nullptr, lsn))
    return;
  metrics::TableCounts& t = tally(rel);
  ++t.deletes;
  t.bytes += record_bytes_;
}

// A DELETE held back: found by its key (the old key image), in a table
// whose deletes may move later in the transaction and travel as a set.
bool Applier::may_hold_delete(const stream::Relation& rel, const pgdts::Delete& del) {
  if (!replica_role_ || del.old_image() != pgdts::OLD_IMAGE_KEY || !del.has_old_tuple() ||
      rel.key_columns.empty() ||
      static_cast<std::size_t>(del.old_tuple().values_size()) != rel.key_columns.size() ||
      (rel.identity != pgdts::REPLICA_IDENTITY_DEFAULT &&
       rel.identity != pgdts::REPLICA_IDENTITY_INDEX))
    return false;
  for (const auto& v : del.old_tuple().values())
    if (v.kind_case() == pgdts::Value::kIsNull || v.kind_case() == pgdts::Value::kUnchangedToast)
      return false;
  const TableTraits& t = traits(rel);
  return t.plain && t.may_defer && may_write_set(rel);
}

// Held DELETEs in sets of rows; the last few one by one.
void Applier::write_deletes(RowBatcher::Table& table) {
  const stream::Relation& rel = *table.rel;
  std::size_t done = may_write_set(rel) ? write_in_sets(rel, table.rows, &Applier::send_delete_set) : 0;
  for (std::size_t total = table.rows.size(); done < total; ++done)
    send_delete(rel, pgdts::OLD_IMAGE_KEY, &table.rows[done].row, table.rows[done].lsn);
}

// DELETEs of n rows by their keys (key images) as one statement.
void Applier::send_delete_set(const stream::Relation& rel, const HeldRow* rows, std::size_t n) {
  std::size_t columns = rel.columns.size();
  set_.assign(columns, code::kSkip);
  where_.assign(columns, code::kSkip);
  for (int k : rel.key_columns) where_[static_cast<std::size_t>(k)] = code::kEqual;
  key_.clear();
  append_version(key_, rel.version, 'E');
  pg::Lsn first = add_column_arrays(rel, rows, n, true);
  const Statement* st = statements_.find(key_);
  if (!st) {
    const TableTraits& t = traits(rel);
    st = &prepare(delete_from_arrays_sql(table_names(rel.schema, rel.name, column_names(rel),
                                                     &t.equal_operators),
                                         rel.key_columns, t.column_types),
                  "DELETE from " + rel.display_name + " (a set of rows)", first);
  }
  send(rel, *st, first, static_cast<std::uint32_t>(n));
}

bool Applier::send_delete(const stream::Relation& rel, pgdts::OldImage image,
                          const pgdts::Tuple* old, pg::Lsn lsn) {
  bool by_ctid = false;
  if (!identify_row(rel, image, old, nullptr, lsn, by_ctid)) {
    skip_change(rel, "DELETE");
    return false;
  }
  set_.clear();
  key_.clear();
  append_version(key_, rel.version, by_ctid ? 'd' : 'D');
  key_ += where_;
  const Statement* st = statements_.find(key_);
  if (!st)
    st = &prepare(delete_sql(table_names(rel.schema, rel.name, column_names(rel), &traits(rel).equal_operators),
                             where_, by_ctid),
                  "DELETE from " + rel.display_name, lsn);

  params_.clear();
  add_where_params(rel);
  send(rel, *st, lsn, 1);
  return true;
}

void Applier::truncate(const pgdts::Truncate& tr, pg::Lsn lsn) {
  require_transaction("TRUNCATE", lsn);
  if (skip_txn_) return;
  write_all_held();
  std::vector<TruncateTarget> targets;
  std::string names;
  for (std::uint32_t oid : tr.relation_oids()) {
    const stream::Relation& rel = relations_.get(oid, lsn);
    if (!applies_to(rel)) continue;
    targets.push_back({quote_identifier(rel.schema) + "." + quote_identifier(rel.name),
                       traits(rel).partitioned});
    ++tally(rel).truncates;
    if (!names.empty()) names += ", ";
    names += rel.display_name;
  }
  if (targets.empty()) return;
  act_as("");  // no code of the tables runs: no trigger fires on it under replica mode
  std::string sql = truncate_sql(targets, tr.restart_identity());
  std::string what = "TRUNCATE of " + names;
  std::string session_sql = catalog_.in_session_encoding(sql);
  pipeline_.query(session_sql.c_str(), 0, nullptr, pg::CommandTag{what, sql, lsn, false});
  // sql and what must outlive the command: wait for it (TRUNCATE is rare,
  // and heavy on the destination anyway).
  pipeline_.wait_all();
  ++group_changes_;
}

bool Applier::applies_to(const stream::Relation& rel) {
  if (!rel.in_task) {
    ++counters_.outside_task;
    return false;
  }
  if (final_lsn_ < rel.copied_at) {
    ++counters_.in_copy;
    return false;
  }
  if (rel.copying && scope_.copy_pending())
    throw TableCopyingError("a change of " + rel.display_name + " at source LSN " +
                            pg::format_lsn(final_lsn_) + " waits for its copy");
  return true;
}

// Heartbeats and other pgdts messages change no data; a transactional one
// still belongs to its transaction, which advances the origin. A repair
// message (verify --repair) writes rows, in its transaction.
void Applier::message(const pgdts::Message& msg, pg::Lsn lsn) {
  if (msg.prefix() != model::kRepairPrefix) return;
  if (!msg.transactional()) {
    // verify emits them inside the transaction that read the rows; outside
    // one, nothing orders it with the table's changes.
    log::Event("repair_skipped")
        .field("lsn", pg::format_lsn(lsn))
        .field("reason", "not transactional: its place among the table's changes is unknown")
        .warn();
    return;
  }
  repair(msg, lsn);
}

void Applier::ddl(const pgdts::Ddl& ddl, pg::Lsn lsn) {
  require_transaction("DDL", lsn);
  // It may touch a table being copied beside the stream, whose copy then
  // holds the catalog as of its snapshot: replayed after the copy.
  if (scope_.copy_pending() && final_lsn_ >= scope_.copying_from)
    throw TableCopyingError("a DDL at source LSN " + pg::format_lsn(lsn) +
                            " waits for the copy of the tables added to the task");
  if (skip_txn_) return;
  write_all_held();  // a DDL replayed here must see every earlier change
  ddl::Plan plan = planner_.plan(ddl, lsn);
  if (plan.action == ddl::Plan::Action::skip) {
    log::Event event("ddl_skipped");
    event.field("lsn", pg::format_lsn(lsn))
        .field("command_tag", ddl.command_tag())
        .field("schema", ddl.schema())
        .field("statement", truncated(secrets::redact(ddl.statement()), 300))
        .field("reason", plan.reason);
    if (plan.warn)
      event.warn();
    else
      event.info();
    return;
  }
  if (plan.action == ddl::Plan::Action::replay_alone)
    replay_ddl_alone(plan, lsn);
  else
    replay_ddl(plan, lsn);
  ++group_changes_;
  log::Event("ddl_replayed")
      .field("lsn", pg::format_lsn(lsn))
      .field("command_tag", ddl.command_tag())
      .field("statement", truncated(secrets::redact(plan.sql), 300))
      .info();
}

// In the destination transaction, in order with the changes around it,
// through the run_as function of the role that ran it on the source, under
// the search_path and parse settings it ran under (schemas mapped). Waited
// for: DDL is rare, and its error is then reported against its own
// statement.
void Applier::replay_ddl(const ddl::Plan& plan, pg::Lsn lsn) {
  act_as("");
  const RoleFacts& role = ddl_role(plan, lsn);
  // The statement and the settings are in the source's encoding, the
  // session's client encoding: sent as they are.
  ddl_sql_ = plan.sql;
  ddl_what_ = "DDL " + plan.what;
  std::string path;
  for (const auto& s : plan.search_path) {
    if (!path.empty()) path += ", ";
    path += quote_identifier(s);
  }
  std::vector<std::string> settings{"search_path", path, "standard_conforming_strings", "on"};
  for (const auto& [name, value] : plan.settings) {
    settings.push_back(name);
    settings.push_back(value);
  }
  ddl_settings_ = pg::text_array(settings);
  const char* values[5] = {ddl_sql_.c_str(), nullptr, ddl_settings_.c_str(),
                           session_settings_.c_str(), role.name.c_str()};
  pipeline_.query(run_as_calls_[role.name].c_str(), 5, values,
                  pg::CommandTag{ddl_what_, plan.sql, lsn, false});
  pipeline_.wait_all();
  ddl_in_txn_ = true;
}

// CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction block. Its
// source transaction holds nothing else (CONCURRENTLY cannot run in one on
// the source either): the group is committed up to the transaction before
// it, the command runs alone, and the source transaction's COMMIT then
// advances the origin in a transaction of its own. A crash in between
// replays the command: the plan made it idempotent.
void Applier::replay_ddl_alone(const ddl::Plan& plan, pg::Lsn lsn) {
  if (group_changes_ != txn_changes_)
    throw Error("DDL " + plan.what + " at source LSN " + pg::format_lsn(lsn) +
                " must run outside a transaction block, but its source transaction (xid " +
                std::to_string(xid_) + ") changed data before it");
  end_group();
  pipeline_.wait_all();  // committed: the command waits for no transaction of ours
  ddl::Plan as_role = plan;
  as_role.role = ddl_role(plan, lsn).name;
  catalog_.run_alone(as_role);
  traits_.clear();
  open_group();
  txn_changes_ = group_changes_;
}

void Applier::skip_change(const stream::Relation& rel, const char* op) {
  auto& s = skips_[rel.oid];
  if (s.table != rel.display_name) s = SkipCounter{rel.display_name, op, "", 0, 0, {}};
  s.op = op;
  s.reason = rel.identity == pgdts::REPLICA_IDENTITY_NOTHING
                 ? "table has REPLICA IDENTITY NOTHING"
                 : "table has no primary key or replica identity";
  ++s.count;
  ++counters_.skipped;
  ++tally(rel).skipped;
  if (s.reported == 0) report_skips(false);
}

metrics::TableCounts& Applier::tally(const stream::Relation& rel) {
  if (rel.version != tally_version_ || tallies_.empty()) {
    auto [by_version, fresh] = tally_by_version_.try_emplace(rel.version, 0);
    if (fresh) {
      std::string name = rel.schema + "." + rel.name;  // destination names
      auto [by_name, added] = tally_by_name_.try_emplace(name, tallies_.size());
      if (added) {
        tallies_.emplace_back();
        tallies_.back().durable.table = name;
      }
      by_version->second = by_name->second;
    }
    tally_version_ = rel.version;
    tally_index_ = by_version->second;
  }
  Tally& t = tallies_[tally_index_];
  if (t.group != group_serial_) {
    t.group = group_serial_;
    group_tallies_.push_back(tally_index_);
  }
  return t.pending;
}

void Applier::take_table_counts(const std::function<void(const metrics::TableCounts&)>& report) {
  for (Tally& t : tallies_) {
    if (t.durable.empty()) continue;
    report(t.durable);
    std::string name = std::move(t.durable.table);
    t.durable = {};
    t.durable.table = std::move(name);
  }
}

void Applier::report_skips(bool force) {
  auto now = Clock::now();
  for (auto& [oid, s] : skips_) {
    if (s.count == s.reported) continue;
    if (!force && s.reported != 0 && now - s.last_warned < kWarnEvery) continue;
    log::Event("change_skipped")
        .field("table", s.table)
        .field("op", s.op)
        .field("reason", s.reason)
        .field("skipped", s.count)
        .warn();
    s.reported = s.count;
    s.last_warned = now;
  }
  for (auto& [what, m] : misses_) {
    if (m.count == m.reported) continue;
    if (!force && m.reported != 0 && now - m.last_warned < kWarnEvery) continue;
    log::Event("row_not_found")
        .field("change", what)
        .field("count", m.count)
        .field("reason", "the destination has no row with the old key; it differs from the source")
        .warn();
    m.reported = m.count;
    m.last_warned = now;
  }
}

void Applier::row_not_found(const pg::CommandTag& tag, std::uint64_t missing) {
  auto& m = misses_[std::string(tag.what)];
  m.count += missing;
  if (m.reported == 0) report_skips(false);
}

}  // namespace pgdts::apply
