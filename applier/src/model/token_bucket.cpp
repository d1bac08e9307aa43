// Token buckets that lend (see token_bucket.h).
#include "model/token_bucket.h"

#include <algorithm>
#include <thread>

namespace pgdts::model {
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

}  // namespace pgdts::model
