// Everything `pgdts sync` does to be watched: the metrics registry and its
// HTTP endpoint (--metrics-port), the task's metrics, the WAL retained by
// its slot (polled on a connection of its own), and alerts (--alert-command,
// --alert-latency). One object, made by sync before anything else starts
// (a port in use fails the run at once), passed down by reference; its
// threads never block applying.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "metrics/alerts.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "metrics/task_metrics.h"
#include "pg/conninfo.h"
#include "pg/connection.h"

namespace pgdts::metrics {

struct MonitorConfig {
  std::string task;
  std::optional<int> port;                   // --metrics-port
  std::string alert_command;                 // empty: no alerts
  std::optional<double> alert_latency;       // seconds; unset: no latency alerts
  std::chrono::seconds alert_hold{60};       // latency must stay high this long
  std::chrono::seconds alert_timeout{30};    // the command is killed after it
  pg::ConnInfo source;                       // for the WAL retained by the slot
  std::string slot;
  std::string application_name;
  ThrottleLimits limits;
};

class TaskMonitor {
 public:
  // Throws UsageError when the metrics port cannot be bound.
  explicit TaskMonitor(MonitorConfig config);
  // Stops the threads, then delivers the alerts still queued.
  ~TaskMonitor();
  TaskMonitor(const TaskMonitor&) = delete;
  TaskMonitor& operator=(const TaskMonitor&) = delete;

  TaskMetrics& metrics() { return metrics_; }
  const Registry& registry() const { return registry_; }

  // The first call also starts the WAL probe: the task's slot exists, or
  // is about to (no probe while sync's prechecks run).
  void set_phase(const std::string& phase);
  // A failure of kind "connection"/"other" that is retried (task_failing on
  // the first), or that ends the run (task_failed).
  void failure_retried(const char* kind, const std::string& message);
  void failure_final(const char* kind, const std::string& message);
  // The destination's position moved (or the initial phases finished).
  void progressed();

 private:
  void alert(const char* event, const std::string& message);
  void tick_loop();
  void tick(std::chrono::steady_clock::time_point now);
  void probe_wal_retained();

  MonitorConfig cfg_;
  Registry registry_;
  TaskMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<AlertCommand> command_;  // destroyed last among these: delivers the queue

  std::mutex mutex_;  // policy_, phase_, stopping_
  std::condition_variable wake_;
  AlertPolicy policy_;
  std::string phase_;  // for alert events, which the ticker thread raises too; empty: not started
  bool stopping_ = false;
  std::optional<pg::Connection> probe_;  // the ticker thread's, for probe_wal_retained
  std::thread ticker_;
};

}  // namespace pgdts::metrics
