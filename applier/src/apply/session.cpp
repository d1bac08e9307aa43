#include "apply/session.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include <poll.h>

#include <set>

#include "apply/heartbeat.h"
#include "apply/origin.h"
#include "apply/sequence_follower.h"
#include "error.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "pg/literals.h"
#include "pg/replication_stream.h"
#include "rights/run_as.h"
#include "rights/table_rights.h"
#include "stream/format_version.h"
#include "stream/record_batch.h"
#include "stream/record_decoder.h"
#include "stream/timestamp.h"
#include "task/task_slot.h"
#include "store/task_store.h"

namespace pgdts::apply {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kFeedbackEvery = 1s;
constexpr auto kProgressLogEvery = 10s;
// An idle walsender sends nothing while our status updates keep it content:
// after this much silence we ask it for a keepalive...
constexpr auto kPingAfter = 10s;
// ...and after this much the connection is taken for dead.
constexpr auto kDeadAfter = 60s;
// On SIGTERM inside a source transaction: how long to wait for its COMMIT.
constexpr auto kStopGrace = 5s;
constexpr auto kSlotBusyRetry = 10s;
// At a transaction boundary with nothing more at hand, the open group
// commits at once (a change waits for nothing but its own transaction),
// unless the stream is behind the source by more than kBehind, or the last
// group's COMMIT is still in flight: then what arrives within kGroupLinger
// joins the group (group commit). Catching up, decoding a little slower
// than applying would otherwise shrink groups (and merged UPDATEs) to a
// transaction or two, each a destination commit.
constexpr auto kGroupLinger = 2ms;
constexpr std::int64_t kBehindMicros = 50'000;

bool warned_replica_role = false;  // once per process, not per session

// Thrown from a destination wait (Pipeline::on_wait) when a stop request has
// waited kStopGrace: the destination is blocked (a lock another session
// holds), and a stop must never hang on it. Not an Error, so that nothing on
// the way out takes it for a failure to retry.
struct StopWhileWaiting {};


class Session : public DestinationCatalog {
 public:
  Session(const SessionConfig& config, const std::atomic<bool>& stop, SessionHooks& hooks,
          SessionTotals& totals, OpenConnections reuse)
      : cfg_(config),
        stop_(stop),
        hooks_(hooks),
        totals_(totals),
        reuse_(std::move(reuse)),
        heartbeat_(config.source, config.task, config.application_name),
        sequences_(config.source, config.target, config.task, config.application_name,
                   config.scope.selection, config.scope.names) {}

  void run() {
    try {
      connect();
      try {
        loop();
      } catch (const StopWhileWaiting&) {
        end_blocked_backend();
        abandon_transaction("stopping while the destination kept the apply session waiting; "
                            "its open transaction is applied whole on the next start");
      }
    } catch (const pg::PipelineError& e) {
      totals_.failed_at = e.lsn() ? e.lsn() : failing_lsn();
      collect_totals();
      throw;
    } catch (...) {
      totals_.failed_at = failing_lsn();
      collect_totals();
      throw;
    }
    collect_totals();
  }

 private:
  pg::Lsn failing_lsn() const { return applier_ ? applier_->handling_lsn() : 0; }
  bool behind_source() const {
    std::int64_t t = applier_->last_commit_time();
    return t != 0 && stream::unix_micros_now() - t > kBehindMicros;
  }
  void connect();
  // The plugin's options of START_REPLICATION.
  std::vector<std::pair<std::string, std::string>> start_options() const;
  void connect_destination(const std::string& source_encoding);
  void check_slot();
  void start_stream();
  void loop();
  void periodic(Clock::time_point now);
  void throttle(const pgdts::Record& record, std::size_t bytes);
  void send_feedback();
  void wait_for_input(Clock::time_point now);
  void stop_cleanly();
  void abandon_transaction(const char* reason);
  void end_blocked_backend();
  void while_waiting();
  void check_stop_while_waiting(Clock::time_point now);
  void collect_totals();
  void publish_metrics();
  TableTraits describe(const stream::Relation& rel) override;
  bool has_relation(const std::string& schema, const std::string& name,
                    const std::string& relkinds) override;
  void run_alone(const ddl::Plan& plan) override;
  std::string in_session_encoding(const std::string& utf8_sql) override;
  bool repair_signed(std::string_view payload, const std::string& signature) override;
  RoleFacts role(const std::string& name) override;
  void provide_run_as(const RoleFacts& role) override;
  std::string session_settings() override { return session_settings_; }
  std::string session_role() override { return session_role_; }
  void describe_rights(const stream::Relation& rel, TableTraits& t);

  const SessionConfig& cfg_;
  const std::atomic<bool>& stop_;
  SessionHooks& hooks_;
  SessionTotals& totals_;
  OpenConnections reuse_;
  Heartbeat heartbeat_;
  SequenceFollower sequences_;

  // Declared before applier_: it refers to apply_ and is destroyed first.
  std::optional<pg::ReplicationStream> stream_;
  pg::Connection apply_;
  pg::Connection progress_;
  std::optional<Applier> applier_;
  stream::RecordDecoder decoder_;

  pg::Lsn origin_start_ = 0;
  pg::Lsn last_received_ = 0;
  pg::Lsn idle_wal_end_ = 0;
  pg::Lsn reported_ = 0;
  pg::Lsn durable_ = 0;
  bool replica_role_ = false;
  std::string session_encoding_;
  std::string session_role_;
  std::string session_settings_;
  rights::Ownership rights_;
  ApplyCounters collected_;

  Clock::time_point next_feedback_{}, next_progress_log_{}, last_message_{};
  std::uint64_t messages_since_periodic_ = 0;
  bool ping_sent_ = false;
  std::optional<Clock::time_point> waiting_stop_deadline_;
  Clock::time_point last_wait_status_{};
  std::uint64_t logged_changes_ = 0;
  Clock::time_point logged_at_{};
};

void Session::connect() {
  pg::ConnectOptions src_options{"source", true, cfg_.application_name,
                                 // text values of timestamptz inside arrays and
                                 // composites are compared as text under
                                 // REPLICA IDENTITY FULL: both sides in UTC
                                 "-c timezone=UTC"};
  if (reuse_.source)
    stream_.emplace(std::move(*reuse_.source));
  else
    stream_.emplace(pg::Connection::open(cfg_.source, src_options));
  pg::SystemIdentity id = stream_->identify_system();
  if (id.system_id != cfg_.source_system_id)
    throw Error("source system identifier changed from " + cfg_.source_system_id + " to " +
                id.system_id + "; task \"" + cfg_.task + "\" belongs to the former source");
  log::Event("source_connected").field("system_id", id.system_id).debug();
  connect_destination(stream_->connection().parameter_status("server_encoding"));
  log::Event("destination_connected")
      .field("origin_lsn", pg::format_lsn(origin_start_))
      .flag("replica_role", replica_role_)
      .debug();
  check_slot();
  start_stream();
}

void Session::connect_destination(const std::string& source_encoding) {
  pg::ConnectOptions dst_options{"destination", false, cfg_.application_name, ""};
  progress_ = reuse_.destination ? std::move(*reuse_.destination)
                                  : pg::Connection::open(cfg_.target, dst_options);
  // Catalog queries name tables in UTF-8, as the stream does.
  progress_.exec("SET client_encoding = 'UTF8'; SET bytea_output = 'hex'");
  apply_ = pg::Connection::open(cfg_.target, dst_options);

  // Triggers and foreign keys are not fired again: the source fired them.
  try {
    apply_.exec("SET session_replication_role = replica");
    replica_role_ = true;
  } catch (const pg::SqlError& e) {
    if (!warned_replica_role) {
      log::Event("replica_role_unavailable")
          .field("reason", e.what())
          .field("effect", "destination triggers and foreign key checks fire on replayed changes")
          .warn();
      warned_replica_role = true;
    }
  }
  // synchronous_commit = off is safe here because nothing is reported to the
  // source as flushed before read_origin_progress(..., true) on the other
  // connection has flushed the destination's WAL up to it (see origin.h).
  apply_.exec("SET synchronous_commit = off");
  // Text values arrive in the source's encoding.
  if (!source_encoding.empty()) {
    apply_.exec("SET client_encoding = " + apply_.literal(source_encoding));
    session_encoding_ = source_encoding;
  }
  // Read values back in the spellings the plugin sends them in, and never
  // time out a long transaction or a wait for the source.
  apply_.exec(
      "SET datestyle = 'ISO'; SET intervalstyle = 'postgres'; SET extra_float_digits = 3;"
      "SET lc_monetary = 'C'; SET timezone = 'UTC'; SET statement_timeout = 0;"
      "SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0");
  // Find rows by their key's index, as PostgreSQL's apply worker does. A
  // small table's statistics make the planner pick a sequential scan, which
  // grows with every row version a long destination transaction leaves
  // behind (pgbench_branches: hundreds per group). Tables without a usable
  // index are still scanned.
  apply_.exec("SET enable_seqscan = off; SET enable_bitmapscan = off");
  // With enable_seqscan off, the scan of a table without a usable index
  // costs over 10^10, far above jit_above_cost: every UPDATE or DELETE of
  // such a table (REPLICA IDENTITY FULL) would be JIT-compiled and
  // optimized, ~50 ms each (found by pgdts verify's test: the fixture's
  // keyless shop.audit_log held the apply at ~60 changes/s).
  apply_.exec("SET jit = off");
  // Nothing a source role creates may stand in for what the applier's
  // statements name: they qualify every table and operator they use.
  apply_.exec("SET search_path = pg_catalog, pg_temp");
  session_role_ = std::string(progress_.exec("SELECT pg_catalog.current_user()").value(0, 0));
  session_settings_ = rights::session_settings(apply_);
  rights_ = cfg_.rights;
  if (!rights_.keep_owners && rights_.owner_role.empty()) rights_.owner_role = session_role_;
  setup_origin_session(apply_, cfg_.origin, stop_);
  origin_start_ = read_origin_progress(progress_, cfg_.origin);
  durable_ = origin_start_;
}

void Session::check_slot() {
  std::optional<pg::SlotInfo> slot = stream_->find_slot(cfg_.slot);
  std::string dbname = stream_->connection().parameter_status("database");
  // Lost or replaced after the task came to depend on it: never a fresh
  // slot (task/task_slot.h).
  store::TaskStore store(progress_);
  task::require_slot(cfg_.task, store.where(cfg_.task), origin_start_, slot, dbname);
  if (!slot) {
    if (!cfg_.may_create_slot)
      throw task::SlotLostError(
          task::slot_lost_message(cfg_.task, task::SlotProblem::missing, slot));
    log::Event("slot_creating").field("slot", cfg_.slot).field("plugin", "pgdts").info();
    pg::Lsn consistent = stream_->create_slot(cfg_.slot, "pgdts");
    // From here on the task depends on this slot.
    store.set_snapshot_lsn(cfg_.task, consistent);
    log::Event("slot_created")
        .field("slot", cfg_.slot)
        .field("consistent_lsn", pg::format_lsn(consistent))
        .info();
    return;
  }
  // Never report less than the slot already has: PostgreSQL 15 would move
  // its confirmed position back.
  reported_ = std::max(origin_start_, slot->confirmed_flush);
}

std::vector<std::pair<std::string, std::string>> Session::start_options() const {
  std::vector<std::pair<std::string, std::string>> options{
      {"format_version", std::to_string(stream::format_version())}, {stream::kBatchOption, "true"}};
  // Changes replayed into the source by another replication carry its
  // origin; the plugin leaves them out unless asked (docs/protocol.md).
  if (cfg_.forward_origins) options.emplace_back("include_origin", "true");
  options.insert(options.end(), cfg_.etl_options.begin(), cfg_.etl_options.end());
  return options;
}

void Session::start_stream() {
  auto deadline = Clock::now() + kSlotBusyRetry;
  while (true) {
    try {
      stream_->start(cfg_.slot, origin_start_, start_options());
      break;
    } catch (const pg::SqlError& e) {
      if (auto refused = stream::refused_format(e.sqlstate(), e.what()))
        throw stream::FormatMismatchError(*refused);
      if (e.sqlstate() != "55006") throw;
      // A killed applier's walsender lingers until it notices: wait a bit.
      if (Clock::now() >= deadline || stop_)
        throw Error("replication slot \"" + cfg_.slot + "\" is in use by another process (PID " +
                    pg::pid_in_message(e.what()) + ")");
      std::this_thread::sleep_for(500ms);
    }
  }
  last_received_ = std::max(origin_start_, reported_);
  applier_.emplace(apply_, origin_start_, cfg_.limits, *this, replica_role_, cfg_.scope, rights_);
  applier_->overwrite_existing_rows(cfg_.overwrite_existing_rows);
  applier_->isolate_from(totals_.failed_at);
  // A long DDL (a table rewrite, an index build) keeps the applier waiting
  // with the stream unread.
  applier_->on_wait([this] { while_waiting(); });
  log::Event("apply_started")
      .field("task", cfg_.task)
      .field("slot", cfg_.slot)
      .field("origin", cfg_.origin)
      .field("start_lsn", pg::format_lsn(origin_start_))
      .info();
  if (hooks_.streaming) hooks_.streaming();
}

TableTraits Session::describe(const stream::Relation& rel) {
  std::vector<std::string> keys;
  for (int col : rel.key_columns) keys.push_back(rel.columns[col].name);
  std::string key_array = pg::text_array(keys);
  pg::Result r = progress_.exec(
      "SELECT c.relkind,"
      " NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid"
      "   AND NOT t.tgisinternal AND t.tgenabled IN ('A', 'R'))"
      " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid"
      "   AND w.rulename <> '_RETURN'),"
      " NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid"
      "   AND (i.indisunique OR i.indisexclusion)"
      "   AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL"
      "        OR EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k(attnum)"
      "                   LEFT JOIN pg_catalog.pg_attribute a"
      "                     ON a.attrelid = c.oid AND a.attnum = k.attnum"
      "                   WHERE a.attname IS NULL OR NOT a.attname = ANY ($3::text[]))))"
      " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = $1 AND c.relname = $2",
      {rel.schema.c_str(), rel.name.c_str(), key_array.c_str()});
  TableTraits t;
  if (r.rows() != 1) return t;  // missing: statements on it fail and say so
  std::string_view kind = r.value(0, 0);
  t.found = true;
  t.partitioned = kind == "p";
  t.plain = kind == "r";
  t.may_defer = (t.plain || t.partitioned) && r.value(0, 1) == "t";
  t.unique_only_on_key = r.value(0, 2) == "t";
  // Per column: GENERATED ALWAYS identity, nondeterministic collation, and
  // the type by name without typmod (quote_ident: "bit" is bit of any
  // length, not bit(1)), whether arrays of it can carry its values.
  pg::Result cols = progress_.exec(
      "SELECT a.attname, a.attidentity = 'a', coalesce(NOT co.collisdeterministic, false),"
      " pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(ty.typname),"
      " ty.typcategory = 'A' OR ty.typdelim <> ','"
      " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid"
      " JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace"
      " LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
      " WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
      {rel.schema.c_str(), rel.name.c_str()});
  t.column_types.assign(rel.columns.size(), std::string());
  t.not_in_arrays.assign(rel.columns.size(), false);
  for (int i = 0; i < cols.rows(); ++i)
    for (std::size_t c = 0; c < rel.columns.size(); ++c) {
      if (rel.columns[c].name != cols.value(i, 0)) continue;
      // always_identity and nondeterministic stay empty when no column is so
      if (cols.value(i, 1) == "t") {
        t.always_identity.resize(rel.columns.size(), false);
        t.always_identity[c] = true;
      }
      if (cols.value(i, 2) == "t") {
        t.nondeterministic.resize(rel.columns.size(), false);
        t.nondeterministic[c] = true;
      }
      t.column_types[c] = std::string(cols.value(i, 3));
      t.not_in_arrays[c] = cols.value(i, 4) == "t";
    }
  describe_rights(rel, t);
  return t;
}

// Owner, the code writing a row evaluates (rights::read_table_rights), and
// key operators (TableTraits, docs/security.md).
void Session::describe_rights(const stream::Relation& rel, TableTraits& t) {
  std::vector<std::string> columns;
  for (const auto& c : rel.columns) columns.push_back(c.name);
  rights::TableRights tr = rights::read_table_rights(progress_, rel.schema, rel.name, columns, replica_role_);
  if (!tr.found) return;
  t.owner = tr.owner;
  t.owner_superuser = tr.owner_superuser;
  t.code_reason = tr.code;
  t.runs_code = !t.code_reason.empty();
  if (!t.owner_superuser && t.runs_code) {
    log::Event("table_runs_code")
        .field("table", rel.display_name)
        .field("owner", t.owner)
        .field("code", t.code_reason)
        .field("effect", "its rows are written through pgdts.run_as_<owner>, with the owner's rights")
        .info();
  }
  // The key's operators: those of the destination index over the key
  // columns (a unique index without expression or predicate, the primary
  // key first), when they are not pg_catalog's.
  if (rel.key_columns.empty()) return;
  pg::Result ops = progress_.exec(
      "SELECT i.indexrelid, a.attname, pg_catalog.quote_ident(ns.nspname)"
      " FROM pg_catalog.pg_index i"
      " CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]),"
      "   pg_catalog.unnest(i.indclass::pg_catalog.oid[])) k(attnum, opclass)"
      " JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
      " JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass"
      " JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amopstrategy = 3"
      "  AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype"
      " JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr"
      " JOIN pg_catalog.pg_namespace ns ON ns.oid = o.oprnamespace"
      " WHERE i.indrelid = pg_catalog.format('%I.%I', $1::text, $2::text)::pg_catalog.regclass"
      "  AND i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL"
      " ORDER BY i.indisprimary DESC, i.indisreplident DESC, i.indexrelid",
      {rel.schema.c_str(), rel.name.c_str()});
  std::set<std::string> keys;
  for (int col : rel.key_columns) keys.insert(rel.columns[static_cast<std::size_t>(col)].name);
  for (int i = 0; i < ops.rows();) {
    int end = i;
    std::set<std::string> names;
    while (end < ops.rows() && ops.value(end, 0) == ops.value(i, 0)) names.insert(std::string(ops.value(end++, 1)));
    if (names == keys) {
      for (int k = i; k < end; ++k) {
        if (ops.value(k, 2) == "pg_catalog") continue;
        t.equal_operators.resize(rel.columns.size());
        for (std::size_t c = 0; c < rel.columns.size(); ++c)
          if (rel.columns[c].name == ops.value(k, 1))
            t.equal_operators[c] = "OPERATOR(" + std::string(ops.value(k, 2)) + ".=)";
      }
      return;
    }
    i = end;
  }
}

RoleFacts Session::role(const std::string& name) { return rights::read_role(progress_, name); }

void Session::provide_run_as(const RoleFacts& role) { rights::provide_run_as(progress_, role); }

bool Session::has_relation(const std::string& schema, const std::string& name,
                           const std::string& relkinds) {
  pg::Result r = progress_.exec(
      "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = $1 AND c.relname = $2 AND strpos($3, c.relkind::text) > 0",
      {schema.c_str(), name.c_str(), relkinds.c_str()});
  return r.rows() > 0;
}

// On the catalog connection (UTF-8, not in pipeline mode, no transaction
// open): the apply session's pipeline is an implicit transaction block.
void Session::run_alone(const ddl::Plan& plan) {
  std::string path;
  for (const auto& s : plan.search_path) {
    if (!path.empty()) path += ", ";
    path += progress_.identifier(s);
  }
  try {
    if (!plan.index.empty()) {
      // An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index
      // behind, which IF NOT EXISTS would keep.
      pg::Result r = progress_.exec(
          "SELECT 1 FROM pg_catalog.pg_index WHERE indexrelid = pg_catalog.to_regclass($1)"
          " AND NOT indisvalid",
          {plan.index.c_str()});
      if (r.rows() > 0) {
        log::Event("invalid_index_dropped").field("index", plan.index).info();
        progress_.exec("DROP INDEX CONCURRENTLY IF EXISTS " + plan.index);
      }
    }
    // The statement is in the source's encoding, like the apply session's text.
    bool convert = !session_encoding_.empty() && session_encoding_ != "UTF8";
    if (convert) progress_.exec("SET client_encoding = " + progress_.literal(session_encoding_));
    progress_.exec("SET search_path TO " + (path.empty() ? std::string("DEFAULT") : path));
    // An index build evaluates its expressions as the table's owner in a
    // security-restricted operation whoever runs it; the command itself
    // runs with the rights of the role that ran it on the source.
    if (!plan.role.empty() && plan.role != session_role_)
      progress_.exec("SET ROLE " + progress_.identifier(plan.role));
    progress_.exec_while(plan.sql, [this] { while_waiting(); });
    progress_.exec("RESET ROLE; RESET search_path; SET client_encoding = 'UTF8'");
  } catch (const pg::SqlError& e) {
    try {
      progress_.exec("RESET ROLE; RESET search_path; SET client_encoding = 'UTF8'");
    } catch (const std::exception&) {
    }
    throw pg::SqlError("DDL " + plan.what + " failed on the destination: " + e.what() +
                           "; statement: " + plan.sql,
                       e.sqlstate());
  }
}

bool Session::repair_signed(std::string_view payload, const std::string& signature) {
  try {
    return store::TaskStore(progress_).repair_signature_matches(cfg_.task, pg::bytea_hex(payload), signature);
  } catch (const pg::ConnectionError&) {
    throw;
  } catch (const pg::SqlError& e) {
    // Whatever fails here (pgdts.task changed by hand): not signed, so
    // skipped; a message a source role emits must never stop the task.
    log::Event("repair_signature_unchecked").field("error", pg::one_line(e.what())).warn();
    return false;
  }
}

std::string Session::in_session_encoding(const std::string& utf8_sql) {
  bool ascii = std::all_of(utf8_sql.begin(), utf8_sql.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii || session_encoding_.empty() || session_encoding_ == "UTF8" ||
      session_encoding_ == "SQL_ASCII")
    return utf8_sql;
  // PostgreSQL's own conversion tables, on the catalog connection.
  pg::Result r = progress_.exec("SELECT pg_catalog.convert_to($1, $2)",
                                {utf8_sql.c_str(), session_encoding_.c_str()});
  std::string_view hex = r.value(0, 0);
  if (hex.size() < 2 || hex.substr(0, 2) != "\\x")
    throw Error("destination returned an unexpected bytea for a statement's conversion to " +
                session_encoding_);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve((hex.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
  return out;
}

void Session::loop() {
  auto now = Clock::now();
  next_feedback_ = now;
  next_progress_log_ = now + kProgressLogEvery;
  last_message_ = now;
  logged_at_ = now;
  std::optional<Clock::time_point> stop_deadline;
  int since_periodic = 0;

  while (true) {
    if (stop_) {
      if (!applier_->in_source_transaction()) return stop_cleanly();
      if (!stop_deadline) {
        stop_deadline = Clock::now() + kStopGrace;
        log::Event("stopping")
            .field("task", cfg_.task)
            .field("xid", applier_->current_xid())
            .field("reason", "waiting for the current source transaction to end")
            .info();
      } else if (Clock::now() >= *stop_deadline) {
        return abandon_transaction("stopping before the source transaction was complete; it "
                                   "is applied whole on the next start");
      }
    }

    auto m = stream_->read();
    using Kind = pg::ReplicationStream::Message::Kind;
    if (m.kind == Kind::data) {
      ++messages_since_periodic_;
      last_received_ = std::max(last_received_, m.wal_end);
      stream::BatchFrames frames(m.payload, m.data_start);
      std::string_view payload;
      pg::Lsn lsn = 0;
      while (frames.next(payload, lsn)) {
        const pgdts::Record& record = decoder_.decode(payload, lsn);
        applier_->handle(record, lsn, payload.size());
        if (cfg_.throttle && cfg_.throttle->limited()) throttle(record, payload.size());
        if (++since_periodic >= 64 || record.kind_case() == pgdts::Record::kCommit) {
          since_periodic = 0;
          periodic(Clock::now());
        }
      }
      continue;
    }
    if (m.kind == Kind::keepalive) {
      ++messages_since_periodic_;
      last_received_ = std::max(last_received_, m.wal_end);
      // Every transaction that committed before this position has been
      // sent; once nothing received is pending, the position may be
      // confirmed. It may lie inside a transaction still being decoded
      // (sent at its commit, later): confirming it is safe, because the
      // slot skips only transactions that *commit* before the confirmed
      // position and keeps the WAL from their start (its restart_lsn).
      if (!applier_->in_source_transaction()) idle_wal_end_ = std::max(idle_wal_end_, m.wal_end);
      if (m.reply_requested) send_feedback();
      continue;
    }
    // Nothing more at hand: the group commits now, unless it should grow.
    if (!applier_->in_source_transaction() && applier_->group_can_grow() && !stop_ &&
        (applier_->commit_in_flight() || behind_source())) {
      pollfd fds[2] = {{stream_->socket(), POLLIN, 0}, {applier_->socket(), POLLIN, 0}};
      if (::poll(fds, 2, static_cast<int>(kGroupLinger.count())) > 0) {
        if (fds[1].revents) applier_->take_results();
        continue;  // more to read, or the last COMMIT answered: decide again
      }
    }
    applier_->idle();
    now = Clock::now();
    periodic(now);
    wait_for_input(now);
  }
}

// Waits what --incr-rps/--incr-mbps owe for this record, answering the
// walsender meanwhile; a stop request cuts the wait short (the loop then
// stops at the transaction boundary).
void Session::throttle(const pgdts::Record& record, std::size_t bytes) {
  auto kind = record.kind_case();
  bool change = kind == pgdts::Record::kInsert || kind == pgdts::Record::kUpdate ||
                kind == pgdts::Record::kDelete;
  auto until = Clock::now() + cfg_.throttle->take(change, bytes);
  for (auto now = Clock::now(); now < until && !stop_; now = Clock::now()) {
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, 100ms));
    periodic(Clock::now());
  }
}

// The one definition of latency (metrics/task_metrics.h), in ms.
std::optional<std::int64_t> latency_ms(const Applier& a) {
  auto us = metrics::apply_latency_micros(a.counters().durable_commit_time, a.pending_since(),
                                          stream::unix_micros_now());
  if (!us) return std::nullopt;
  return *us / 1000;
}

void Session::periodic(Clock::time_point now) {
  heartbeat_.beat_if_due(now);
  sequences_.follow_if_due(now);
  if (messages_since_periodic_ > 0) {
    last_message_ = now;
    ping_sent_ = false;
    messages_since_periodic_ = 0;
  }
  if (now >= next_feedback_) {
    send_feedback();
    publish_metrics();
    next_feedback_ = now + kFeedbackEvery;
  }
  if (now >= next_progress_log_) {
    applier_->report_skips(false);
    const ApplyCounters& c = applier_->counters();
    std::uint64_t total = c.changes;
    std::optional<std::int64_t> latency = latency_ms(*applier_);
    double secs = std::chrono::duration<double>(now - logged_at_).count();
    double rate = secs > 0 ? (total - logged_changes_) / secs : 0;
    try {
      store::TaskStore(progress_).set_apply_progress(
          cfg_.task, {latency, totals_.counters.changes + total, totals_.counters.skipped + c.skipped, rate});
    } catch (const pg::SqlError&) {
      // the task row is informational here: never stop applying for it
    }
    if (total != logged_changes_) {
      log::Event("progress")
          .field("task", cfg_.task)
          .field("applied_changes", totals_.counters.changes + total)
          .field("applied_transactions", totals_.counters.transactions + c.transactions)
          .field("skipped_changes", totals_.counters.skipped + c.skipped)
          .field("changes_per_second", static_cast<std::uint64_t>(rate))
          .field("lsn", pg::format_lsn(c.last_end))
          .field("latency_ms", latency ? std::to_string(*latency) : std::string("unknown"))
          .field("confirmed_lsn", pg::format_lsn(reported_))
          .info();
      logged_changes_ = total;
    }
    logged_at_ = now;
    next_progress_log_ = now + kProgressLogEvery;
  }
  if (now - last_message_ >= kDeadAfter)
    throw pg::ConnectionError("source: no message from the walsender for " +
                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                 now - last_message_)
                                                 .count()) +
                              " s");
  if (now - last_message_ >= kPingAfter && !ping_sent_) {
    stream_->send_status(last_received_, reported_, reported_, true);
    ping_sent_ = true;
  }
}

void Session::send_feedback() {
  pg::Lsn durable = read_origin_progress(progress_, cfg_.origin);
  applier_->confirm_durable(durable);
  if (durable > durable_) {
    durable_ = durable;
    if (hooks_.progressed) hooks_.progressed();
  }
  pg::Lsn flush = durable;
  // Nothing received is waiting to be applied or committed, and all that
  // was committed is durable: everything up to the last keepalive position
  // is done (the transactions in between sent nothing).
  if (!applier_->has_pending() && durable >= applier_->counters().last_end)
    flush = std::max(flush, idle_wal_end_);
  reported_ = std::max(reported_, flush);
  stream_->send_status(last_received_, reported_, reported_, false);
  totals_.confirmed = reported_;
}

void Session::wait_for_input(Clock::time_point now) {
  auto until = std::min(next_feedback_, now + 200ms);
  int timeout = static_cast<int>(
      std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()));
  pollfd fds[2] = {{stream_->socket(), POLLIN, 0}, {applier_->socket(), POLLIN, 0}};
  if (::poll(fds, 2, timeout) < 0 && errno != EINTR)
    throw pg::ConnectionError(std::string("poll failed: ") + std::strerror(errno));
}

void Session::stop_cleanly() {
  applier_->finish();
  send_feedback();
}

// Called about once a second while the destination keeps the session
// waiting (a pipelined statement, or a DDL run alone): a status update now
// and then (the position unchanged) keeps the walsender from dropping the
// connection after wal_sender_timeout, and a stop request is honoured.
void Session::while_waiting() {
  auto now = Clock::now();
  check_stop_while_waiting(now);
  if (now - last_wait_status_ < 5s) return;
  last_wait_status_ = now;
  stream_->send_status(last_received_, reported_, reported_, false);
  last_message_ = now;
}

// A stop requested while the apply session waits for the destination: the
// wait goes on for kStopGrace (a slow COMMIT ends), then is abandoned.
void Session::check_stop_while_waiting(Clock::time_point now) {
  if (!stop_) return;
  if (!waiting_stop_deadline_) {
    waiting_stop_deadline_ = now + kStopGrace;
    log::Event("stopping")
        .field("task", cfg_.task)
        .field("reason", "waiting for the destination to answer")
        .info();
    return;
  }
  if (now >= *waiting_stop_deadline_) throw StopWhileWaiting{};
}

// The apply session's backend, blocked (on a lock), would not notice its
// connection closing until the lock is granted, and would then run what
// the pipeline had already sent it, COMMIT included. Terminated from the
// catalog connection (same role: no privilege needed) and waited for, it
// rolls its transaction back now, and the origin read next is final.
void Session::end_blocked_backend() {
  std::string pid = std::to_string(apply_.backend_pid());
  try {
    pg::Result r = progress_.exec("SELECT pg_catalog.pg_terminate_backend($1::int, 10000)",
                                  {pid.c_str()});
    if (r.value(0, 0) == "t") return;
    log::Event("apply_backend_not_ended").field("pid", pid).warn();
  } catch (const pg::SqlError& e) {
    log::Event("apply_backend_not_ended").field("pid", pid).field("reason", e.what()).warn();
  }
}

void Session::abandon_transaction(const char* reason) {
  log::Event("transaction_rolled_back")
      .field("task", cfg_.task)
      .field("xid", applier_->current_xid())
      .field("reason", reason)
      .warn();
  // Closing the connection rolls the open destination transaction back.
  // Source transactions grouped with it are rolled back too; the origin did
  // not move, so the next start applies them.
  apply_.close();  // the applier is not used again
  pg::Lsn durable = read_origin_progress(progress_, cfg_.origin);
  durable_ = std::max(durable_, durable);
  applier_->confirm_durable(durable_);
  publish_metrics();
  collected_ += applier_->counters();
  applier_.reset();
  reported_ = std::max(reported_, durable);
  stream_->send_status(last_received_, reported_, reported_, false);
  totals_.confirmed = reported_;
}

// What the applier counted since the last call, into the task's metrics:
// per-table counts are kept by the applier without locks and handed over
// here, once a second, never per change.
void Session::publish_metrics() {
  metrics::TaskMetrics* m = hooks_.metrics;
  if (!m) return;
  std::uint64_t transactions = totals_.counters.transactions + collected_.transactions;
  if (applier_) {
    applier_->take_table_counts([m](const metrics::TableCounts& c) { m->add_table_counts(c); });
    transactions += applier_->counters().transactions;
    m->set_apply_position(applier_->counters().durable_commit_time, applier_->pending_since());
  }
  m->set_applied_transactions(transactions);
  m->set_positions(last_received_, durable_);
}

void Session::collect_totals() {
  publish_metrics();  // before totals_ takes this session's counts
  ApplyCounters c = collected_;
  if (applier_) {
    const ApplyCounters& a = applier_->counters();
    // Only what is known durable counts as applied.
    c += a;
    c.last_end = a.last_end;
    applier_->report_skips(true);
  }
  totals_.counters += c;
  totals_.counters.last_end = std::max(totals_.counters.last_end, durable_);
}

}  // namespace

void run_session(const SessionConfig& config, const std::atomic<bool>& stop, SessionHooks& hooks,
                 SessionTotals& totals, OpenConnections reuse) {
  Session session(config, stop, hooks, totals, std::move(reuse));
  session.run();
}

}  // namespace pgdts::apply
