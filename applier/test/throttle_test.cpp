#include "fullsync/throttle.h"

#include <gtest/gtest.h>

namespace pgdts::fullsync {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  ThrottleClock::time_point now{};
  ClockFn fn() {
    return [this] { return now; };
  }
};

double seconds(ThrottleClock::duration d) { return std::chrono::duration<double>(d).count(); }

TEST(TokenBucket, UnlimitedNeverWaits) {
  FakeClock clock;
  TokenBucket b(std::nullopt, clock.fn());
  EXPECT_FALSE(b.limited());
  EXPECT_EQ(b.take(1e9), ThrottleClock::duration::zero());
}

TEST(TokenBucket, BurstIsATenthOfASecond) {
  FakeClock clock;
  TokenBucket b(1000, clock.fn());
  EXPECT_EQ(b.take(100), ThrottleClock::duration::zero());  // the full bucket
  EXPECT_NEAR(seconds(b.take(100)), 0.1, 1e-9);             // owed now
}

TEST(TokenBucket, LongRunRateHolds) {
  // Taking 64 units at a time and sleeping what is owed: 20,000 units at
  // 1,000/s take 20 s minus the initial burst.
  FakeClock clock;
  TokenBucket b(1000, clock.fn());
  for (int taken = 0; taken < 20000; taken += 64) clock.now += b.take(64);
  EXPECT_NEAR(seconds(clock.now.time_since_epoch()), 20.0 - 0.1, 0.1);
}

TEST(TokenBucket, IdleTimeBuysNoMoreThanTheBurst) {
  FakeClock clock;
  TokenBucket b(1000, clock.fn());
  b.take(100);
  clock.now += 1h;
  EXPECT_EQ(b.take(100), ThrottleClock::duration::zero());
  EXPECT_NEAR(seconds(b.take(50)), 0.05, 1e-9);
}

TEST(TokenBucket, OneItemLargerThanTheBucketPasses) {
  FakeClock clock;
  TokenBucket b(10, clock.fn());  // capacity 1
  EXPECT_NEAR(seconds(b.take(50)), 4.9, 1e-9);
}

TEST(TokenBucket, RateChangesAtRunTime) {
  FakeClock clock;
  TokenBucket b(100, clock.fn());
  b.take(10);                       // bucket empty
  EXPECT_NEAR(seconds(b.take(100)), 1.0, 1e-9);
  b.set_rate(1000);                 // debt stays, repaid faster
  EXPECT_NEAR(seconds(b.take(0)), 0.1, 1e-9);
  b.set_rate(std::nullopt);
  EXPECT_FALSE(b.limited());
  EXPECT_EQ(b.take(1e6), ThrottleClock::duration::zero());
  b.set_rate(0);                    // zero means no limit too
  EXPECT_FALSE(b.limited());
}

TEST(Throttle, RowsAndBytesWaitForTheStricterLimit) {
  FakeClock clock;
  Throttle t({std::nullopt, 1000.0, 1.0}, clock.fn());  // 1000 rows/s, 1 MB/s
  t.take_rows(100, 100'000);                             // both buckets empty
  // 10 rows of 100 kB: the bytes owe 1 s, the rows 0.01 s.
  EXPECT_NEAR(seconds(t.take_rows(10, 1'000'000)), 1.0, 1e-9);
  EXPECT_EQ(t.take_query(), ThrottleClock::duration::zero());
  Limits l = t.limits();
  EXPECT_FALSE(l.queries_per_second);
  EXPECT_DOUBLE_EQ(*l.rows_per_second, 1000);
  EXPECT_DOUBLE_EQ(*l.megabytes_per_second, 1.0);
}

TEST(Throttle, QueriesPerSecond) {
  FakeClock clock;
  Throttle t({2.0, std::nullopt, std::nullopt}, clock.fn());
  EXPECT_EQ(t.take_query(), ThrottleClock::duration::zero());  // capacity 1
  EXPECT_NEAR(seconds(t.take_query()), 0.5, 1e-9);
  EXPECT_FALSE(t.limits_rows_or_bytes());
}

TEST(Throttle, SleepStopsEarly) {
  std::atomic<bool> stop{true};
  auto before = ThrottleClock::now();
  EXPECT_TRUE(sleep_unless_stopped(10s, stop));
  EXPECT_LT(ThrottleClock::now() - before, 1s);
}

}  // namespace
}  // namespace pgdts::fullsync
