// Replays decoded change records on the destination, in one session in
// pipeline mode.
//
// Transactions: source transactions are grouped into one destination
// transaction while the stream has more data at hand (bounded by
// ApplyLimits), in order. Each destination transaction ends with
// pg_replication_origin_xact_setup(<end LSN of its last source commit>,
// <its commit time>), so the origin advances atomically with the data: the
// destination's origin position is exactly what it has applied.
// Transactions that end at or before the position the session started from
// were applied before and are skipped (a re-sent transaction is never
// applied twice). That bookkeeping is GroupLedger's (group_ledger.h).
// Within a group, repeated UPDATEs of one row may be merged into one
// (UpdateMerger, where its rule allows), and held rows are written as sets.
//
// DDL records are replayed in place (ddl::Planner decides and rewrites; see
// docs/ddl-replay.md): after everything held back is written, inside the
// group, under the source's search_path; the group then ends with that
// source transaction. CONCURRENTLY commands run alone between two groups.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "apply/group_ledger.h"
#include "apply/row_batcher.h"
#include "rights/ownership.h"
#include "rights/run_as.h"
#include "apply/statement_cache.h"
#include "apply/task_scope.h"
#include "apply/update_merger.h"
#include "apply/value_format.h"
#include "ddl/planner.h"
#include "metrics/task_metrics.h"
#include "model/repair_message.h"
#include "pg/connection.h"
#include "pg/lsn.h"
#include "pg/pipeline.h"
#include "pgdts.pb.h"
#include "stream/relation_cache.h"

namespace pgdts::apply {

using rights::RoleFacts;

struct ApplyLimits {
  std::size_t group_max_changes = 10000;
  std::chrono::milliseconds group_max_age{500};
};

// What the applier needs to know about a destination table.
struct TableTraits {
  bool found = false;
  bool partitioned = false;
  bool plain = false;  // an ordinary table (relkind r)
  // No trigger fires on replayed changes and no rule rewrites them: the
  // table's changes may move later in the destination transaction (past
  // other tables' changes; see RowBatcher, UpdateMerger).
  bool may_defer = false;
  // Every unique or exclusion index is on key columns only (no expression,
  // no predicate): rows may also be reordered among themselves.
  bool unique_only_on_key = false;
  // By column position (empty when none is): GENERATED ALWAYS AS IDENTITY.
  // An UPDATE may only set such a column to DEFAULT, so replayed UPDATEs
  // leave it out (the source cannot change it otherwise either).
  std::vector<bool> always_identity;
  // By column position (empty when none is): a nondeterministic collation,
  // under which = may hold between different strings ('a' and 'A'). Rows
  // found by a full old image compare these columns byte by byte.
  std::vector<bool> nondeterministic;

  // Rights (docs/security.md): the role that owns the table, as whom its
  // rows are written, and whether writing them evaluates code a source role
  // could have written (functions its constraints, indexes, generated
  // columns, domains, partition keys or forced policies call; triggers or
  // rules that fire under replica mode): those rows go through run_as.
  std::string owner;
  bool owner_superuser = false;
  bool runs_code = false;
  std::string code_reason;  // which functions, for the log
  // By column position: the destination type, qualified, that a text
  // parameter is cast to (run_as) or an array of rows is (a set of merged
  // UPDATEs); empty for a column the catalog connection does not see yet.
  std::vector<std::string> column_types;
  // By column position: values that cannot be elements of a
  // one-dimensional array literal: of an array type (or a domain over one),
  // or of a type whose arrays separate elements by other than ',' (box).
  std::vector<bool> not_in_arrays;
  // By column position (empty when every key column compares with
  // pg_catalog's =): OPERATOR(schema.=) of the key's index operator class.
  // The apply session's search_path holds pg_catalog alone, so nothing a
  // source role creates can stand in for the operator rows are found with.
  std::vector<std::string> equal_operators;
};


// Answers about destination tables; on a connection other than the apply
// session's (which is busy pipelining).
class DestinationCatalog {
 public:
  virtual ~DestinationCatalog() = default;
  virtual TableTraits describe(const stream::Relation& rel) = 0;
  // Whether the destination has a relation of this name in this schema, of
  // one of these relkinds (committed state; DDL replay of DROP INDEX and
  // ALTER SEQUENCE on tables picked one by one).
  virtual bool has_relation(const std::string& schema, const std::string& name,
                            const std::string& relkinds) = 0;
  // Runs a DDL statement that cannot run inside a transaction block (CREATE
  // INDEX CONCURRENTLY) under the plan's search_path, on its own. When the
  // plan names an index left invalid by an interrupted earlier run, that
  // index is dropped first. Throws SqlError.
  virtual void run_alone(const ddl::Plan& plan) = 0;
  // SQL text in the apply session's client encoding (the source's: values
  // arrive in it). Names travel as UTF-8, so a statement naming them is
  // converted when the source is not UTF-8.
  virtual std::string in_session_encoding(const std::string& utf8_sql) = 0;
  // A destination role, by name (exists is false when there is none).
  virtual RoleFacts role(const std::string& name) = 0;
  // Creates or refreshes run_as_function(role), committed (on the catalog
  // connection).
  virtual void provide_run_as(const RoleFacts& role) = 0;
  // session_settings_sql()'s value in the apply session as set up, and the
  // session's own role.
  virtual std::string session_settings() = 0;
  virtual std::string session_role() = 0;
  // Whether a repair message's payload bears the task's signature
  // (store::TaskStore::repair_signature): only pgdts verify --repair, which
  // reaches the destination, can have made it.
  virtual bool repair_signed(std::string_view payload, const std::string& signature) = 0;
};

struct ApplyCounters {
  std::uint64_t changes = 0;       // changes committed (and durable) on the destination
  std::uint64_t skipped = 0;       // UPDATE/DELETE skipped: no replica identity
  std::uint64_t transactions = 0;  // source transactions committed (and durable)
  std::uint64_t replayed = 0;      // re-sent source transactions skipped
  std::uint64_t merged = 0;        // UPDATEs folded into a later UPDATE of the same row
  std::uint64_t batched = 0;       // INSERTs written as part of multi-row INSERTs
  std::uint64_t in_sets = 0;       // INSERTs, UPDATEs and DELETEs written as part of sets of rows
  std::uint64_t outside_task = 0;  // changes of tables the task does not select
  std::uint64_t in_copy = 0;       // changes full sync had copied already
  std::uint64_t repaired = 0;      // rows written by verify --repair messages (durable)
  pg::Lsn last_end = 0;            // end LSN of the last transaction sent to commit
  // Source commit time (microseconds since the Unix epoch) of the last
  // transaction known durable on the destination; 0 before the first.
  std::int64_t durable_commit_time = 0;

  // Sums the counts (not last_end) of another session's counters.
  ApplyCounters& operator+=(const ApplyCounters& o) {
    changes += o.changes;
    skipped += o.skipped;
    transactions += o.transactions;
    replayed += o.replayed;
    merged += o.merged;
    batched += o.batched;
    in_sets += o.in_sets;
    outside_task += o.outside_task;
    in_copy += o.in_copy;
    repaired += o.repaired;
    return *this;
  }
};

class Applier {
 public:
  // dest is the apply session (origin already set up); origin_position is
  // the origin's progress when the stream was started. replica_role: the
  // session runs with session_replication_role = replica (foreign keys and
  // ordinary triggers do not fire), a condition of merging UPDATEs.
  // scope must outlive the applier.
  Applier(pg::Connection& dest, pg::Lsn origin_position, ApplyLimits limits,
          DestinationCatalog& catalog, bool replica_role, const TaskScope& scope,
          rights::Ownership rights = {});

  // --conflict ignore: an INSERT whose key exists on the destination
  // overwrites that row instead of failing.
  void overwrite_existing_rows(bool on) { overwrite_existing_rows_ = on; }

  // One record of the stream, at its LSN; wire_bytes: its size as received
  // (counted per table for metrics).
  void handle(const pgdts::Record& record, pg::Lsn lsn, std::size_t wire_bytes = 0);

  // The stream has nothing more at hand: commit the open group if it ends
  // at a transaction boundary, send what is queued, take arrived results.
  void idle();
  // Commits the open group (at a transaction boundary) and waits for every
  // result: on return everything sent is committed.
  void finish();

  // The destination's durable origin position reached durable: the groups
  // up to it count as applied.
  void confirm_durable(pg::Lsn durable);

  bool in_source_transaction() const { return in_txn_; }
  // A group's COMMIT is sent and not yet answered.
  bool commit_in_flight() const { return pipeline_.pending_syncs() > 0; }
  // Takes what the destination has answered, without waiting.
  void take_results() { pipeline_.poll(); }
  // Source commit time (µs since the Unix epoch) of the last transaction
  // handled; 0 before the first.
  std::int64_t last_commit_time() const { return txn_commit_time_; }
  // The source LSN of the record being handled.
  pg::Lsn handling_lsn() const { return handling_lsn_; }
  // A previous session failed on the change at lsn: the transactions
  // committed before the first one that can hold it are committed without
  // it, so a failure never holds back what came before it in its group.
  void isolate_from(pg::Lsn lsn) { isolate_from_ = lsn; }
  // A destination transaction is open and may take more source transactions.
  bool group_can_grow() const {
    return group_open_ && group_changes_ < group_limit_ &&
           std::chrono::steady_clock::now() - group_started_ < limits_.group_max_age;
  }
  // Something sent or received is not yet known committed.
  bool has_pending() const { return in_txn_ || group_open_ || pipeline_.pending_syncs() > 0; }
  const ApplyCounters& counters() const { return counters_; }
  // Source commit time (µs since the Unix epoch) of the oldest transaction
  // received but not yet known durable on the destination; 0 when none is.
  // Latency is measured from it while the destination is behind.
  std::int64_t pending_since() const;
  int socket() const { return pipeline_.socket(); }
  std::uint32_t current_xid() const { return xid_; }

  // Called about once a second while the applier waits for the destination
  // (a long DDL): keeps the source's walsender from timing out.
  void on_wait(std::function<void()> f) { pipeline_.on_wait = std::move(f); }

  // Reports, per destination table, the changes that became durable since
  // the last call (tables with none are left out), and forgets them.
  void take_table_counts(const std::function<void(const metrics::TableCounts&)>& report);

  // Logs change_skipped warnings for tables with skips not yet reported
  // (rate-limited per table unless force).
  void report_skips(bool force);

 private:
  struct SkipCounter {
    std::string table;
    std::string op;
    std::string reason;
    std::uint64_t count = 0;
    std::uint64_t reported = 0;
    std::chrono::steady_clock::time_point last_warned{};
  };
  struct MissCounter {
    std::uint64_t count = 0;
    std::uint64_t reported = 0;
    std::chrono::steady_clock::time_point last_warned{};
  };

  void begin(const pgdts::Begin& b, pg::Lsn lsn);
  void commit(const pgdts::Commit& c, pg::Lsn lsn);
  void insert(const pgdts::Insert& ins, pg::Lsn lsn);
  void update(const pgdts::Update& upd, pg::Lsn lsn);
  void remove(const pgdts::Delete& del, pg::Lsn lsn);
  void truncate(const pgdts::Truncate& tr, pg::Lsn lsn);
  void ddl(const pgdts::Ddl& ddl, pg::Lsn lsn);
  void message(const pgdts::Message& msg, pg::Lsn lsn);

  // verify --repair (apply/repair.cpp): a pgdts_repair message replayed in
  // its group's transaction, at its place in the stream.
  void repair(const pgdts::Message& msg, pg::Lsn lsn);
  // The table a repair message names, as the task maps it; nullopt (and
  // logged) when it is outside the task or not on the destination as such.
  std::optional<stream::Relation> repair_relation(const model::RepairMessage& m, pg::Lsn lsn);
  // Rows written: keyed upserts and deletes; keyless copies and deletes.
  struct RepairCounts {
    std::uint64_t upserted = 0, deleted = 0;
  };
  RepairCounts repair_keyed(const stream::Relation& rel, const model::RepairMessage& m, pg::Lsn lsn);
  RepairCounts repair_keyless(const stream::Relation& rel, const model::RepairMessage& m, pg::Lsn lsn);
  // Queues st for the repair's rel with one row's values as parameters
  // (columns: which of them, in order; extra: a last text parameter).
  void send_repair_row(const stream::Relation& rel, const Statement& st, const pgdts::Tuple& row,
                       const std::vector<std::size_t>& columns, const std::string* extra, pg::Lsn lsn);

  void require_transaction(std::string_view what, pg::Lsn lsn) const;
  // Whether a change of rel in the current transaction is applied: the
  // table is in the task and its full-sync copy does not hold the change.
  bool applies_to(const stream::Relation& rel);
  void open_group();
  void close_group();
  // Commits (or rolls back, when empty) the open group up to the last
  // complete source transaction in it, also in the middle of one.
  void end_group();
  void replay_ddl(const ddl::Plan& plan, pg::Lsn lsn);
  void replay_ddl_alone(const ddl::Plan& plan, pg::Lsn lsn);

  // Fills where_ (codes) and where_values_ for the old row of an UPDATE or
  // DELETE; false when the table has no usable identity.
  bool identify_row(const stream::Relation& rel, pgdts::OldImage image, const pgdts::Tuple* old,
                    const pgdts::Tuple* new_tuple, pg::Lsn lsn, bool& by_ctid);
  // Parameters of the old row's columns that where_ compares.
  void add_where_params(const stream::Relation& rel);
  // Adds the statement for key_ and queues its preparation.
  const Statement& prepare(std::string sql, std::string what, pg::Lsn lsn);
  // Queues st with params_ for a change of rel, with the rights of rel's
  // owner.
  // expect_rows: the rows it must touch (fewer: row_not_found).
  void send(const stream::Relation& rel, const Statement& st, pg::Lsn lsn,
            std::uint32_t expect_rows);
  void send_as_owner(const stream::Relation& rel, const TableTraits& t, const Statement& st,
                     pg::Lsn lsn, std::uint32_t expect_rows);
  // SET LOCAL ROLE for the next statements of the destination transaction
  // (empty: the session's own role).
  void act_as(const std::string& role);
  // A destination role (cached), with its run_as function in place when
  // with_function.
  const RoleFacts& role_facts(const std::string& name, bool with_function);
  // The role a replayed DDL runs as, checked: it exists, and is no
  // superuser here unless it was one on the source.
  const RoleFacts& ddl_role(const ddl::Plan& plan, pg::Lsn lsn);
  const TableTraits& traits(const stream::Relation& rel);
  bool may_merge(const stream::Relation& rel, const pgdts::Update& upd);
  bool may_batch(const stream::Relation& rel, const pgdts::Tuple& row);
  // The key an INSERT overwrites on (overwrite_existing_rows), or none.
  const std::vector<int>* overwrite_keys(const stream::Relation& rel) const;
  // Writes out what is held back for one table (INSERTs, merged UPDATEs,
  // DELETEs), or for every table.
  void write_held(std::uint32_t oid);
  void write_all_held();
  void write_inserts(RowBatcher::Table& table);
  // Writes out the merged UPDATEs held for one table, or for all.
  void write_merged(std::uint32_t oid);
  void write_all_merged();
  // One table's merged UPDATEs: in sets of rows where the table allows
  // (may_write_set), one by one otherwise.
  void write_merged_rows(const stream::Relation& rel, const std::vector<HeldRow>& rows);
  // Whether held rows of rel may travel as one array per column (sets).
  bool may_write_set(const stream::Relation& rel);
  using SendSet = void (Applier::*)(const stream::Relation&, const HeldRow*, std::size_t);
  std::size_t write_in_sets(const stream::Relation& rel, const std::vector<HeldRow>& rows,
                            SendSet send_set);
  void send_update_set(const stream::Relation& rel, const HeldRow* rows, std::size_t n);
  void send_insert_set(const stream::Relation& rel, const HeldRow* rows, std::size_t n);
  void send_delete_set(const stream::Relation& rel, const HeldRow* rows, std::size_t n);
  // params_: one array per column set_ sends or where_ compares, of the n
  // rows (key_images: rows holding the key columns only, in key order);
  // returns the rows' first LSN.
  pg::Lsn add_column_arrays(const stream::Relation& rel, const HeldRow* rows, std::size_t n,
                            bool key_images = false);
  bool may_hold_delete(const stream::Relation& rel, const pgdts::Delete& del);
  void write_deletes(RowBatcher::Table& table);
  // false when the change was skipped (the table has no usable identity)
  bool send_delete(const stream::Relation& rel, pgdts::OldImage image, const pgdts::Tuple* old,
                   pg::Lsn lsn);
  // Writes out one table's held INSERTs or DELETEs, if any.
  void write_held_inserts(std::uint32_t oid);
  void write_held_deletes(std::uint32_t oid);
  // false when the change was skipped (the table has no usable identity)
  bool send_update(const stream::Relation& rel, const pgdts::Tuple& new_row,
                   const pgdts::Tuple* old_key, pgdts::OldImage image, pg::Lsn lsn);
  void skip_change(const stream::Relation& rel, const char* op);
  // The open group's counts for rel's destination table.
  metrics::TableCounts& tally(const stream::Relation& rel);
  void row_not_found(const pg::CommandTag& tag, std::uint64_t missing);

  pg::Pipeline pipeline_;
  rights::Ownership rights_;
  std::string role_;  // SET LOCAL ROLE in force in the open group (empty: none)
  std::string session_role_;
  std::string session_settings_;
  pg::Lsn handling_lsn_ = 0;
  pg::Lsn isolate_from_ = 0;
  std::unordered_map<std::string, RoleFacts> roles_;
  // Call text by role name, once the role's run_as function is in place.
  std::unordered_map<std::string, std::string> run_as_calls_;
  // Statements rewritten to read their parameters from one text[] (run_as).
  std::unordered_map<const Statement*, std::string> array_sql_;
  std::string ddl_settings_;
  stream::RelationCache relations_;
  StatementCache statements_;
  ApplyLimits limits_;
  DestinationCatalog& catalog_;
  bool replica_role_;
  bool overwrite_existing_rows_ = false;
  const TaskScope& scope_;
  ddl::Planner planner_;
  // The current source transaction replayed DDL: its group ends with it, so
  // that catalog lookups (on another connection) see the new definitions.
  bool ddl_in_txn_ = false;
  std::size_t txn_changes_ = 0;  // changes of the current source transaction
  // Texts of the DDL commands in flight (the pipeline refers to them).
  std::string ddl_sql_, ddl_what_, ddl_path_;
  UpdateMerger merger_;
  UpdateMerger::Emit emit_merged_;
  RowBatcher batcher_;   // INSERTs
  RowBatcher deletes_;   // DELETEs by key: their old key images
  std::unordered_map<std::uint64_t, TableTraits> traits_;  // by relation version

  GroupLedger ledger_;  // what is applied, sent, durable (exactly once)
  bool in_txn_ = false;
  bool skip_txn_ = false;
  std::uint32_t xid_ = 0;
  pg::Lsn final_lsn_ = 0;  // of the current source transaction's commit record

  bool group_open_ = false;
  std::size_t group_changes_ = 0;
  // Changes a group may take: starts small when a backlog begins (at
  // start, and after a pause of kBacklogPause; so the destination starts
  // working while the stream is still being read) and doubles with each
  // full group up to limits_.group_max_changes.
  std::size_t group_limit_;
  // Since when the stream has had nothing at hand (idle()), until the next
  // group opens.
  std::optional<std::chrono::steady_clock::time_point> idle_since_;
  std::size_t group_txns_ = 0;
  std::size_t group_repaired_ = 0;  // rows the open group's repair messages write
  // Relation versions of repair messages: one per message, apart from the
  // stream's (which count up from 1), so statements prepared for one
  // message's columns are never used for another's.
  std::uint64_t next_repair_version_ = std::uint64_t{1} << 62;
  pg::Lsn group_end_ = 0;
  std::int64_t group_commit_time_ = 0;
  std::int64_t group_first_commit_time_ = 0;  // of the group's first source transaction
  std::int64_t txn_commit_time_ = 0;          // of the current source transaction
  std::chrono::steady_clock::time_point group_started_;

  ApplyCounters counters_;

  // reused per change: no allocation once grown
  std::string key_;
  std::string set_;
  std::string where_;
  std::vector<const pgdts::Value*> where_values_;
  ParamBuffer params_;
  ColumnArrays arrays_;
  std::vector<int> value_index_;
  char origin_lsn_[32] = {};
  char origin_time_[64] = {};
  char origin_prev_[32] = {};

  // Per destination table (metrics): counts of the open group, and those
  // durable but not yet taken. Found by relation version, the last one
  // remembered: a change costs a comparison, rarely a hash lookup.
  struct Tally {
    metrics::TableCounts pending, durable;
    std::uint64_t group = 0;  // group_serial_ of the last group it counted in
  };
  std::vector<Tally> tallies_;
  std::unordered_map<std::string, std::size_t> tally_by_name_;
  std::unordered_map<std::uint64_t, std::size_t> tally_by_version_;
  std::uint64_t tally_version_ = 0;
  std::size_t tally_index_ = 0;
  std::vector<std::size_t> group_tallies_;  // tallies counted in the open group
  std::uint64_t group_serial_ = 0;
  std::size_t record_bytes_ = 0;  // of the record being handled

  std::unordered_map<std::uint32_t, SkipCounter> skips_;
  std::unordered_map<std::string, MissCounter> misses_;
};

// The destination names of the relation's columns, in stream order.
std::vector<std::string> column_names(const stream::Relation& rel);

// "2026-11-25 21:40:01.123456+00" for microseconds since the Unix epoch.
std::string format_timestamptz(std::int64_t unix_micros);

}  // namespace pgdts::apply
