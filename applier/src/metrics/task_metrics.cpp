#include "metrics/task_metrics.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "stream/timestamp.h"

namespace pgdts::metrics {
namespace {

// Every phase gets a series, so that a dashboard sees the 0s as well.
const char* const kPhases[] = {"schema", "full", "incremental", "copied"};
// The apply session reports once a second; silent this long, it is not
// applying (failed, or waiting for the destination).
constexpr std::int64_t kSessionSilentAfterUs = 5'000'000;
// Heartbeats (apply/heartbeat.h, every 5 s) keep the last durable commit
// younger than this on a task that keeps up.
constexpr std::int64_t kHeartbeatSlackUs = 10'000'000;

using stream::unix_micros_now;

}  // namespace

TaskMetrics::TaskMetrics(Registry& r, std::string task)
    : task_(std::move(task)),
      phase_g_(r.gauge("pgdts_phase", "1 for the phase the task is in, 0 for the others",
                       {"task", "phase"})),
      failing_g_(r.gauge("pgdts_task_failing",
                         "1 while a failure is being retried (within --retry-connection or "
                         "--retry-other), else 0",
                         {"task"})),
      errors_c_(r.counter("pgdts_apply_errors_total",
                          "Failures of the task (kind connection: a lost connection; other: "
                          "anything else, e.g. a statement the destination rejected)",
                          {"task", "kind"})),
      retries_c_(r.counter("pgdts_retries_total", "Failures followed by a retry", {"task", "kind"})),
      alerts_c_(r.counter("pgdts_alerts_total", "Alert events handed to --alert-command",
                          {"task", "event"})),
      changes_c_(r.counter("pgdts_applied_changes_total",
                           "Changes committed and durable on the destination, per destination "
                           "table and operation",
                           {"task", "table", "op"})),
      bytes_c_(r.counter("pgdts_applied_bytes_total",
                         "Size of the applied change records as received from the source",
                         {"task", "table"})),
      skipped_c_(r.counter("pgdts_skipped_changes_total",
                           "UPDATEs and DELETEs skipped: the table has no primary key or "
                           "replica identity",
                           {"task", "table"})),
      transactions_c_(r.counter("pgdts_applied_transactions_total",
                                "Source transactions committed and durable on the destination",
                                {"task"})),
      source_lsn_g_(r.gauge("pgdts_source_lsn",
                            "End of the source's WAL as last reported by its walsender, as a number",
                            {"task"})),
      applied_lsn_g_(r.gauge("pgdts_applied_lsn",
                             "Source LSN up to which changes are durable on the destination "
                             "(the replication origin), as a number",
                             {"task"})),
      latency_g_(r.gauge("pgdts_latency_seconds",
                         "Now minus the source commit time of the last transaction durable on "
                         "the destination (heartbeats keep one recent)",
                         {"task"})),
      wal_retained_g_(r.gauge("pgdts_wal_retained_bytes",
                              "WAL the source keeps for the task's slot: pg_current_wal_lsn() - "
                              "restart_lsn, every 15 s",
                              {"task"})),
      tables_total_g_(r.gauge("pgdts_full_sync_tables", "Tables the full sync copies", {"task"})),
      tables_done_g_(r.gauge("pgdts_full_sync_tables_done",
                             "Tables the full sync has copied (including those copied by an "
                             "earlier run)",
                             {"task"})),
      rows_copied_g_(r.gauge("pgdts_full_sync_rows",
                             "Rows copied by this run's full sync, per source table", {"task", "table"})),
      bytes_copied_g_(r.gauge("pgdts_full_sync_bytes",
                              "Bytes (COPY text) copied by this run's full sync, per source table",
                              {"task", "table"})),
      registry_(r) {
  failing_g_.with({task_}).set(0);
}

void TaskMetrics::set_phase(const std::string& phase) {
  for (const char* p : kPhases) phase_g_.with({task_, p}).set(phase == p ? 1 : 0);
}

void TaskMetrics::set_failing(bool failing) { failing_g_.with({task_}).set(failing ? 1 : 0); }

void TaskMetrics::failure(const char* kind, bool retried) {
  errors_c_.with({task_, kind}).add(1);
  if (retried) retries_c_.with({task_, kind}).add(1);
}

void TaskMetrics::alert_sent(const std::string& event) { alerts_c_.with({task_, event}).add(1); }

void TaskMetrics::add_table_counts(const TableCounts& d) {
  auto add_op = [&](const char* op, std::uint64_t n) {
    if (n > 0) changes_c_.with({task_, d.table, op}).add(static_cast<double>(n));
  };
  add_op("insert", d.inserts);
  add_op("update", d.updates);
  add_op("delete", d.deletes);
  add_op("truncate", d.truncates);
  if (d.bytes > 0) bytes_c_.with({task_, d.table}).add(static_cast<double>(d.bytes));
  if (d.skipped > 0) skipped_c_.with({task_, d.table}).add(static_cast<double>(d.skipped));
}

void TaskMetrics::set_applied_transactions(std::uint64_t total) {
  transactions_c_.with({task_}).set(static_cast<double>(total));
}

void TaskMetrics::set_positions(std::uint64_t source_lsn, std::uint64_t applied_lsn) {
  if (source_lsn > 0) source_lsn_g_.with({task_}).set(static_cast<double>(source_lsn));
  if (applied_lsn > 0) applied_lsn_g_.with({task_}).set(static_cast<double>(applied_lsn));
}

void TaskMetrics::set_apply_position(std::int64_t durable_commit_time, std::int64_t pending_since) {
  if (durable_commit_time > 0)
    durable_commit_time_.store(durable_commit_time, std::memory_order_relaxed);
  pending_since_.store(pending_since, std::memory_order_relaxed);
  reported_at_us_.store(unix_micros_now(), std::memory_order_relaxed);
}

std::optional<std::int64_t> apply_latency_micros(std::int64_t durable_commit_time,
                                                 std::int64_t pending_since, std::int64_t now) {
  if (pending_since != 0) return std::max<std::int64_t>(0, now - pending_since);
  if (durable_commit_time == 0) return std::nullopt;
  std::int64_t us = now - durable_commit_time;
  return us <= kHeartbeatSlackUs ? 0 : us;
}

std::optional<double> TaskMetrics::latency_seconds() const {
  std::int64_t durable = durable_commit_time_.load(std::memory_order_relaxed);
  std::int64_t pending = pending_since_.load(std::memory_order_relaxed);
  std::int64_t now = unix_micros_now();
  // A silent session may hold changes it will never commit: measured from
  // what is durable.
  if (now - reported_at_us_.load(std::memory_order_relaxed) > kSessionSilentAfterUs) {
    if (durable == 0) return std::nullopt;
    return std::max<std::int64_t>(0, now - durable) / 1e6;
  }
  std::optional<std::int64_t> us = apply_latency_micros(durable, pending, now);
  if (!us) return std::nullopt;
  return static_cast<double>(*us) / 1e6;
}

void TaskMetrics::set_latency(double seconds) { latency_g_.with({task_}).set(seconds); }

void TaskMetrics::set_wal_retained(double bytes) { wal_retained_g_.with({task_}).set(bytes); }

void TaskMetrics::set_limits(const ThrottleLimits& l) {
  // A limit never set has no series: absent means unlimited. One lifted at
  // run time keeps its series, at +Inf.
  std::lock_guard lock(limits_mutex_);
  auto limit = [&](const char* name, const char* help, const std::optional<double>& v) {
    if (!v && !published_limits_.count(name)) return;
    published_limits_.insert(name);
    registry_.gauge(name, help, {"task"}).with({task_}).set(
        v ? *v : std::numeric_limits<double>::infinity());
  };
  limit("pgdts_full_qps_limit", "--full-qps: queries per second against the source in full sync",
        l.full_qps);
  limit("pgdts_full_rps_limit", "--full-rps: rows per second in full sync", l.full_rps);
  limit("pgdts_full_mbps_limit", "--full-mbps: MB (10^6 bytes) per second in full sync",
        l.full_mbps);
  limit("pgdts_incr_rps_limit", "--incr-rps: changes per second in incremental sync", l.incr_rps);
  limit("pgdts_incr_mbps_limit", "--incr-mbps: MB (10^6 bytes) per second in incremental sync",
        l.incr_mbps);
}

void TaskMetrics::FullSyncGauges::tick(const fullsync::BoardSnapshot& board, bool final) {
  m_.tables_total_g_.with({m_.task_}).set(board.tables_total);
  m_.tables_done_g_.with({m_.task_}).set(board.tables_done);
  for (const auto& t : board.tables) {
    if (t.state == fullsync::TableState::skipped) continue;  // copied by an earlier run
    m_.rows_copied_g_.with({m_.task_, t.name}).set(static_cast<double>(t.rows));
    m_.bytes_copied_g_.with({m_.task_, t.name}).set(static_cast<double>(t.bytes));
  }
}

}  // namespace pgdts::metrics
