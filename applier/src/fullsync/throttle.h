// Throttling of full sync: token buckets shared by every worker, one per
// limit (--full-qps queries/s against the source, --full-rps rows/s,
// --full-mbps MB/s with 1 MB = 1,000,000 bytes).
//
// A bucket lends: take(n) always succeeds at once and returns how long the
// caller must now wait so that the long-run rate holds (the balance may go
// negative, which is what makes a row larger than the bucket pass at all).
// The bucket holds at most a tenth of a second of tokens, so an idle moment
// buys little burst. Limits may be changed while workers run.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace pgdts::fullsync {

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

struct Limits {
  std::optional<double> queries_per_second, rows_per_second, megabytes_per_second;
};

class Throttle {
 public:
  explicit Throttle(const Limits& limits = {}, ClockFn clock = nullptr);

  void set_limits(const Limits& limits);
  Limits limits() const;
  bool limits_rows_or_bytes() const { return rows_.limited() || bytes_.limited(); }

  // The wait owed for one statement on the source.
  ThrottleClock::duration take_query();
  // The wait owed for rows and bytes just read (the longer of the two).
  ThrottleClock::duration take_rows(std::int64_t rows, std::int64_t bytes);

 private:
  TokenBucket queries_, rows_, bytes_;
};

// Sleeps for wait in steps of at most 100 ms; returns early (true) once
// stop is set.
bool sleep_unless_stopped(ThrottleClock::duration wait, const std::atomic<bool>& stop);

}  // namespace pgdts::fullsync
