#include "metrics/alerts.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace pgdts::metrics {
namespace {

using namespace std::chrono_literals;
using Clock = AlertPolicy::Clock;

std::string str(const char* event) { return event ? event : "(none)"; }

TEST(AlertPolicy, FailingOnceUntilRecovered) {
  AlertPolicy p(std::nullopt, 60s);
  EXPECT_EQ(str(p.progressed()), "(none)");  // nothing failed
  EXPECT_EQ(str(p.failure_retried()), "task_failing");
  EXPECT_EQ(str(p.failure_retried()), "(none)");  // the same failure, retried again
  EXPECT_EQ(str(p.progressed()), "task_recovered");
  EXPECT_EQ(str(p.progressed()), "(none)");
  EXPECT_EQ(str(p.failure_retried()), "task_failing");
  EXPECT_EQ(str(p.failure_final()), "task_failed");
}

TEST(AlertPolicy, LatencyHighOnlyAfterTheHoldAndRecoveredOnce) {
  AlertPolicy p(5.0, 60s);
  auto t0 = Clock::now();
  EXPECT_EQ(str(p.latency(std::nullopt, t0)), "(none)");
  EXPECT_EQ(str(p.latency(9.0, t0)), "(none)");
  EXPECT_EQ(str(p.latency(9.0, t0 + 59s)), "(none)");
  EXPECT_EQ(str(p.latency(9.0, t0 + 60s)), "latency_high");
  EXPECT_EQ(str(p.latency(9.0, t0 + 61s)), "(none)");  // once per transition
  EXPECT_EQ(str(p.latency(std::nullopt, t0 + 62s)), "(none)");
  EXPECT_EQ(str(p.latency(1.0, t0 + 63s)), "latency_recovered");
  EXPECT_EQ(str(p.latency(1.0, t0 + 64s)), "(none)");
}

TEST(AlertPolicy, LatencyDipUnderTheThresholdRestartsTheHold) {
  AlertPolicy p(5.0, 60s);
  auto t0 = Clock::now();
  EXPECT_EQ(str(p.latency(9.0, t0)), "(none)");
  EXPECT_EQ(str(p.latency(1.0, t0 + 30s)), "(none)");  // never alerted: nothing recovers
  EXPECT_EQ(str(p.latency(9.0, t0 + 40s)), "(none)");
  EXPECT_EQ(str(p.latency(9.0, t0 + 90s)), "(none)");
  EXPECT_EQ(str(p.latency(9.0, t0 + 100s)), "latency_high");
}

TEST(AlertPolicy, NoThresholdNoLatencyAlerts) {
  AlertPolicy p(std::nullopt, 0s);
  EXPECT_EQ(str(p.latency(1e6, Clock::now())), "(none)");
}

TEST(Alerts, EventJson) {
  AlertEvent e{"t\"1", "task_failing", "destination rejected\nINSERT", "incremental", 1.5,
               1764128400123456};
  EXPECT_EQ(to_json(e),
            "{\"task\":\"t\\\"1\",\"event\":\"task_failing\",\"at\":\"2025-11-26T03:40:00.123456Z\","
            "\"message\":\"destination rejected\\nINSERT\",\"latency_seconds\":1.500,"
            "\"phase\":\"incremental\"}\n");
  e.latency_seconds.reset();
  EXPECT_NE(to_json(e).find("\"latency_seconds\":null"), std::string::npos);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AlertCommand, DeliversEveryEventInOrderBeforeItIsDestroyed) {
  char dir[] = "/tmp/pgdts_alerts_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string out = std::string(dir) + "/events";
  {
    AlertCommand c("cat >> " + out, 30s);
    c.send("a", "{\"n\":1}\n");
    c.send("b", "{\"n\":2}\n");
  }
  EXPECT_EQ(read_file(out), "{\"n\":1}\n{\"n\":2}\n");
  std::remove(out.c_str());
  rmdir(dir);
}

// Whether a process of the group runs (zombies, left for init to reap, do not).
bool group_has_live_process(pid_t group) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string stat = read_file(entry.path().string() + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 2));
    char state = 0;
    long ppid = 0, pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == group && state != 'Z' && state != 'X') return true;
  }
  return false;
}

TEST(AlertCommand, ACommandPastItsTimeoutIsKilledWithItsChildren) {
  char dir[] = "/tmp/pgdts_alerts_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string pidfile = std::string(dir) + "/pid";
  {
    // The shell's pid is its process group's id; sleep is its child.
    AlertCommand c("echo $$ > " + pidfile + "; sleep 600; echo late", 1s);
    c.send("a", "{}\n");
  }
  pid_t group = std::stoi(read_file(pidfile));
  EXPECT_FALSE(group_has_live_process(group));
  std::remove(pidfile.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace pgdts::metrics
