// The metrics of one `pgdts sync` task, named and typed: the one object the
// apply session, the full sync and the retry loop report to (docs/metrics.md
// lists every metric). Callers never see the registry's families.
//
// Threads: setters may be called from any thread (series are atomics);
// the apply session publishes once a second, never per change.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "fullsync/progress.h"
#include "metrics/registry.h"

namespace pgdts::metrics {

// Changes applied to one destination table since the last report.
struct TableCounts {
  std::string table;  // destination schema.table
  std::uint64_t inserts = 0, updates = 0, deletes = 0, truncates = 0;
  std::uint64_t bytes = 0;    // change records' size on the wire (the source's encoding)
  std::uint64_t skipped = 0;  // UPDATE/DELETE skipped: no replica identity
  bool empty() const {
    return inserts == 0 && updates == 0 && deletes == 0 && truncates == 0 && bytes == 0 &&
           skipped == 0;
  }
  TableCounts& operator+=(const TableCounts& o) {
    inserts += o.inserts;
    updates += o.updates;
    deletes += o.deletes;
    truncates += o.truncates;
    bytes += o.bytes;
    skipped += o.skipped;
    return *this;
  }
};

// Throttle limits in force (unset: unlimited). Whoever changes them at run
// time calls TaskMetrics::set_limits with the new ones (sync/live_settings.h
// on SIGHUP); a limit lifted then reads +Inf.
struct ThrottleLimits {
  std::optional<double> full_qps, full_rps, full_mbps, incr_rps, incr_mbps;
};

// How far the destination is behind the source, in µs, as every output
// reports it (metrics, pgdts status, the progress log, alerts; see
// TaskMetrics::latency_seconds for the cases); nullopt before anything was
// applied. Times are µs since the Unix epoch; pending_since 0: nothing
// received waits.
std::optional<std::int64_t> apply_latency_micros(std::int64_t durable_commit_time,
                                                 std::int64_t pending_since, std::int64_t now);

class TaskMetrics {
 public:
  TaskMetrics(Registry& registry, std::string task);

  // The phase the run is in: schema, full, incremental or copied.
  void set_phase(const std::string& phase);
  // A failure is being retried (1) or the task runs (0).
  void set_failing(bool failing);
  // A failure of kind "connection" or "other"; retried says whether a
  // retry follows.
  void failure(const char* kind, bool retried);
  void alert_sent(const std::string& event);

  void add_table_counts(const TableCounts& delta);
  void set_applied_transactions(std::uint64_t total);
  // Source WAL end the walsender reported, and the position durable on the destination.
  void set_positions(std::uint64_t source_lsn, std::uint64_t applied_lsn);
  // What latency is measured from, once a second while applying: source
  // commit times (µs since the Unix epoch) of the last transaction durable
  // on the destination and of the oldest one received but not yet durable
  // (0: none).
  void set_apply_position(std::int64_t durable_commit_time, std::int64_t pending_since);
  // How far the destination is behind the source, in seconds (nullopt
  // before anything was applied):
  // - something received is not durable yet: now minus its commit time;
  // - nothing is: 0, the destination has all the source sent; unless the
  //   last durable commit is more than 10 s old, although a heartbeat is
  //   written every 5 s (the walsender is slow to send, e.g. decoding a
  //   large transaction): then now minus that commit time;
  // - the apply session has not reported for 5 s (it failed, or waits for
  //   the destination): now minus the last durable commit time.
  // (Measuring from the last durable commit alone would read up to the
  // heartbeat interval on an idle task, and alert on it.)
  std::optional<double> latency_seconds() const;
  void set_latency(double seconds);
  void set_wal_retained(double bytes);
  void set_limits(const ThrottleLimits& limits);

  // Full-sync progress: hand it to fullsync::FullSyncConfig::observer.
  fullsync::ProgressObserver& full_sync_observer() { return full_sync_; }

 private:
  class FullSyncGauges : public fullsync::ProgressObserver {
   public:
    explicit FullSyncGauges(TaskMetrics& m) : m_(m) {}
    void tick(const fullsync::BoardSnapshot& board, bool final) override;

   private:
    TaskMetrics& m_;
  };

  std::string task_;
  std::mutex limits_mutex_;
  std::set<std::string> published_limits_;  // limit gauges that have a series
  Family &phase_g_, &failing_g_, &errors_c_, &retries_c_, &alerts_c_;
  Family &changes_c_, &bytes_c_, &skipped_c_, &transactions_c_;
  Family &source_lsn_g_, &applied_lsn_g_, &latency_g_, &wal_retained_g_;
  Family &tables_total_g_, &tables_done_g_, &rows_copied_g_, &bytes_copied_g_;
  Registry& registry_;
  std::atomic<std::int64_t> durable_commit_time_{0};
  std::atomic<std::int64_t> pending_since_{0};
  std::atomic<std::int64_t> reported_at_us_{0};  // when set_apply_position was called
  FullSyncGauges full_sync_{*this};
};

}  // namespace pgdts::metrics
