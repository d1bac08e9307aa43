// Token buckets that lend (see throttle.h).
#include "fullsync/throttle.h"

#include <algorithm>
#include <thread>

namespace pgdts::fullsync {
namespace {

constexpr double kBurstSeconds = 0.1;

std::optional<double> valid(std::optional<double> rate) {
  if (rate && !(*rate > 0)) return std::nullopt;  // 0 or negative: no limit
  return rate;
}

}  // namespace

TokenBucket::TokenBucket(std::optional<double> rate, ClockFn clock)
    : clock_(clock ? std::move(clock) : ClockFn([] { return ThrottleClock::now(); })) {
  last_ = clock_();
  set_rate(rate);
}

double TokenBucket::capacity() const { return std::max(1.0, *rate_ * kBurstSeconds); }

void TokenBucket::refill(ThrottleClock::time_point now) {
  if (rate_ && now > last_) {
    double seconds = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(capacity(), tokens_ + seconds * *rate_);
  }
  last_ = now;
}

ThrottleClock::duration TokenBucket::take(double n) {
  if (!limited()) return ThrottleClock::duration::zero();
  std::lock_guard lock(mutex_);
  if (!rate_) return ThrottleClock::duration::zero();
  refill(clock_());
  tokens_ -= n;
  if (tokens_ >= 0) return ThrottleClock::duration::zero();
  return std::chrono::duration_cast<ThrottleClock::duration>(
      std::chrono::duration<double>(-tokens_ / *rate_));
}

void TokenBucket::set_rate(std::optional<double> rate) {
  std::lock_guard lock(mutex_);
  refill(clock_());
  bool was_limited = rate_.has_value();
  rate_ = valid(rate);
  if (rate_) {
    // A new limit starts with a full bucket, a changed one keeps its debt.
    tokens_ = was_limited ? std::min(tokens_, capacity()) : capacity();
  } else {
    tokens_ = 0;
  }
  limited_.store(rate_.has_value(), std::memory_order_relaxed);
}

std::optional<double> TokenBucket::rate() const {
  std::lock_guard lock(mutex_);
  return rate_;
}

Throttle::Throttle(const Limits& limits, ClockFn clock)
    : queries_(std::nullopt, clock), rows_(std::nullopt, clock), bytes_(std::nullopt, clock) {
  set_limits(limits);
}

void Throttle::set_limits(const Limits& limits) {
  queries_.set_rate(limits.queries_per_second);
  rows_.set_rate(limits.rows_per_second);
  bytes_.set_rate(limits.megabytes_per_second
                      ? std::optional<double>(*limits.megabytes_per_second * 1e6)
                      : std::nullopt);
}

Limits Throttle::limits() const {
  auto mb = bytes_.rate();
  return {queries_.rate(), rows_.rate(), mb ? std::optional<double>(*mb / 1e6) : std::nullopt};
}

ThrottleClock::duration Throttle::take_query() { return queries_.take(1); }

ThrottleClock::duration Throttle::take_rows(std::int64_t rows, std::int64_t bytes) {
  return std::max(rows_.take(static_cast<double>(rows)), bytes_.take(static_cast<double>(bytes)));
}

bool sleep_unless_stopped(ThrottleClock::duration wait, const std::atomic<bool>& stop) {
  auto until = ThrottleClock::now() + wait;
  while (true) {
    if (stop.load(std::memory_order_relaxed)) return true;
    auto now = ThrottleClock::now();
    if (now >= until) return false;
    std::this_thread::sleep_for(std::min<ThrottleClock::duration>(until - now,
                                                                  std::chrono::milliseconds(100)));
  }
}

}  // namespace pgdts::fullsync
