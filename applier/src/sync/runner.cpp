// The run of a task (see runner.h).
#include "sync/runner.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "apply/origin.h"
#include "sync/initial_sync.h"
#include "sync/live_settings.h"
#include "sync/resync.h"
#include "apply/session.h"
#include "error.h"
#include "fullsync/full_sync.h"
#include "logging/log.h"
#include "secrets/redact.h"
#include "metrics/task_monitor.h"
#include "pg/connection.h"
#include "pg/pipeline.h"
#include "pg/replication_stream.h"
#include "model/etl_plugin_options.h"
#include "stream/format_version.h"
#include "task/deferred_fks.h"
#include "task/source_checks.h"
#include "task/precheck.h"
#include "task/task_slot.h"
#include "store/task_store.h"

namespace pgdts::sync {
namespace {

using model::Options;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kBackoffFirst = 1s;
constexpr auto kBackoffMax = 30s;
// A session that streamed this many (retry) minutes before its connection
// failed was healthy: the failure starts a new --retry-connection window.
// (An idle source still makes durable progress through the heartbeats; this
// covers a source whose heartbeats cannot be written.)
constexpr int kHealthySessionMinutes = 5;

// The length of one minute of the retry windows: 60 s, or what the
// test-only variable PGDTS_TEST_RETRY_MINUTE_SECONDS says (the integration
// tests cannot wait 10 minutes for a window to end).
std::chrono::seconds retry_minute() {
  if (const char* env = std::getenv("PGDTS_TEST_RETRY_MINUTE_SECONDS")) {
    int v = 0;
    auto [p, ec] = std::from_chars(env, env + std::strlen(env), v);
    if (ec == std::errc() && *p == '\0' && v > 0) return std::chrono::seconds(v);
  }
  return 60s;
}

// One failure window: starts at the first failure after the last success,
// and is used up once failures have gone on for its length. Only durable
// progress (or a long healthy session, for connections) is a success: a
// loop that connects and then fails again never resets it.
class RetryWindow {
 public:
  RetryWindow(const char* option, int minutes)
      : option_(option), minutes_(minutes), length_(minutes * retry_minute()) {}
  void success() { failing_ = false; }
  // Records a failure; false when the window is used up.
  bool failure() {
    auto now = Clock::now();
    if (!failing_) {
      failing_ = true;
      since_ = now;
    }
    return now - since_ < length_;
  }
  // How long until the window ends (a retry sleeps no longer: the last
  // attempt is made as the window ends, not a backoff later).
  std::chrono::seconds remaining() const {
    auto left = std::chrono::ceil<std::chrono::seconds>(since_ + length_ - Clock::now());
    return std::max<std::chrono::seconds>(left, 0s);
  }
  std::string describe() const {
    return "retried for " + std::to_string(minutes_) +
           (minutes_ == 1 ? " minute (" : " minutes (") + option_ + ")";
  }
  // "--retry-other, 10 min": the window a failure is being retried in.
  std::string limit() const { return std::string(option_) + ", " + std::to_string(minutes_) + " min"; }

 private:
  const char* option_;
  int minutes_;
  Clock::duration length_;
  bool failing_ = false;
  Clock::time_point since_{};
};

// Sleeps, waking early on a stop request; true when stopped.
bool sleep_or_stop(std::chrono::seconds duration, const std::atomic<bool>& stop) {
  auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    if (stop) return true;
    std::this_thread::sleep_for(100ms);
  }
  return stop;
}

// The plugin refused a change by one of the task's ETL rules (a DDL dropped
// or retyped a column the rule uses; its error context names the rule):
// every retry would fail alike until the rule is changed.
bool rule_broken(const std::string& message) {
  return message.find("pgdts row filter \"") != std::string::npos ||
         message.find("pgdts column expression \"") != std::string::npos;
}

std::string describe_failure(const Error& e) {
  if (auto* p = dynamic_cast<const pg::PipelineError*>(&e)) {
    std::string where = p->lsn() ? " at source LSN " + pg::format_lsn(p->lsn()) : "";
    return "destination rejected " + p->what_failed() + where + ": " + p->what();
  }
  return e.what();
}

void log_failure(const Error& e, const char* kind, std::chrono::seconds retry_in) {
  log::Event event("apply_failed");
  event.field("kind", kind).field("error", describe_failure(e));
  if (auto* p = dynamic_cast<const pg::PipelineError*>(&e)) {
    // A DDL's text may carry a secret (USER MAPPING ... OPTIONS (password ...)).
    event.field("change", p->what_failed()).field("statement", secrets::redact(p->statement()));
    if (p->lsn()) event.field("lsn", pg::format_lsn(p->lsn()));
    event.field("sqlstate", p->sqlstate());
  }
  event.field("retry_in", std::to_string(retry_in.count()) + "s").warn();
}

// SQLSTATE class 53, insufficient resources: disk full (53100), out of
// memory (53200), too many connections (53300).
bool short_of_resources(const Error& e) {
  auto* sql = dynamic_cast<const pg::SqlError*>(&e);
  return sql && sql->sqlstate().rfind("53", 0) == 0;
}

// Best effort: the reason the task stopped, or is being retried, for pgdts
// status and the DBA; nullopt clears it.
void store_last_error(const Options& o, const std::optional<std::string>& message) {
  try {
    pg::Connection dest = pg::Connection::open(
        o.target, {"destination", false, store::application_name(o.task), ""});
    if (message)
      store::TaskStore(dest).set_last_error(o.task, *message);
    else
      store::TaskStore(dest).clear_last_error(o.task);
  } catch (const std::exception&) {
    // unreachable destination: the error line says it all
  }
}

// The task's slot is gone or replaced: retrying cannot bring it back. The
// reason goes to the alert, to pgdts status and to stderr.
Outcome slot_lost(const Options& o, metrics::TaskMonitor& monitor, const task::SlotLostError& e) {
  monitor.failure_final("other", e.what());
  store_last_error(o, e.what());
  return {1, e.what()};
}

std::string first_phase(const Options& o) {
  if (o.has_phase("schema")) return "schema";
  if (o.has_phase("full")) return "full";
  return "incremental";
}

// The task is being run by another process: never retried.
class TaskTakenError : public Error {
 public:
  using Error::Error;
};

// One pgdts process per task: a session-level advisory lock on the
// destination, held while `connection` lives by the destination session
// that `pid` and `backend_start` name (a pid alone may be reused).
struct TaskLock {
  pg::Connection connection;
  std::string pid;
  std::string backend_start;
};

TaskLock lock_task(const Options& o) {
  TaskLock lock{pg::Connection::open(o.target, {"destination", false, store::application_name(o.task), ""}),
                "", ""};
  std::string key = "pgdts task " + o.task;
  pg::Result r = lock.connection.exec(
      "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended($1, 0)), a.pid, "
      "a.backend_start FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()",
      {key.c_str()});
  if (r.value(0, 0) != "t")
    throw TaskTakenError("task \"" + o.task + "\" is being run by another pgdts process; stop it first");
  lock.pid = r.value(0, 1);
  lock.backend_start = r.value(0, 2);
  return lock;
}

// A network cut leaves the destination session of a lost lock connection
// alive (it never hears that its client went away), holding the task's
// lock until the server's keepalives end it. That session is this
// process's own: ends it, so that the lock can be taken again at once.
// False when it is still there (not ours to end: the role may not signal
// it), and then the server's keepalives end it within a minute.
bool end_lost_session(const Options& o, const TaskLock& lost) {
  pg::Connection dest =
      pg::Connection::open(o.target, {"destination", false, store::application_name(o.task), ""});
  const std::string where =
      " FROM pg_catalog.pg_stat_activity WHERE pid = $1::int AND backend_start = $2::timestamptz";
  try {
    if (dest.exec("SELECT pg_catalog.pg_terminate_backend(pid)" + where,
                  {lost.pid.c_str(), lost.backend_start.c_str()})
            .rows() == 0)
      return true;  // gone already
  } catch (const pg::SqlError& e) {
    log::Event("lost_session_not_ended").field("pid", lost.pid).field("error", e.what()).warn();
    return false;
  }
  log::Event("lost_session_ended").field("task", o.task).field("pid", lost.pid).info();
  for (int i = 0; i < 50; ++i) {  // it ends at its next interrupt check: at once when idle
    if (dest.exec("SELECT 1" + where, {lost.pid.c_str(), lost.backend_start.c_str()}).rows() == 0)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Before a retry: a destination that restarted or dropped the connection
// released the task's lock with it, and another process may have started
// the task meanwhile. Takes the lock again (a ConnectionError while the
// destination is still away is retried like any other).
void keep_task_lock(const Options& o, TaskLock& lock) {
  try {
    lock.connection.exec("SELECT 1");
    return;
  } catch (const pg::ConnectionError&) {
  }
  lock.connection.close();
  if (!end_lost_session(o, lock))
    throw pg::ConnectionError("destination: the task's lock is still held by session " + lock.pid +
                              ", this process's own before its connection was lost; waiting "
                              "for the server to end it");
  lock = lock_task(o);
  log::Event("task_lock_taken_again").field("task", o.task).info();
}

// Everything that must hold before the first session; no retries here. The
// connections it opened are handed to the first session when the task is
// streaming already.
apply::SessionConfig start_task(const Options& o, apply::OpenConnections& open,
                                const std::vector<model::TableName>& task_tables,
                                std::optional<model::Selection>& selected_before) {
  apply::SessionConfig cfg;
  cfg.source = o.source;
  cfg.target = o.target;
  cfg.task = o.task;
  cfg.slot = store::slot_name(o.task);
  cfg.origin = store::origin_name(o.task);
  cfg.application_name = store::application_name(o.task);
  cfg.may_create_slot = true;
  cfg.rights.keep_owners = !o.no_owner;
  cfg.rights.owner_role = o.owner_role;
  cfg.overwrite_existing_rows = o.conflict_ignore;
  cfg.forward_origins = o.forward_origins;

  pg::Connection source = pg::Connection::open(o.source, {"source", false, cfg.application_name, ""});
  task::SourceFacts facts = task::check_source(source);
  if (o.forward_origins) task::capture_replicated_ddl(source);
  task::keep_replica_identity_full(source, o.task, o.selection, model::ruled_tables(o.filters, o.transforms),
                                   o.replica_identity_full && o.has_phase("incremental"));
  source.close();
  log::Event("source_checked").field("database", facts.database).debug();

  pg::ReplicationStream replication(
      pg::Connection::open(o.source, {"source", true, cfg.application_name, "-c timezone=UTC"}));
  pg::SystemIdentity id = replication.identify_system();
  cfg.source_system_id = id.system_id;

  pg::Connection dest = pg::Connection::open(o.target, {"destination", false, cfg.application_name, ""});
  store::TaskPhase where = store::TaskStore(dest).register_task(
      o.task, first_phase(o), cfg.slot,
      {id.system_id, id.dbname.empty() ? facts.database : id.dbname});
  if (where.phase == "copied" && o.has_phase("incremental"))
    throw Error("task \"" + o.task + "\" was copied without its incremental phase, so changes "
                "made since were not kept; run pgdts release --task " + o.task +
                " and sync again with --phases incremental among its phases");
  // What the task selected until now (its stored object options, before
  // this run stores its own): a table the selection adds is copied before
  // the stream goes on (sync/initial_sync.h).
  if (where.phase == "incremental")
    selected_before = model::Selection::from_args(store::TaskStore(dest).stored_task_options(o.task));
  if (!task_tables.empty()) store::TaskStore(dest).claim_tables(o.task, task_tables);
  if (apply::create_origin_if_missing(dest, cfg.origin))
    log::Event("origin_created").field("origin", cfg.origin).info();
  // The task's slot, before anything is copied or streamed: a task that
  // depends on it stops here when it is lost (task/task_slot.h), and
  // --resync recovers it (sync/resync.h).
  std::optional<pg::SlotInfo> slot = replication.find_slot(cfg.slot);
  std::string dbname = replication.connection().parameter_status("database");
  pg::Lsn applied = apply::read_origin_progress(dest, cfg.origin);
  if (o.resync) {
    start_resync(o, dest, where, applied, slot, dbname);
    where = store::TaskStore(dest).where(o.task);
  } else if (o.has_phase("incremental")) {
    task::require_slot(o.task, where, applied, slot, dbname);
  }
  if (where.phase == "incremental") {
    open.source.emplace(std::move(replication));
    open.destination.emplace(std::move(dest));
  }
  return cfg;
}

// The prechecks of task/precheck.h: every warning and failure is logged
// as a `precheck` event; returns "" when nothing failed, otherwise the one
// line that says which checks failed and how to fix them. task_tables
// receives the destination tables the task feeds.
std::string precheck_before_sync(const Options& o, std::vector<model::TableName>& task_tables) {
  task::PrecheckInput input = task::precheck_input(o);
  input.task_tables_out = &task_tables;
  std::vector<task::Check> checks = task::run_prechecks(input);
  std::string failed;
  for (const auto& c : checks) {
    if (c.status == task::Check::pass) continue;
    log::Event event("precheck");
    event.field("check", c.name).field("status", task::status_name(c.status)).field("message", c.message);
    if (!c.fix.empty()) event.field("fix", c.fix);
    if (c.status == task::Check::warn) {
      event.warn();
      continue;
    }
    event.error();
    failed += (failed.empty() ? "" : "; ") + c.name + ": " + c.message +
              (c.fix.empty() ? "" : " (fix: " + c.fix + ")");
  }
  if (failed.empty()) return "";
  return "precheck failed, not starting: " + failed;
}

// Metrics and alerts of the run (metrics/task_monitor.h).
metrics::ThrottleLimits throttle_limits(const Options& o) {
  return {o.full_qps, o.full_rps, o.full_mbps, o.incr_rps, o.incr_mbps};
}

metrics::MonitorConfig monitor_config(const Options& o) {
  metrics::MonitorConfig m;
  m.task = o.task;
  m.port = o.metrics_port;
  m.alert_command = o.alert_command;
  m.alert_latency = o.alert_latency_seconds;
  m.alert_hold = metrics::latency_hold();
  m.source = o.source;
  m.slot = store::slot_name(o.task);
  m.application_name = store::application_name(o.task);
  m.limits = throttle_limits(o);
  return m;
}

// Where a run is. Failures are retried only while copying or streaming: a
// failure while starting, or between the copy and the first session, is a
// setup error that no retry mends.
enum class Stage {
  starting,   // checks, the task's lock and slot; nothing copied yet
  copying,    // the initial phases run (schema created, rows being copied)
  copied,     // the initial phases are done; the stream has not started
  streaming,  // a session streamed at least once (stays so across retries)
};

class Runner {
 public:
  Runner(const Options& o, const Signals& signals, RereadThrottles reread)
      : o_(o), signals_(signals), reread_(std::move(reread)),
        connection_window_("--retry-connection", o.retry_connection_minutes),
        other_window_("--retry-other", o.retry_other_minutes) {}

  Outcome run();

 private:
  std::optional<Outcome> start();
  void install_hooks();
  // One attempt: what is left of the initial phases, then a session until
  // a stop request. Throws what the caller may retry.
  Outcome attempt(LiveSettings& live, task::ForeignKeyValidator& fk_validator);
  void summary(const char* event) const;
  bool retryable() const { return stage_ == Stage::copying || stage_ == Stage::streaming; }
  bool healthy_session_ended();
  // A change refused by a broken ETL rule: not retried (rule_broken).
  Outcome stopped_by_rule(const std::string& error);
  // After a retryable failure within its window: waits the backoff; the
  // outcome when a stop came meanwhile.
  std::optional<Outcome> retry_after(const std::string& failure, RetryWindow& window,
                                     const char* kind);
  // The session met a change that must wait for the added tables' copy
  // (apply::TableCopyingError): waits for it. False when a stop ended it.
  bool wait_for_added_tables(const std::string& why);
  // The added tables' copy failed: forgotten here, and the next attempt
  // prepares it again (it resumes from pgdts.table_sync).
  [[noreturn]] void added_tables_failed();
  void check_added_tables();

  const Options& o_;
  Signals signals_;
  RereadThrottles reread_;
  // First: a metrics port in use fails the run before anything starts.
  // Declared before everything else, so destroyed last: a task_failed
  // alert is delivered before the process exits.
  std::optional<metrics::TaskMonitor> monitor_;
  apply::SessionConfig cfg_;
  apply::OpenConnections open_;
  TaskLock task_lock_;
  Stage stage_ = Stage::starting;
  RetryWindow connection_window_, other_window_;
  std::chrono::seconds backoff_ = kBackoffFirst;
  apply::SessionTotals totals_;
  apply::SessionHooks hooks_;
  std::optional<Clock::time_point> streaming_since_;  // of the current session
  std::optional<model::Selection> selected_before_;  // as of the task's last start
  // The copy of tables a wider selection added, beside the stream; while it
  // runs, and after it failed (copy_again_), attempts start with it.
  std::shared_ptr<AddedTablesCopy> adding_;
  bool copy_again_ = false;
  bool retry_error_stored_ = false;  // pgdts.task.last_error holds a retried failure
};

std::optional<Outcome> Runner::start() {
  try {
    monitor_.emplace(monitor_config(o_));
  } catch (const UsageError& e) {
    return Outcome{2, e.what()};
  }
  std::string phases;
  for (const auto& p : o_.phases) phases += (phases.empty() ? "" : ",") + p;
  log::Event("sync_starting")
      .field("task", o_.task)
      .field("phases", phases)
      .field("source", o_.source.masked())
      .field("target", o_.target.masked())
      .info();
  try {
    std::vector<model::TableName> task_tables;
    std::string refused = precheck_before_sync(o_, task_tables);
    if (!refused.empty()) return Outcome{1, refused};
    task_lock_ = lock_task(o_);
    cfg_ = start_task(o_, open_, task_tables, selected_before_);
  } catch (const UsageError& e) {
    return Outcome{2, e.what()};
  } catch (const task::SlotLostError& e) {
    return slot_lost(o_, *monitor_, e);
  } catch (const std::exception& e) {
    return Outcome{1, e.what()};
  }
  monitor_->set_phase(first_phase(o_));  // the task runs: metrics and the WAL probe start
  cfg_.scope.selection = o_.selection;
  cfg_.scope.names = o_.names;
  cfg_.etl_options = model::plugin_options(o_.filters, o_.transforms);
  return std::nullopt;
}

void Runner::install_hooks() {
  hooks_.streaming = [this] {
    stage_ = Stage::streaming;
    cfg_.may_create_slot = false;  // a slot that vanishes later is an error
    streaming_since_ = Clock::now();
  };
  hooks_.progressed = [this] {
    check_added_tables();  // a copy beside the stream that failed is retried
    if (retry_error_stored_) {  // over: status no longer shows it
      store_last_error(o_, std::nullopt);
      retry_error_stored_ = false;
    }
    // The destination's origin moved: whatever failed before is over.
    connection_window_.success();
    other_window_.success();
    backoff_ = kBackoffFirst;
    monitor_->progressed();
  };
  hooks_.metrics = &monitor_->metrics();
}

bool Runner::healthy_session_ended() {
  bool healthy = streaming_since_ &&
                 Clock::now() - *streaming_since_ >= kHealthySessionMinutes * retry_minute();
  streaming_since_.reset();
  return healthy;
}

void Runner::summary(const char* event) const {
  log::Event(event)
      .field("task", o_.task)
      .field("applied_changes", totals_.counters.changes)
      .field("applied_transactions", totals_.counters.transactions)
      .field("skipped_changes", totals_.counters.skipped)
      .field("merged_updates", totals_.counters.merged)
      .field("batched_inserts", totals_.counters.batched)
      .field("rows_in_sets", totals_.counters.in_sets)
      .field("resent_transactions_skipped", totals_.counters.replayed)
      .field("outside_task_changes", totals_.counters.outside_task)
      .field("already_copied_changes", totals_.counters.in_copy)
      .field("repaired_rows", totals_.counters.repaired)
      .field("confirmed_lsn", pg::format_lsn(totals_.confirmed))
      .info();
}

bool Runner::wait_for_added_tables(const std::string& why) {
  log::Event("stream_waits_for_added_tables").field("task", o_.task).field("reason", why).info();
  bool copied = false;
  try {
    copied = adding_->wait();
  } catch (...) {
    added_tables_failed();
  }
  adding_.reset();
  cfg_.scope.copying.clear();
  cfg_.scope.copy_done.reset();
  if (copied) log::Event("stream_resumes").field("task", o_.task).info();
  return copied;
}

void Runner::added_tables_failed() {
  std::exception_ptr failure = std::current_exception();
  adding_.reset();
  cfg_.scope.copying.clear();
  cfg_.scope.copy_done.reset();
  copy_again_ = true;
  if (failure) std::rethrow_exception(failure);
  throw Error("the copy of the added tables failed");
}

void Runner::check_added_tables() {
  if (!adding_) return;
  try {
    adding_->rethrow_if_failed();
  } catch (...) {
    added_tables_failed();
  }
}

Outcome Runner::attempt(LiveSettings& live, task::ForeignKeyValidator& fk_validator) {
  if (stage_ == Stage::starting || stage_ == Stage::copying || copy_again_) {
    copy_again_ = false;
    InitialSyncResult initial = run_initial_sync(
        o_, signals_.stop,
        [this] {
          stage_ = Stage::copying;
          if (o_.has_phase("full")) monitor_->set_phase("full");
        },
        live.full_sync(), &monitor_->metrics().full_sync_observer(), selected_before_);
    if (initial.stopped) {
      summary("shutdown");
      return {};
    }
    stage_ = Stage::copied;
    // The copy is done and durable: failures during it are over.
    connection_window_.success();
    other_window_.success();
    monitor_->progressed();  // recovered, if the copy had failed before
    cfg_.scope.tables = std::move(initial.tables);
    cfg_.scope.copied_at = std::move(initial.copied_at);
    cfg_.scope.copying = std::move(initial.copying);
    cfg_.scope.copying_from = initial.copying_from;
    adding_ = std::move(initial.adding);
    cfg_.scope.copy_done = adding_ ? adding_->done() : nullptr;
    monitor_->set_phase(o_.has_phase("incremental") ? "incremental" : "copied");
    if (!o_.has_phase("incremental")) {
      log::Event("sync_done").field("task", o_.task).info();
      return {};
    }
    fk_validator.start(signals_.stop);
  }
  apply::OpenConnections reuse = std::move(open_);
  open_ = {};  // later sessions connect afresh
  while (true) {
    try {
      apply::run_session(cfg_, signals_.stop, hooks_, totals_, std::move(reuse));
      break;
    } catch (const apply::TableCopyingError& e) {
      // The session's open group rolled back; the next resumes from the
      // destination's origin.
      reuse = {};
      if (!wait_for_added_tables(e.what())) break;
    }
  }
  if (adding_) {  // a stop request ended the session: the copy stops too
    adding_->request_stop();
    try {
      adding_->wait();
    } catch (...) {
      added_tables_failed();
    }
    adding_.reset();
  }
  summary("shutdown");
  return {};
}

Outcome Runner::stopped_by_rule(const std::string& error) {
  std::string message = error + "; change the rule (--filter, --transform) to match the table, "
                                "then run pgdts sync again";
  summary("stopped");
  monitor_->failure_final("other", message);
  store_last_error(o_, message);
  return {1, message};
}

std::optional<Outcome> Runner::retry_after(const std::string& failure, RetryWindow& window,
                                           const char* kind) {
  monitor_->failure_retried(kind, failure);
  // pgdts status says why a task makes no progress (a full disk, a
  // constraint) while it retries; a lost connection says it in the log
  // only, since the destination may be the one that is unreachable.
  if (std::string(kind) != "connection") {
    store_last_error(o_, "retrying (" + window.limit() + "): " + failure);
    retry_error_stored_ = true;
  }
  if (sleep_or_stop(std::min(backoff_, window.remaining()), signals_.stop)) {
    summary("shutdown");
    return Outcome{};
  }
  backoff_ = std::min<std::chrono::seconds>(backoff_ * 2, kBackoffMax);
  return std::nullopt;
}

Outcome Runner::run() {
  if (std::optional<Outcome> failed = start()) return *failed;
  LiveSettings live(o_, reread_);
  live.store();
  live.on_change([this](const Options& now) {
    monitor_->metrics().set_limits(throttle_limits(now));
  });
  live.watch_reloads(signals_.stop, signals_.reload);
  task::ForeignKeyValidator fk_validator(o_.target, o_.task);
  cfg_.throttle = &live.incremental();
  install_hooks();
  // The added tables' copy uses live's throttle: it ends before live does.
  struct StopAdding {
    std::shared_ptr<AddedTablesCopy>& adding;
    ~StopAdding() { adding.reset(); }
  } stop_adding{adding_};

  bool retrying = false;
  while (true) {
    std::string failure;
    const char* kind = "other";
    bool window_left = true;
    try {
      if (retrying) keep_task_lock(o_, task_lock_);
      retrying = true;
      return attempt(live, fk_validator);
    } catch (const ConflictError& e) {
      return {1, e.what()};
    } catch (const fullsync::TableChangedError& e) {
      summary("stopped");
      monitor_->failure_final("other", e.what());
      store_last_error(o_, e.what());
      return {1, e.what()};
    } catch (const TaskTakenError& e) {
      summary("stopped");
      return {1, e.what()};
    } catch (const stream::FormatMismatchError& e) {
      // The plugin and this pgdts speak different record formats: an
      // upgrade of one side helps, a retry does not.
      summary("stopped");
      monitor_->failure_final("other", e.what());
      store_last_error(o_, e.what());
      return {1, e.what()};
    } catch (const task::SlotLostError& e) {
      summary("stopped");
      return slot_lost(o_, *monitor_, e);
    } catch (const pg::ConnectionError& e) {
      if (rule_broken(e.what())) return stopped_by_rule(e.what());
      if (!retryable()) return {1, e.what()};
      failure = e.what();
      kind = "connection";
      if (healthy_session_ended()) connection_window_.success();
      window_left = connection_window_.failure();
      if (window_left) log_failure(e, kind, std::min(backoff_, connection_window_.remaining()));
    } catch (const Error& e) {
      if (rule_broken(e.what())) return stopped_by_rule(e.what());
      if (!retryable()) return {1, describe_failure(e)};
      failure = describe_failure(e);
      streaming_since_.reset();
      // A full disk or exhausted memory on a server is an outage like a
      // lost connection, which the DBA fixes in their own time: retried as
      // long as one.
      bool resource = short_of_resources(e);
      if (resource) kind = "resource";
      RetryWindow& window = resource ? connection_window_ : other_window_;
      window_left = window.failure();
      if (window_left) log_failure(e, kind, std::min(backoff_, window.remaining()));
    } catch (const std::exception& e) {
      summary("stopped");
      monitor_->failure_final("other", e.what());
      return {1, e.what()};
    }
    RetryWindow& window = kind == std::string("other") ? other_window_ : connection_window_;
    if (!window_left) {
      std::string message = failure + "; " + window.describe() + ", giving up";
      monitor_->failure_final(kind, message);
      store_last_error(o_, message);
      summary("stopped");
      return {1, message};
    }
    if (std::optional<Outcome> stopped = retry_after(failure, window, kind)) return *stopped;
  }
}

}  // namespace

Outcome run(const Options& options, const Signals& signals, RereadThrottles reread) {
  return Runner(options, signals, std::move(reread)).run();
}

}  // namespace pgdts::sync
