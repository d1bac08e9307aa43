// pgdts sync: the prechecks (cli/precheck_report.h: a failure refuses to
// start), startup checks (no retry: a bad setup fails at once), the
// initial phases (schema, full; cli/initial_sync.h), then apply sessions;
// failures are retried within the --retry-connection / --retry-other
// windows, each retry resuming from the state in the databases, until
// SIGINT/SIGTERM.
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "apply/origin.h"
#include "cli/initial_sync.h"
#include "cli/precheck_report.h"
#include "apply/session.h"
#include "cli/commands.h"
#include "cli/stop_signal.h"
#include "error.h"
#include "logging/log.h"
#include "metrics/task_monitor.h"
#include "pg/connection.h"
#include "pg/pipeline.h"
#include "pg/replication_stream.h"
#include "task/source_checks.h"
#include "task/task_state.h"

namespace pgdts::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kBackoffFirst = 1s;
constexpr auto kBackoffMax = 30s;

// One failure window: starts at the first failure after the last success.
class RetryWindow {
 public:
  RetryWindow(const char* option, int minutes) : option_(option), length_(minutes) {}
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
  std::string describe() const {
    return "retried for " + std::to_string(length_.count()) +
           (length_.count() == 1 ? " minute (" : " minutes (") + option_ + ")";
  }

 private:
  const char* option_;
  std::chrono::minutes length_;
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
    event.field("change", p->what_failed()).field("statement", pg::redact_quoted(p->statement(), ""));
    if (p->lsn()) event.field("lsn", pg::format_lsn(p->lsn()));
    event.field("sqlstate", p->sqlstate());
  }
  event.field("retry_in", std::to_string(retry_in.count()) + "s").warn();
}

// Best effort: the reason the task stopped, for pgdts status and the DBA.
void store_last_error(const Options& o, const std::string& message) {
  try {
    pg::Connection dest = pg::Connection::open(
        o.target, {"destination", false, "pgdts_" + o.task, ""});
    task::TaskStore(dest).set_last_error(o.task, message);
  } catch (const std::exception&) {
    // unreachable destination: the error line says it all
  }
}

std::string first_phase(const Options& o) {
  if (o.has_phase("schema")) return "schema";
  if (o.has_phase("full")) return "full";
  return "incremental";
}

// One pgdts process per task: a session-level advisory lock on the
// destination, held while the returned connection lives.
pg::Connection lock_task(const Options& o) {
  pg::Connection lock = pg::Connection::open(o.target, {"destination", false, "pgdts_" + o.task, ""});
  std::string key = "pgdts task " + o.task;
  pg::Result r = lock.exec("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended($1, 0))",
                           {key.c_str()});
  if (r.value(0, 0) != "t")
    throw Error("task \"" + o.task + "\" is being run by another pgdts process; stop it first");
  return lock;
}

// Everything that must hold before the first session; no retries here. The
// connections it opened are handed to the first session when the task is
// streaming already.
apply::SessionConfig start_task(const Options& o, apply::OpenConnections& open) {
  apply::SessionConfig cfg;
  cfg.source = o.source;
  cfg.target = o.target;
  cfg.task = o.task;
  cfg.slot = task::slot_name(o.task);
  cfg.origin = task::origin_name(o.task);
  cfg.application_name = "pgdts_" + o.task;
  cfg.may_create_slot = true;

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
  if (apply::create_origin_if_missing(dest, cfg.origin))
    log::Event("origin_created").field("origin", cfg.origin).info();
  if (where.phase == "incremental") {
    open.source.emplace(std::move(replication));
    open.destination.emplace(std::move(dest));
  }
  return cfg;
}

// Metrics and alerts of the run (metrics/task_monitor.h).
metrics::MonitorConfig monitor_config(const Options& o) {
  metrics::MonitorConfig m;
  m.task = o.task;
  m.port = o.metrics_port;
  m.alert_command = o.alert_command;
  m.alert_latency = o.alert_latency_seconds;
  m.alert_hold = metrics::latency_hold();
  m.source = o.source;
  m.slot = task::slot_name(o.task);
  m.application_name = "pgdts_" + o.task;
  m.limits = {o.full_qps, o.full_rps, o.full_mbps, o.incr_rps, o.incr_mbps};
  return m;
}

}  // namespace

int report_error(const std::string& message, int status) {
  std::fprintf(stderr, "pgdts: error: %s\n", pg::one_line(message).c_str());
  std::fflush(stderr);
  return status;
}

int run_sync(const Options& o) {
  const std::atomic<bool>& stop = install_stop_signals();
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
    std::string refused = precheck_before_sync(o);
    if (!refused.empty()) return report_error(refused, 1);
    task_lock = lock_task(o);
    cfg = start_task(o, open);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
  monitor->set_phase(first_phase(o));  // the task runs: metrics and the WAL probe start
  cfg.scope.selection = o.selection;
  cfg.scope.names = o.names;
  bool initial_done = false;
  bool copying = false;  // the initial phases are under way: their failures are retried

  bool started = false;
  RetryWindow connection_window("--retry-connection", o.retry_connection_minutes);
  RetryWindow other_window("--retry-other", o.retry_other_minutes);
  auto backoff = std::chrono::seconds(kBackoffFirst);
  apply::SessionTotals totals;
  apply::SessionHooks hooks;
  hooks.streaming = [&] {
    started = true;
    cfg.may_create_slot = false;  // a slot that vanishes later is an error
    connection_window.success();
  };
  hooks.progressed = [&] {
    other_window.success();
    backoff = kBackoffFirst;
    monitor->progressed();
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

  while (true) {
    std::string failure;
    bool window_left = true;
    RetryWindow* window = nullptr;
    try {
      if (!initial_done) {
        InitialSyncResult initial = run_initial_sync(
            o, stop,
            [&] {
              copying = true;
              if (o.has_phase("full")) monitor->set_phase("full");
            },
            &monitor->metrics().full_sync_observer());
        if (initial.stopped) {
          summary("shutdown");
          return 0;
        }
        initial_done = true;
        monitor->progressed();  // recovered, if the copy had failed before
        cfg.scope.tables = std::move(initial.tables);
        cfg.scope.copied_at = std::move(initial.copied_at);
        monitor->set_phase(o.has_phase("incremental") ? "incremental" : "copied");
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
    } catch (const pg::ConnectionError& e) {
      if (!started && !(copying && !initial_done)) return report_error(e.what(), 1);
      failure = e.what();
      window = &connection_window;
      window_left = connection_window.failure();
      if (window_left) log_failure(e, "connection", backoff);
    } catch (const Error& e) {
      if (!started && !(copying && !initial_done)) return report_error(describe_failure(e), 1);
      failure = describe_failure(e);
      window = &other_window;
      window_left = other_window.failure();
      if (window_left) log_failure(e, "other", backoff);
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
    if (sleep_or_stop(backoff, stop)) {
      summary("shutdown");
      return 0;
    }
    backoff = std::min<std::chrono::seconds>(backoff * 2, kBackoffMax);
  }
}

}  // namespace pgdts::cli
