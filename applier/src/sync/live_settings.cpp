#include "sync/live_settings.h"

#include <chrono>

#include "error.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "store/task_store.h"

namespace pgdts::sync {
namespace {

fullsync::Limits full_limits(const Options& o) { return {o.full_qps, o.full_rps, o.full_mbps}; }

apply::ChangeLimits change_limits(const Options& o) { return {o.incr_rps, o.incr_mbps}; }

}  // namespace

LiveSettings::LiveSettings(const Options& options, RereadThrottles reread)
    : options_(options), reread_(std::move(reread)), full_(full_limits(options)), incremental_(change_limits(options)) {}

LiveSettings::~LiveSettings() {
  done_ = true;
  if (watcher_.joinable()) watcher_.join();
}

void LiveSettings::store() {
  std::string throttles;
  {
    std::lock_guard lock(mutex_);
    throttles = describe_throttles(options_);
  }
  try {
    pg::Connection dest = pg::Connection::open(
        options_.target, {"destination", false, store::application_name(options_.task), ""});
    store::TaskStore(dest).set_settings(options_.task, options_.object_args, throttles);
  } catch (const std::exception& e) {
    log::Event("settings_not_stored").field("task", options_.task).field("error", e.what()).warn();
  }
}

void LiveSettings::watch_reloads(const std::atomic<bool>& stop, std::atomic<bool>& requested) {
  watcher_ = std::thread([this, &stop, &requested] {
    while (!stop && !done_) {
      if (requested.exchange(false)) reload();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
}

void LiveSettings::reload() {
  Options fresh;
  {
    std::lock_guard lock(mutex_);
    if (options_.config_path.empty()) {
      log::Event("reload_ignored").field("reason", "no --config file to read again").warn();
      return;
    }
    try {
      fresh = reread_(options_);
    } catch (const Error& e) {
      log::Event("reload_failed")
          .field("config", options_.config_path)
          .field("error", e.what())
          .field("kept", describe_throttles(options_))
          .warn();
      return;
    }
    options_ = fresh;
  }
  apply(fresh);
  store();
}

void LiveSettings::apply(const Options& o) {
  full_.set_limits(full_limits(o));
  incremental_.set_limits(change_limits(o));
  if (on_change_) on_change_(o);
  log::Event("throttles_changed").field("task", o.task).field("throttles", describe_throttles(o)).info();
}

}  // namespace pgdts::sync
