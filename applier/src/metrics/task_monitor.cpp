#include "metrics/task_monitor.h"


#include <cstdlib>

#include "logging/log.h"
#include "pg/connection.h"
#include "pg/errors.h"
#include "stream/timestamp.h"

namespace pgdts::metrics {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kTickEvery = 1s;
constexpr auto kWalProbeEvery = 15s;

using stream::unix_micros_now;

}  // namespace

TaskMonitor::TaskMonitor(MonitorConfig config)
    : cfg_(std::move(config)),
      metrics_(registry_, cfg_.task),
      policy_(cfg_.alert_latency, cfg_.alert_hold) {
  metrics_.set_limits(cfg_.limits);
  if (cfg_.port) server_ = std::make_unique<HttpServer>(registry_, *cfg_.port);
  if (!cfg_.alert_command.empty())
    command_ = std::make_unique<AlertCommand>(cfg_.alert_command, cfg_.alert_timeout);
  ticker_ = std::thread([this] { tick_loop(); });
}

TaskMonitor::~TaskMonitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  ticker_.join();
  server_.reset();
  command_.reset();  // waits until the queued alerts are delivered
}

void TaskMonitor::set_phase(const std::string& phase) {
  metrics_.set_phase(phase);
  std::lock_guard lock(mutex_);
  phase_ = phase;
}

void TaskMonitor::failure_retried(const char* kind, const std::string& message) {
  metrics_.failure(kind, true);
  metrics_.set_failing(true);
  std::lock_guard lock(mutex_);
  alert(policy_.failure_retried(), message);
}

void TaskMonitor::failure_final(const char* kind, const std::string& message) {
  metrics_.failure(kind, false);
  metrics_.set_failing(true);
  std::lock_guard lock(mutex_);
  alert(policy_.failure_final(), message);
}

void TaskMonitor::progressed() {
  std::lock_guard lock(mutex_);
  if (const char* event = policy_.progressed()) {
    metrics_.set_failing(false);
    alert(event, "the destination's position moves again");
  }
}

// Under mutex_.
void TaskMonitor::alert(const char* event, const std::string& message) {
  if (!event) return;
  AlertEvent e{cfg_.task, event, message, phase_, metrics_.latency_seconds(),
               unix_micros_now()};
  log::Event("alert").field("task", cfg_.task).field("alert", event).field("message", message).info();
  if (!command_) return;
  metrics_.alert_sent(event);
  command_->send(event, to_json(e));
}

// Once a second: latency (also while the apply loop waits for the
// destination, so a stuck destination shows), its alerts, and every 15 s
// the WAL retained by the slot.
void TaskMonitor::tick_loop() {
  std::optional<Clock::time_point> next_probe;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kTickEvery, [this] { return stopping_; });
    if (stopping_) return;
    auto now = Clock::now();
    tick(now);
    if (!next_probe && !phase_.empty()) next_probe = now + 2s;  // let the run create its slot
    if (next_probe && now >= *next_probe) {
      lock.unlock();
      probe_wal_retained();
      lock.lock();
      next_probe = Clock::now() + kWalProbeEvery;
    }
  }
}

// Under mutex_.
void TaskMonitor::tick(Clock::time_point now) {
  std::optional<double> latency = metrics_.latency_seconds();
  if (latency) metrics_.set_latency(*latency);
  if (const char* event = policy_.latency(latency, now)) {
    bool high = std::string_view(event) == "latency_high";
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  high ? "latency %.1f s has been above %g s for %lld s"
                       : "latency %.1f s is back under %g s",
                  latency.value_or(0), cfg_.alert_latency.value_or(0),
                  static_cast<long long>(cfg_.alert_hold.count()));
    alert(event, buf);
  }
}

// On a connection of its own, kept between probes (used by the ticker
// thread only). A failure leaves the last value and drops the connection,
// so the next probe connects again.
void TaskMonitor::probe_wal_retained() {
  try {
    if (!probe_) {
      probe_.emplace(pg::Connection::open(
          cfg_.source, {"source", false, cfg_.application_name, "-c statement_timeout=10s"}));
    }
    pg::Result r = probe_->exec(
        "SELECT (pg_catalog.pg_current_wal_lsn() - restart_lsn)::pg_catalog.int8"
        " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND restart_lsn IS NOT NULL",
        {cfg_.slot.c_str()});
    if (r.rows() == 1)
      metrics_.set_wal_retained(std::strtod(std::string(r.value(0, 0)).c_str(), nullptr));
  } catch (const std::exception& e) {
    probe_.reset();
    log::Event("wal_retained_unknown").field("slot", cfg_.slot).field("reason", e.what()).debug();
  }
}

}  // namespace pgdts::metrics
