// Full sync workers: planning and resuming on a control connection, then
// --jobs threads that each hold one source transaction on the imported
// snapshot and one destination connection, and take chunks from a shared
// queue. See full_sync.h and docs/full-sync.md.
#include "fullsync/full_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "error.h"
#include "logging/log.h"
#include "pg/copy.h"
#include "pg/literals.h"
#include "pg/transaction.h"
#include "store/table_sync.h"
#include "rights/run_as.h"
#include "rights/table_rights.h"

namespace pgdts::fullsync {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Both sides render and read values the same way whatever their defaults:
// COPY's text format follows these settings. No timeouts may end the long
// snapshot transaction or a long COPY.
constexpr const char* kSessionOptions =
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "
    "-c bytea_output=hex -c timezone=UTC -c statement_timeout=0 "
    "-c idle_in_transaction_session_timeout=0";

// Rows relayed between two looks at the throttle, the stop flag and the
// progress counters.
constexpr std::int64_t kBatchRows = 64;
constexpr std::int64_t kBatchBytes = 256 * 1024;

// How long a stop waits for workers to reach a row boundary before it
// cancels their statements.
constexpr auto kCancelAfter = 3s;

constexpr const char* kTempTable = "pgdts_full_sync_rows";

std::string qualified(const pg::Connection& conn, const model::TableName& t) {
  return conn.identifier(t.schema) + "." + conn.identifier(t.name);
}

// The stage holds every column as text, so that copying into it runs
// nothing but text's input: typed like the table, it would run the input of
// a domain (its CHECK constraints: functions a table owner wrote), of an
// array or composite over one, with pgdts' rights. The INSERT from the
// stage casts each column to its type by qualified, quoted name: without a
// typmod (an explicit cast to varchar(2) or bit would cut values short),
// the column's typmod then applies as in an assignment, as COPY applies it.
// Run by the owner's run_as when the table runs code.
std::string staged_values(pg::Connection& conn, const model::TableName& table,
                          const std::vector<std::string>& columns) {
  std::string names = pg::text_array(columns);
  pg::Result r = conn.exec(
      "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) "
      "FROM pg_catalog.unnest($3::pg_catalog.text[]) WITH ORDINALITY AS c(name, i) "
      "JOIN pg_catalog.pg_attribute a ON a.attname = c.name AND a.attrelid = "
      "  (SELECT k.oid FROM pg_catalog.pg_class k JOIN pg_catalog.pg_namespace kn "
      "   ON kn.oid = k.relnamespace WHERE kn.nspname = $1 AND k.relname = $2) "
      "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
      "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
      "ORDER BY c.i",
      {table.schema.c_str(), table.name.c_str(), names.c_str()});
  if (r.rows() != static_cast<int>(columns.size()))
    throw Error("destination table " + model::display_name(table) +
                " lacks some of the columns full sync copies into it");
  std::string out;
  for (int i = 0; i < r.rows(); ++i)
    out += (i ? ", " : "") + conn.identifier(columns[static_cast<std::size_t>(i)]) +
           "::" + std::string(r.value(i, 0));
  return out;
}

std::string column_list(const pg::Connection& conn, const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& c : columns) {
    if (!out.empty()) out += ", ";
    out += conn.identifier(c);
  }
  return out;
}

struct TableWork {
  const CopyJob* job = nullptr;
  TableProgress* progress = nullptr;
  int chunks_total = 1;
  // Set when writing its rows runs code a source role could have written
  // and its owner is not a superuser: rows are staged, then inserted
  // through the owner's run_as function (rights/run_as.h).
  std::optional<rights::RoleFacts> owner;
  // When rows are staged (owner, or --conflict ignore): the staged text
  // columns cast to the destination's types, as the INSERT from the stage
  // selects them (staged_values).
  std::string staged_values;
};

class Run {
 public:
  Run(const FullSyncConfig& cfg, const std::vector<CopyJob>& jobs, const std::atomic<bool>& stop)
      : cfg_(cfg), jobs_(jobs), stop_(stop) {
    if (cfg_.throttle) {
      throttle_ = cfg_.throttle;
    } else {
      own_throttle_ = std::make_unique<Throttle>(cfg_.limits);
      throttle_ = own_throttle_.get();
    }
  }

  bool run();

 private:
  void prepare(pg::Connection& ctl);
  void empty_table(pg::Connection& ctl, const CopyJob& job);
  void worker();
  void learn_rights(pg::Connection& ctl, TableWork& t);
  bool copy_chunk(pg::Connection& src, pg::Connection& dest, const Chunk& chunk);
  bool copy_chunk_unnamed(pg::Connection& src, pg::Connection& dest, const Chunk& chunk);
  std::int64_t insert_as_owner(pg::Connection& dest, const TableWork& t, const std::string& table,
                               const std::string& columns);
  void fail(std::exception_ptr e);
  bool halted() const { return halt_.load(std::memory_order_relaxed); }
  void wait_for(ThrottleClock::duration d) {
    if (d > ThrottleClock::duration::zero()) sleep_unless_stopped(d, halt_);
  }
  pg::ConnectOptions options(const char* side) const {
    return {side, false, cfg_.application_name, kSessionOptions};
  }

  const FullSyncConfig& cfg_;
  const std::vector<CopyJob>& jobs_;
  const std::atomic<bool>& stop_;
  std::unique_ptr<Throttle> own_throttle_;
  Throttle* throttle_ = nullptr;

  ProgressBoard board_;
  std::vector<TableWork> tables_;
  std::vector<Chunk> queue_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> chunks_committed_{0};
  std::atomic<int> running_{0};
  std::atomic<bool> halt_{false};
  std::atomic<bool> warned_replica_{false};
  std::atomic<bool> user_stop_{false};
  // Cancels the workers' statements when a stop waits on a blocked one.
  std::mutex cancel_mutex_;
  std::vector<std::shared_ptr<pg::CancelHandle>> cancels_;
  void register_cancel(const pg::Connection& conn) {
    std::lock_guard lock(cancel_mutex_);
    cancels_.push_back(std::make_shared<pg::CancelHandle>(conn.cancel_handle()));
  }
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::string encoding_;
};

void Run::fail(std::exception_ptr e) {
  std::lock_guard lock(error_mutex_);
  if (!error_) error_ = e;
  halt_ = true;
}

// TRUNCATE, or DELETE when foreign keys refuse it; inside ctl's open
// transaction.
void Run::empty_table(pg::Connection& ctl, const CopyJob& job) {
  std::string target = qualified(ctl, job.dest);
  ctl.exec("SAVEPOINT pgdts_empty");
  try {
    ctl.exec("TRUNCATE ONLY " + target);
    ctl.exec("RELEASE SAVEPOINT pgdts_empty");
    log::Event("table_emptied_for_recopy")
        .field("table", model::display_name(job.source))
        .field("dest_table", model::display_name(job.dest))
        .field("method", "truncate")
        .info();
    return;
  } catch (const pg::SqlError& e) {
    // 0A000: referenced by a foreign key. Anything else is a real failure.
    if (e.sqlstate() != "0A000") throw;
    ctl.exec("ROLLBACK TO SAVEPOINT pgdts_empty");
  }
  // Without the replica role, DELETE would fire the foreign keys' actions
  // on the referencing tables (which full sync copies on its own).
  ctl.exec("SAVEPOINT pgdts_role");
  try {
    ctl.exec("SET LOCAL session_replication_role = replica");
  } catch (const pg::SqlError&) {
    ctl.exec("ROLLBACK TO SAVEPOINT pgdts_role");
  }
  ctl.exec("DELETE FROM ONLY " + target);
  log::Event("table_emptied_for_recopy")
      .field("table", model::display_name(job.source))
      .field("dest_table", model::display_name(job.dest))
      .field("method", "delete")
      .info();
}

std::string changed_table_message(const CopyJob& job, const std::string& what) {
  return "full sync of " + model::display_name(job.source) + ": " + what +
         ": its columns changed on the source after the task's snapshot (DDL before its copy), so "
         "it cannot be copied into the table that snapshot described; stop changing it, then run "
         "pgdts release, drop the task's destination tables and sync again (or --exclude it)";
}

// The source side of a chunk's COPY. A column the snapshot's schema named
// and the catalog no longer has (a DROP or RENAME after the snapshot) is
// the table changing, not a failure a retry mends.
pg::CopyOut read_rows(pg::Connection& src, const std::string& read_sql, const CopyJob& job) {
  try {
    return pg::CopyOut(src, read_sql);
  } catch (const pg::SqlError& e) {
    if (e.sqlstate() == "42703") throw TableChangedError(changed_table_message(job, pg::one_line(e.what())));
    throw;
  }
}

// The destination table must have every column the copy writes: a resumed
// copy reads the source at a newer snapshot, after DDL the destination has
// not seen yet.
void require_dest_columns(pg::Connection& ctl, const CopyJob& job) {
  std::string columns = pg::text_array(job.dest_columns);
  pg::Result r = ctl.exec(
      "SELECT pg_catalog.string_agg(c, ', ') FROM pg_catalog.unnest($3::text[]) c"
      " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
      "   JOIN pg_catalog.pg_class t ON t.oid = a.attrelid"
      "   JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
      "   WHERE n.nspname = $1 AND t.relname = $2 AND a.attname = c AND a.attnum > 0"
      "     AND NOT a.attisdropped)",
      {job.dest.schema.c_str(), job.dest.name.c_str(), columns.c_str()});
  if (r.is_null(0, 0)) return;
  throw TableChangedError(changed_table_message(
      job, "the source has columns " + std::string(r.value(0, 0)) + " that " +
               model::display_name(job.dest) + " on the destination lacks"));
}

// Reads pgdts.table_sync, skips copied tables, empties half-copied ones and
// resets their rows, plans the chunks.
// The destination tables whose owner is a superuser: whatever their writes
// run, it runs with a superuser's rights anyway, so their code is not
// looked at (one query for all, instead of one per table).
std::set<model::TableName> owned_by_superusers(pg::Connection& ctl,
                                              const std::vector<const CopyJob*>& jobs) {
  std::vector<std::string> schemas, names;
  for (const CopyJob* job : jobs) {
    schemas.push_back(job->dest.schema);
    names.push_back(job->dest.name);
  }
  std::string schema_array = pg::text_array(schemas), name_array = pg::text_array(names);
  pg::Result r = ctl.exec(
      "SELECT x.s, x.t FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) x(s, t)"
      " JOIN pg_catalog.pg_namespace n ON n.nspname = x.s"
      " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = x.t"
      " JOIN pg_catalog.pg_roles o ON o.oid = c.relowner WHERE o.rolsuper",
      {schema_array.c_str(), name_array.c_str()});
  std::set<model::TableName> out;
  for (int i = 0; i < r.rows(); ++i) out.insert({std::string(r.value(i, 0)), std::string(r.value(i, 1))});
  return out;
}

void Run::prepare(pg::Connection& ctl) {
  store::ensure_table_sync(ctl);
  std::map<model::TableName, store::TableSyncRow> known;
  for (store::TableSyncRow& row : store::load_table_sync(ctl, cfg_.task)) known.emplace(row.source, std::move(row));

  std::vector<const CopyJob*> todo;
  std::vector<PlanInput> inputs;
  for (const CopyJob& job : jobs_) {
    if (job.source_columns.size() != job.dest_columns.size() || job.source_columns.empty())
      throw Error("full sync of " + model::display_name(job.source) +
                  ": source and destination column lists differ in length or are empty");
    auto it = known.find(job.source);
    if (it != known.end() && it->second.state == "copied") {
      TableProgress& p = board_.add(model::display_name(job.source), it->second.rows_copied,
                                    it->second.bytes_copied, it->second.chunks_total);
      board_.finish(p, TableState::skipped);
      log::Event("table_skipped_already_copied")
          .field("task", cfg_.task)
          .field("table", model::display_name(job.source))
          .field("rows", it->second.rows_copied)
          .field("bytes", it->second.bytes_copied)
          .field("sync_lsn", it->second.sync_lsn ? pg::format_lsn(*it->second.sync_lsn) : "")
          .info();
      continue;
    }
    require_dest_columns(ctl, job);
    todo.push_back(&job);
    PlanInput in;
    in.pages = job.pages;
    in.bytes = job.bytes_estimate > 0 ? job.bytes_estimate : job.pages * 8192;
    in.whole = cfg_.keep_existing_rows;
    inputs.push_back(in);
  }

  PlanOptions opts;
  opts.jobs = cfg_.jobs;
  opts.min_chunk_bytes = cfg_.min_chunk_bytes;
  opts.max_chunk_bytes = cfg_.max_chunk_bytes;
  std::vector<Chunk> planned = plan_chunks(inputs, opts);

  tables_.resize(todo.size());
  for (const Chunk& c : planned) tables_[c.table].chunks_total = c.count;
  std::set<model::TableName> superuser_owned = owned_by_superusers(ctl, todo);
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const CopyJob& job = *todo[i];
    TableWork& t = tables_[i];
    t.job = &job;
    t.progress = &board_.add(model::display_name(job.source), job.rows_estimate,
                             job.bytes_estimate, t.chunks_total);
    if (!superuser_owned.count(job.dest)) learn_rights(ctl, t);
    if (t.owner || cfg_.keep_existing_rows)
      t.staged_values = staged_values(ctl, job.dest, job.dest_columns);

    auto it = known.find(job.source);
    bool partly = it != known.end() && it->second.chunks_done > 0;
    pg::Transaction txn(ctl);
    if (cfg_.empty_first || (partly && !cfg_.keep_existing_rows)) {
      empty_table(ctl, job);
    } else if (partly) {
      // Only if an earlier run copied this table without --conflict
      // ignore: its committed rows stay, and clash with nothing new.
      log::Event("table_partly_copied_kept")
          .field("table", model::display_name(job.source))
          .field("chunks_done", it->second.chunks_done)
          .warn();
    }
    store::plan_table_copy(ctl, cfg_.task, job.source, job.dest, job.rows_estimate,
                           job.bytes_estimate, t.chunks_total);
    txn.commit();
  }
  queue_ = std::move(planned);
}

// Whose rights the table's rows are written with (docs/security.md): the
// worker's own when nothing a source role wrote runs, or the owner is a
// superuser anyway; else the owner's.
void Run::learn_rights(pg::Connection& ctl, TableWork& t) {
  const CopyJob& job = *t.job;
  // Whether the workers will run in replica mode is learnt only as they
  // connect: ordinary triggers are counted as if they fire.
  rights::TableRights r =
      rights::read_table_rights(ctl, job.dest.schema, job.dest.name, job.dest_columns, false);
  if (!r.runs_code() || r.owner_superuser) return;
  t.owner = rights::read_role(ctl, r.owner);
  rights::provide_run_as(ctl, *t.owner);
  log::Event("table_runs_code")
      .field("table", model::display_name(job.dest))
      .field("owner", r.owner)
      .field("code", r.code)
      .field("effect", "full sync stages its rows and inserts them through pgdts.run_as_<owner>")
      .info();
}

// The staged rows into the table, with the owner's rights; returns how many
// were inserted.
std::int64_t Run::insert_as_owner(pg::Connection& dest, const TableWork& t, const std::string& table,
                                  const std::string& columns) {
  const rights::RoleFacts& owner = *t.owner;
  std::string sql = "INSERT INTO " + table + " (" + columns + ") SELECT " + t.staged_values +
                    " FROM pg_temp." + kTempTable;
  if (cfg_.keep_existing_rows) sql += " ON CONFLICT DO NOTHING";
  dest.exec(std::string("GRANT SELECT ON pg_temp.") + kTempTable + " TO " +
            dest.identifier(owner.name));
  std::string settings = rights::session_settings(dest);
  pg::Result r = dest.exec(rights::run_as_call(owner),
                           {sql.c_str(), nullptr, nullptr, settings.c_str(), owner.name.c_str()});
  return r.rows() ? pg::to_int64(r.value(0, 0)) : 0;
}

void Run::worker() {
  try {
    pg::Connection src = pg::Connection::open(cfg_.source, options("source"));
    register_cancel(src);
    src.exec("SET client_encoding = " + src.literal(encoding_));
    wait_for(throttle_->take_query());
    pg::Transaction snapshot(src, pg::kBeginSnapshot);
    try {
      src.exec("SET TRANSACTION SNAPSHOT " + src.literal(cfg_.snapshot));
    } catch (const pg::SqlError& e) {
      throw Error("source: could not import snapshot " + cfg_.snapshot + " (" + e.what() +
                  "); the connection that exported it must stay open until every full sync "
                  "worker has started");
    }
    pg::Connection dest = pg::Connection::open(cfg_.target, options("destination"));
    register_cancel(dest);
    dest.exec("SET client_encoding = " + dest.literal(encoding_));
    try {
      dest.exec("SET session_replication_role = replica");
    } catch (const pg::SqlError& e) {
      if (!warned_replica_.exchange(true))
        log::Event("replica_role_unavailable")
            .field("side", "destination")
            .field("reason", e.what())
            .field("effect", "triggers and foreign keys fire while full sync copies")
            .warn();
    }
    while (!halted()) {
      std::size_t i = next_.fetch_add(1);
      if (i >= queue_.size()) break;
      if (!copy_chunk(src, dest, queue_[i])) break;
    }
    if (!halted()) snapshot.commit();
  } catch (...) {
    // After a stop request, an error is the stop's doing (a cancelled
    // statement) or no longer matters: the run ends either way.
    if (!user_stop_) fail(std::current_exception());
  }
  --running_;
}

// Copies one chunk in one destination transaction; false when halted.
// Errors name the table and range, and keep their type.
bool Run::copy_chunk(pg::Connection& src, pg::Connection& dest, const Chunk& chunk) {
  auto context = [&] {
    const CopyJob& job = *tables_[chunk.table].job;
    std::string c = "full sync of " + model::display_name(job.source);
    if (!chunk.whole())
      c += " (range " + std::to_string(chunk.index + 1) + "/" + std::to_string(chunk.count) + ")";
    if (job.dest != job.source) c += " into " + model::display_name(job.dest);
    return c + ": ";
  };
  try {
    return copy_chunk_unnamed(src, dest, chunk);
  } catch (const TableChangedError&) {
    throw;
  } catch (const pg::ConnectionError& e) {
    throw pg::ConnectionError(context() + e.what());
  } catch (const pg::SqlError& e) {
    throw pg::SqlError(context() + e.what(), e.sqlstate());
  } catch (const Error& e) {
    throw Error(context() + e.what());
  }
}

bool Run::copy_chunk_unnamed(pg::Connection& src, pg::Connection& dest, const Chunk& chunk) {
  TableWork& t = tables_[chunk.table];
  const CopyJob& job = *t.job;
  if (board_.start(*t.progress)) {
    store::mark_copying(dest, cfg_.task, job.source);  // for pgdts status
  }

  std::string source_table = qualified(src, job.source);
  std::string source_columns = column_list(src, job.source_columns);
  bool transformed = std::any_of(job.source_expressions.begin(), job.source_expressions.end(),
                                 [](const std::string& e) { return !e.empty(); });
  std::string select_list = source_columns;
  if (transformed) {
    select_list.clear();
    for (std::size_t i = 0; i < job.source_columns.size(); ++i) {
      std::string column = src.identifier(job.source_columns[i]);
      const std::string& expression = job.source_expressions[i];
      select_list += (i ? ", " : "") + (expression.empty() ? column : expression + " AS " + column);
    }
  }
  std::string read_sql;
  if (chunk.whole() && job.row_filter.empty() && !transformed) {
    read_sql = "COPY " + source_table + " (" + source_columns + ") TO STDOUT";
  } else {
    std::string where = chunk.whole() ? job.row_filter
                        : job.row_filter.empty()
                            ? ctid_condition(chunk)
                            : ctid_condition(chunk) + " AND " + job.row_filter;
    read_sql = "COPY (SELECT " + select_list + " FROM ONLY " + source_table +
               (where.empty() ? "" : " WHERE " + where) + ") TO STDOUT";
  }
  std::string dest_table = qualified(dest, job.dest);
  std::string dest_columns = column_list(dest, job.dest_columns);

  pg::Transaction txn(dest);
  std::string into = dest_table;
  if (cfg_.keep_existing_rows || t.owner) {
    std::string text_columns;
    for (const std::string& c : job.dest_columns)
      text_columns += (text_columns.empty() ? "" : ", ") + dest.identifier(c) + " pg_catalog.text";
    dest.exec(std::string("CREATE TEMP TABLE ") + kTempTable + " (" + text_columns +
              ") ON COMMIT DROP");
    into = kTempTable;
  }
  std::int64_t rows = 0, bytes = 0;
  {
    pg::CopyIn in(dest, "COPY " + into + " (" + dest_columns + ") FROM STDIN");
    wait_for(throttle_->take_query());
    if (halted()) {
      in.abandon("pgdts full sync stopped");
      txn.rollback();
      return false;
    }
    pg::CopyOut out = read_rows(src, read_sql, job);
    std::string_view row;
    std::int64_t batch_rows = 0, batch_bytes = 0;
    auto account = [&] {
      t.progress->rows.fetch_add(batch_rows, std::memory_order_relaxed);
      t.progress->bytes.fetch_add(batch_bytes, std::memory_order_relaxed);
      if (throttle_->limits_rows_or_bytes()) wait_for(throttle_->take_rows(batch_rows, batch_bytes));
      batch_rows = batch_bytes = 0;
    };
    while (out.next(row)) {
      in.put(row);
      ++rows;
      bytes += static_cast<std::int64_t>(row.size());
      ++batch_rows;
      batch_bytes += static_cast<std::int64_t>(row.size());
      if (batch_rows >= kBatchRows || batch_bytes >= kBatchBytes) {
        account();
        if (halted()) {
          // The source COPY is cancelled, which ends this worker's snapshot
          // transaction: the worker stops here.
          out.abandon();
          in.abandon("pgdts full sync stopped");
          t.progress->rows.fetch_sub(rows, std::memory_order_relaxed);
          t.progress->bytes.fetch_sub(bytes, std::memory_order_relaxed);
          txn.rollback();
          return false;
        }
      }
    }
    account();
    in.finish();
  }

  std::int64_t inserted = rows;
  if (t.owner) {
    inserted = insert_as_owner(dest, t, dest_table, dest_columns);
  } else if (cfg_.keep_existing_rows) {
    pg::Result r = dest.exec("WITH ins AS (INSERT INTO " + dest_table + " (" + dest_columns +
                             ") SELECT " + t.staged_values + " FROM pg_temp." + kTempTable +
                             " ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins");
    inserted = std::stoll(std::string(r.value(0, 0)));
  }

  store::ChunkRecorded recorded =
      store::record_chunk(dest, cfg_.task, job.source, rows, bytes, cfg_.snapshot_lsn);
  bool copied = recorded.copied;
  const std::string& total_rows = recorded.rows_copied;
  const std::string& total_bytes = recorded.bytes_copied;
  const std::string& seconds = recorded.seconds;
  txn.commit();
  chunks_committed_.fetch_add(1);
  t.progress->chunks_done.fetch_add(1);

  if (!chunk.whole())
    log::Event("chunk_copied")
        .field("table", model::display_name(job.source))
        .field("chunk", std::to_string(chunk.index + 1) + "/" + std::to_string(chunk.count))
        .field("rows", rows)
        .field("bytes", bytes)
        .debug();
  if (copied) {
    board_.finish(*t.progress, TableState::copied);
    log::Event event("table_copied");
    event.field("task", cfg_.task)
        .field("table", model::display_name(job.source))
        .field("dest_table", model::display_name(job.dest))
        .field("rows", total_rows)
        .field("bytes", total_bytes)
        .field("chunks", chunk.count)
        .field("seconds", seconds.substr(0, seconds.find('.') == std::string::npos
                                                ? seconds.size()
                                                : seconds.find('.') + 3))
        .field("sync_lsn", pg::format_lsn(cfg_.snapshot_lsn));
    if (cfg_.keep_existing_rows)
      event.field("inserted", inserted).field("kept_existing", rows - inserted);
    event.info();
  }
  return true;
}

bool Run::run() {
  auto started = Clock::now();
  {
    pg::Connection ctl = pg::Connection::open(cfg_.target, options("destination"));
    prepare(ctl);
  }
  {
    // The source's encoding is the one both sides speak: COPY data passes
    // through unconverted.
    pg::Connection probe = pg::Connection::open(cfg_.source, options("source"));
    encoding_ = std::string(probe.exec("SHOW server_encoding").value(0, 0));
  }
  int workers = static_cast<int>(std::min<std::size_t>(std::max(cfg_.jobs, 1), queue_.size()));
  log::Event("full_sync_started")
      .field("task", cfg_.task)
      .field("tables", static_cast<std::int64_t>(jobs_.size()))
      .field("tables_to_copy", static_cast<std::int64_t>(tables_.size()))
      .field("chunks", static_cast<std::int64_t>(queue_.size()))
      .field("jobs", workers)
      .field("snapshot", cfg_.snapshot)
      .field("snapshot_lsn", pg::format_lsn(cfg_.snapshot_lsn))
      .info();

  std::unique_ptr<ProgressObserver> display;
  if (cfg_.display) display = default_progress_observer();
  auto tick = [&](bool final) {
    BoardSnapshot snap = board_.snapshot();
    if (display) display->tick(snap, final);
    if (cfg_.observer) cfg_.observer->tick(snap, final);
  };

  std::vector<std::thread> threads;
  if (stop_.load()) {
    user_stop_ = true;
    halt_ = true;
  }
  running_ = workers;
  for (int i = 0; i < workers; ++i) threads.emplace_back([this] { worker(); });
  auto last_tick = Clock::now();
  std::optional<Clock::time_point> stop_seen;
  bool cancelled = false;
  while (running_.load() > 0) {
    std::this_thread::sleep_for(100ms);
    if (stop_.load() && !stop_seen) {
      stop_seen = Clock::now();
      user_stop_ = true;
      halt_ = true;
    }
    if (stop_seen && !cancelled && Clock::now() - *stop_seen > kCancelAfter) {
      // A worker is blocked in a statement (e.g. waiting for a lock on
      // either side): cancel what they all run.
      cancelled = true;
      log::Event("full_sync_cancelling").field("reason", "stop requested, a worker is blocked").info();
      std::lock_guard lock(cancel_mutex_);
      for (const auto& c : cancels_) c->cancel();
    }
    if (Clock::now() - last_tick >= 1s) {
      last_tick = Clock::now();
      tick(false);
    }
  }
  for (auto& th : threads) th.join();
  tick(true);
  if (error_) std::rethrow_exception(error_);

  BoardSnapshot snap = board_.snapshot();
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  bool done = chunks_committed_.load() == queue_.size();
  log::Event(done ? "full_sync_finished" : "full_sync_stopped")
      .field("task", cfg_.task)
      .field("tables_done", snap.tables_done)
      .field("tables_total", snap.tables_total)
      .field("rows", snap.rows)
      .field("bytes", snap.bytes)
      .field("seconds", static_cast<std::int64_t>(seconds))
      .info();
  return done;
}

}  // namespace

bool run_full_sync(const FullSyncConfig& config, const std::vector<CopyJob>& jobs,
                   const std::atomic<bool>& stop) {
  FullSyncConfig cfg = config;
  // Tests split small tables into ranges through the real CLI with this.
  if (const char* kb = std::getenv("PGDTS_FULL_SYNC_MIN_CHUNK_KB")) {
    std::int64_t v = std::atoll(kb);
    if (v > 0) cfg.min_chunk_bytes = v * 1024;
  }
  Run run(cfg, jobs, stop);
  return run.run();
}

}  // namespace pgdts::fullsync
