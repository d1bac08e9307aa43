// Alerts of `pgdts sync`: --alert-command is run through /bin/sh -c with one
// JSON event on its standard input (docs/metrics.md, README "Alerts"):
//
//   task_failing       first failure that enters a retry window
//   task_failed        a retry window is used up; sync exits 1
//   task_recovered     the destination's position moves again after a failure
//   latency_high       latency above --alert-latency for the hold time (1 min)
//   latency_recovered  latency back under it
//
// AlertPolicy decides (pure state, one event per transition, never one per
// tick); AlertCommand runs the command on a thread of its own, one event at
// a time in order, each within a timeout, so that applying never waits for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace pgdts::metrics {

struct AlertEvent {
  std::string task;
  std::string event;
  std::string message;
  std::string phase;
  std::optional<double> latency_seconds;
  std::int64_t at_unix_micros = 0;
};

// {"task":..,"event":..,"at":"2026-11-26T03:40:00.123456Z","message":..,
//  "latency_seconds":1.5 or null,"phase":..}
std::string to_json(const AlertEvent& e);

// How long latency must stay above the threshold: 60 s, or
// PGDTS_TEST_ALERT_HOLD_SECONDS (test-only).
std::chrono::seconds latency_hold();

class AlertPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  // latency_threshold: seconds (unset: no latency alerts).
  AlertPolicy(std::optional<double> latency_threshold, std::chrono::seconds hold)
      : threshold_(latency_threshold), hold_(hold) {}

  // Each returns the event to raise, or nullptr.
  const char* failure_retried();  // task_failing, once until recovered
  const char* failure_final();    // task_failed
  const char* progressed();       // task_recovered after a failure
  // A latency reading (nullopt: unknown yet, changes nothing) at now.
  const char* latency(std::optional<double> seconds, Clock::time_point now);

 private:
  std::optional<double> threshold_;
  std::chrono::seconds hold_;
  bool failing_ = false;
  bool latency_high_ = false;
  std::optional<Clock::time_point> above_since_;
};

class AlertCommand {
 public:
  AlertCommand(std::string command, std::chrono::seconds timeout);
  // Delivers what is queued (each within the timeout) before it returns:
  // the last event before exit (task_failed) reaches the command.
  ~AlertCommand();
  AlertCommand(const AlertCommand&) = delete;
  AlertCommand& operator=(const AlertCommand&) = delete;

  // Queues one event (its JSON); returns at once.
  void send(std::string event, std::string json);

 private:
  void work();
  void run(const std::string& event, const std::string& json);

  std::string command_;
  std::chrono::seconds timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, std::string>> queue_;
  bool closing_ = false;
  std::thread worker_;
};

}  // namespace pgdts::metrics
