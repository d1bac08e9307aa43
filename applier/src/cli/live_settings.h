// What pgdts sync may change while it runs: the throttles (--full-qps,
// --full-rps, --full-mbps, --incr-rps, --incr-mbps). On SIGHUP a thread
// reads the --config file again (options given on the command line stay as
// they are), hands the new limits to the token buckets the full-sync
// workers and the apply session share, logs them and stores them with the
// task for pgdts status. A file that no longer parses changes nothing.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "apply/change_throttle.h"
#include "cli/options.h"
#include "fullsync/throttle.h"

namespace pgdts::cli {

class LiveSettings {
 public:
  explicit LiveSettings(const Options& options);
  ~LiveSettings();
  LiveSettings(const LiveSettings&) = delete;
  LiveSettings& operator=(const LiveSettings&) = delete;

  fullsync::Throttle& full_sync() { return full_; }
  apply::ChangeThrottle& incremental() { return incremental_; }

  // Stores the current limits with the task (best effort).
  void store();
  // Watches for SIGHUP until stop is set or this object goes away.
  void watch_reloads(const std::atomic<bool>& stop);

 private:
  void reload();
  void apply(const Options& options);

  std::mutex mutex_;  // options_
  Options options_;
  fullsync::Throttle full_;
  apply::ChangeThrottle incremental_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace pgdts::cli
