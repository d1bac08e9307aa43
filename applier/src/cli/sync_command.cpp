// pgdts sync: the prechecks (cli/precheck_report.h: a failure refuses to
// start), startup checks (no retry: a bad setup fails at once), the
// initial phases (schema, full; cli/initial_sync.h), then apply sessions;
// failures are retried within the --retry-connection / --retry-other
// windows, each retry resuming from the state in the databases, until
// SIGINT/SIGTERM.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "apply/origin.h"
#include "cli/initial_sync.h"
#include "cli/live_settings.h"
#include "cli/precheck_report.h"
#include "cli/resync.h"
#include "apply/session.h"
#include "cli/commands.h"
#include "etl/plugin_options.h"
#include "cli/stop_signal.h"
#include "error.h"
#include "logging/log.h"
#include "secrets/redact.h"
#include "metrics/task_monitor.h"
#include "pg/connection.h"
#include "pg/pipeline.h"
#include "pg/replication_stream.h"
#include "task/deferred_fks.h"
#include "task/source_checks.h"
#include "task/task_slot.h"
#include "task/task_state.h"

namespace pgdts::cli {
namespace {

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

// Best effort: the reason the task stopped, for pgdts status and the DBA.
void store_last_error(const Options& o, const std::string& message) {
  try {
    pg::Connection dest = pg::Connection::open(
        o.target, {"destination", false, task::application_name(o.task), ""});
    task::TaskStore(dest).set_last_error(o.task, message);
  } catch (const std::exception&) {
    // unreachable destination: the error line says it all
  }
}

// The task's slot is gone or replaced: retrying cannot bring it back. The
// reason goes to the alert, to pgdts status and to stderr.
int slot_lost(const Options& o, metrics::TaskMonitor& monitor, const task::SlotLostError& e) {
  monitor.failure_final("other", e.what());
  store_last_error(o, e.what());
  return report_error(e.what(), 1);
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
// destination, held while the returned connection lives.
pg::Connection lock_task(const Options& o) {
  pg::Connection lock = pg::Connection::open(o.target, {"destination", false, task::application_name(o.task), ""});
  std::string key = "pgdts task " + o.task;
  pg::Result r = lock.exec("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended($1, 0))",
                           {key.c_str()});
  if (r.value(0, 0) != "t")
    throw TaskTakenError("task \"" + o.task + "\" is being run by another pgdts process; stop it first");
  return lock;
}

// Before a retry: a destination that restarted or dropped the connection
// released the task's lock with it, and another process may have started
// the task meanwhile. Takes the lock again (a ConnectionError while the
// destination is still away is retried like any other).
void keep_task_lock(const Options& o, pg::Connection& lock) {
  try {
    lock.exec("SELECT 1");
    return;
  } catch (const pg::ConnectionError&) {
  }
  lock.close();
  lock = lock_task(o);
  log::Event("task_lock_taken_again").field("task", o.task).info();
}

// Everything that must hold before the first session; no retries here. The
// connections it opened are handed to the first session when the task is
// streaming already.
apply::SessionConfig start_task(const Options& o, apply::OpenConnections& open,
                                const std::vector<task::TableName>& task_tables) {
  apply::SessionConfig cfg;
  cfg.source = o.source;
  cfg.target = o.target;
  cfg.task = o.task;
  cfg.slot = task::slot_name(o.task);
  cfg.origin = task::origin_name(o.task);
  cfg.application_name = task::application_name(o.task);
  cfg.may_create_slot = true;
  cfg.rights.keep_owners = !o.no_owner;
  cfg.rights.owner_role = o.owner_role;

  pg::Connection source = pg::Connection::open(o.source, {"source", false, cfg.application_name, ""});
  task::SourceFacts facts = task::check_source(source);
  source.close();
  log::Event("source_checked").field("database", facts.database).debug();

  pg::ReplicationStream replication(
      pg::Connection::open(o.source, {"source", true, cfg.application_name, "-c timezone=UTC"}));
  pg::SystemIdentity id = replication.identify_system();
  cfg.source_system_id = id.system_id;

  pg::Connection dest = pg::Connection::open(o.target, {"destination", false, cfg.application_name, ""});
  task::TaskPhase where = task::TaskStore(dest).register_task(
      o.task, first_phase(o), cfg.slot,
      {id.system_id, id.dbname.empty() ? facts.database : id.dbname});
  if (where.phase == "copied" && o.has_phase("incremental"))
    throw Error("task \"" + o.task + "\" was copied without its incremental phase, so changes "
                "made since were not kept; run pgdts release --task " + o.task +
                " and sync again with --phases incremental among its phases");
  if (!task_tables.empty()) task::TaskStore(dest).claim_tables(o.task, task_tables);
  if (apply::create_origin_if_missing(dest, cfg.origin))
    log::Event("origin_created").field("origin", cfg.origin).info();
  // The task's slot, before anything is copied or streamed: a task that
  // depends on it stops here when it is lost (task/task_slot.h), and
  // --resync recovers it (cli/resync.h).
  std::optional<pg::SlotInfo> slot = replication.find_slot(cfg.slot);
  std::string dbname = replication.connection().parameter_status("database");
  pg::Lsn applied = apply::read_origin_progress(dest, cfg.origin);
  if (o.resync) {
    start_resync(o, dest, where, applied, slot, dbname);
    where = task::TaskStore(dest).where(o.task);
  } else if (o.has_phase("incremental")) {
    task::require_slot(o.task, where, applied, slot, dbname);
  }
  if (where.phase == "incremental") {
    open.source.emplace(std::move(replication));
    open.destination.emplace(std::move(dest));
  }
  return cfg;
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
  m.slot = task::slot_name(o.task);
  m.application_name = task::application_name(o.task);
  m.limits = throttle_limits(o);
  return m;
}

}  // namespace

int run_sync(const Options& o) {
  const std::atomic<bool>& stop = install_stop_signals();
  install_reload_signal();  // from the start: SIGHUP's default action would end the run
  // First: a metrics port in use fails the run before anything starts.
  // Declared before everything else, so destroyed last: a task_failed
  // alert is delivered before the process exits.
  std::optional<metrics::TaskMonitor> monitor;
  try {
    monitor.emplace(monitor_config(o));
  } catch (const UsageError& e) {
    return report_error(e.what(), 2);
  }
  std::string phases;
  for (const auto& p : o.phases) phases += (phases.empty() ? "" : ",") + p;
  log::Event("sync_starting")
      .field("task", o.task)
      .field("phases", phases)
      .field("source", o.source.masked())
      .field("target", o.target.masked())
      .info();

  apply::SessionConfig cfg;
  apply::OpenConnections open;
  pg::Connection task_lock;
  try {
    std::vector<task::TableName> task_tables;
    std::string refused = precheck_before_sync(o, task_tables);
    if (!refused.empty()) return report_error(refused, 1);
    task_lock = lock_task(o);
    cfg = start_task(o, open, task_tables);
  } catch (const UsageError& e) {
    return report_error(e.what(), 2);
  } catch (const task::SlotLostError& e) {
    return slot_lost(o, *monitor, e);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
  monitor->set_phase(first_phase(o));  // the task runs: metrics and the WAL probe start
  cfg.scope.selection = o.selection;
  cfg.scope.names = o.names;
  cfg.etl_options = etl::plugin_options(o.filters, o.transforms);
  LiveSettings live(o);
  live.store();
  live.on_change([&monitor](const Options& now) {
    monitor->metrics().set_limits(throttle_limits(now));
  });
  live.watch_reloads(stop);
  task::ForeignKeyValidator fk_validator(o.target, o.task);
  cfg.throttle = &live.incremental();
  bool initial_done = false;
  bool copying = false;  // the initial phases are under way: their failures are retried

  bool started = false;
  RetryWindow connection_window("--retry-connection", o.retry_connection_minutes);
  RetryWindow other_window("--retry-other", o.retry_other_minutes);
  auto backoff = std::chrono::seconds(kBackoffFirst);
  apply::SessionTotals totals;
  apply::SessionHooks hooks;
  std::optional<Clock::time_point> streaming_since;  // of the current session
  hooks.streaming = [&] {
    started = true;
    cfg.may_create_slot = false;  // a slot that vanishes later is an error
    streaming_since = Clock::now();
  };
  hooks.progressed = [&] {
    // The destination's origin moved: whatever failed before is over.
    connection_window.success();
    other_window.success();
    backoff = kBackoffFirst;
    monitor->progressed();
  };
  auto healthy_session_ended = [&] {
    bool healthy = streaming_since &&
                   Clock::now() - *streaming_since >= kHealthySessionMinutes * retry_minute();
    streaming_since.reset();
    return healthy;
  };
  hooks.metrics = &monitor->metrics();

  auto summary = [&](const char* event) {
    log::Event(event)
        .field("task", o.task)
        .field("applied_changes", totals.counters.changes)
        .field("applied_transactions", totals.counters.transactions)
        .field("skipped_changes", totals.counters.skipped)
        .field("merged_updates", totals.counters.merged)
        .field("batched_inserts", totals.counters.batched)
        .field("resent_transactions_skipped", totals.counters.replayed)
        .field("outside_task_changes", totals.counters.outside_task)
        .field("already_copied_changes", totals.counters.in_copy)
        .field("confirmed_lsn", pg::format_lsn(totals.confirmed))
        .info();
  };

  bool retrying = false;
  while (true) {
    std::string failure;
    bool window_left = true;
    RetryWindow* window = nullptr;
    try {
      if (retrying) keep_task_lock(o, task_lock);
      retrying = true;
      if (!initial_done) {
        InitialSyncResult initial = run_initial_sync(
            o, stop,
            [&] {
              copying = true;
              if (o.has_phase("full")) monitor->set_phase("full");
            },
            live.full_sync(), &monitor->metrics().full_sync_observer());
        if (initial.stopped) {
          summary("shutdown");
          return 0;
        }
        initial_done = true;
        // The copy is done and durable: failures during it are over.
        connection_window.success();
        other_window.success();
        monitor->progressed();  // recovered, if the copy had failed before
        cfg.scope.tables = std::move(initial.tables);
        cfg.scope.copied_at = std::move(initial.copied_at);
        monitor->set_phase(o.has_phase("incremental") ? "incremental" : "copied");
        if (o.has_phase("incremental")) fk_validator.start(stop);
        if (!o.has_phase("incremental")) {
          log::Event("sync_done").field("task", o.task).info();
          return 0;
        }
      }
      apply::OpenConnections reuse = std::move(open);
      open = {};  // later sessions connect afresh
      apply::run_session(cfg, stop, hooks, totals, std::move(reuse));
      summary("shutdown");
      return 0;
    } catch (const ConflictError& e) {
      return report_error(e.what(), 1);
    } catch (const TaskTakenError& e) {
      summary("stopped");
      return report_error(e.what(), 1);
    } catch (const task::SlotLostError& e) {
      summary("stopped");
      return slot_lost(o, *monitor, e);
    } catch (const pg::ConnectionError& e) {
      if (!started && !(copying && !initial_done)) return report_error(e.what(), 1);
      failure = e.what();
      window = &connection_window;
      if (healthy_session_ended()) connection_window.success();
      window_left = connection_window.failure();
      if (window_left) log_failure(e, "connection", std::min(backoff, connection_window.remaining()));
    } catch (const Error& e) {
      if (!started && !(copying && !initial_done)) return report_error(describe_failure(e), 1);
      failure = describe_failure(e);
      window = &other_window;
      streaming_since.reset();
      window_left = other_window.failure();
      if (window_left) log_failure(e, "other", std::min(backoff, other_window.remaining()));
    } catch (const std::exception& e) {
      summary("stopped");
      monitor->failure_final("other", e.what());
      return report_error(e.what(), 1);
    }
    const char* kind = window == &connection_window ? "connection" : "other";
    if (window_left) monitor->failure_retried(kind, failure);
    if (!window_left) {
      std::string message = failure + "; " + window->describe() + ", giving up";
      monitor->failure_final(kind, message);
      store_last_error(o, message);
      summary("stopped");
      return report_error(message, 1);
    }
    if (sleep_or_stop(std::min(backoff, window->remaining()), stop)) {
      summary("shutdown");
      return 0;
    }
    backoff = std::min<std::chrono::seconds>(backoff * 2, kBackoffMax);
  }
}

}  // namespace pgdts::cli
