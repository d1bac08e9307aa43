// A token bucket that lends: take(n) always succeeds at once and returns how
// long the caller must now wait so that the long-run rate holds (the balance
// may go negative, which is what makes an item larger than the bucket pass
// at all). The bucket holds at most a tenth of a second of tokens, so an
// idle moment buys little burst. The rate may be changed while others take.
// Full sync's limits (fullsync/throttle.h) and incremental sync's
// (apply/change_throttle.h) are made of these.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

namespace pgdts::model {

using ThrottleClock = std::chrono::steady_clock;
using ClockFn = std::function<ThrottleClock::time_point()>;

class TokenBucket {
 public:
  // rate: units per second; nullopt = unlimited.
  explicit TokenBucket(std::optional<double> rate = std::nullopt, ClockFn clock = nullptr);

  // Takes n units; returns the wait that keeps the rate (zero if none).
  ThrottleClock::duration take(double n);
  // Takes effect for what is taken from now on; units already lent stay owed.
  void set_rate(std::optional<double> rate);
  std::optional<double> rate() const;
  bool limited() const { return limited_.load(std::memory_order_relaxed); }

 private:
  void refill(ThrottleClock::time_point now);
  double capacity() const;

  ClockFn clock_;
  mutable std::mutex mutex_;
  std::optional<double> rate_;
  double tokens_ = 0;
  ThrottleClock::time_point last_{};
  std::atomic<bool> limited_{false};
};

// Sleeps for wait in steps of at most 100 ms; returns early (true) once
// stop is set.
bool sleep_unless_stopped(ThrottleClock::duration wait, const std::atomic<bool>& stop);

}  // namespace pgdts::model
