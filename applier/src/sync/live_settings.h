// What pgdts sync may change while it runs: the throttles (--full-qps,
// --full-rps, --full-mbps, --incr-rps, --incr-mbps). On SIGHUP a thread
// reads the --config file again (options given on the command line stay as
// they are), hands the new limits to the token buckets the full-sync
// workers and the apply session share, logs them and stores them with the
// task for pgdts status. A file that no longer parses changes nothing.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "apply/change_throttle.h"
#include "model/options.h"
#include "fullsync/throttle.h"

namespace pgdts::sync {

using model::Options;

// Reads the config file again: the options with their throttles as it says
// now (cli::reread_throttles). Throws Error when it no longer parses.
using RereadThrottles = std::function<Options(const Options&)>;

class LiveSettings {
 public:
  LiveSettings(const Options& options, RereadThrottles reread);
  ~LiveSettings();
  LiveSettings(const LiveSettings&) = delete;
  LiveSettings& operator=(const LiveSettings&) = delete;

  fullsync::Throttle& full_sync() { return full_; }
  apply::ChangeThrottle& incremental() { return incremental_; }

  // Called (on the watcher thread) with the options after each reload that
  // changed them; set before watch_reloads.
  void on_change(std::function<void(const Options&)> f) { on_change_ = std::move(f); }
  // Stores the current limits with the task (best effort).
  void store();
  // Reads the config again each time `requested` is set (by SIGHUP's
  // handler; cleared here), until stop is set or this object goes away.
  void watch_reloads(const std::atomic<bool>& stop, std::atomic<bool>& requested);

 private:
  void reload();
  void apply(const Options& options);

  std::mutex mutex_;  // options_
  Options options_;
  RereadThrottles reread_;
  fullsync::Throttle full_;
  apply::ChangeThrottle incremental_;
  std::function<void(const Options&)> on_change_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace pgdts::sync
