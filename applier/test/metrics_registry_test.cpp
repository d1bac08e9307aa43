#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <chrono>

#include "metrics/task_metrics.h"

namespace pgdts::metrics {
namespace {

TEST(MetricsRegistry, RendersHelpTypeAndSeriesInLabelOrder) {
  Registry r;
  Family& changes = r.counter("pgdts_applied_changes_total", "Changes applied", {"task", "op"});
  Family& latency = r.gauge("pgdts_latency_seconds", "Latency", {"task"});
  changes.with({"t1", "update"}).add(2);
  changes.with({"t1", "insert"}).add(3);
  changes.with({"t1", "insert"}).add(1);
  latency.with({"t1"}).set(0.25);
  EXPECT_EQ(r.render(),
            "# HELP pgdts_applied_changes_total Changes applied\n"
            "# TYPE pgdts_applied_changes_total counter\n"
            "pgdts_applied_changes_total{task=\"t1\",op=\"insert\"} 4\n"
            "pgdts_applied_changes_total{task=\"t1\",op=\"update\"} 2\n"
            "# HELP pgdts_latency_seconds Latency\n"
            "# TYPE pgdts_latency_seconds gauge\n"
            "pgdts_latency_seconds{task=\"t1\"} 0.25\n");
}

TEST(MetricsRegistry, FamilyWithoutSeriesHasOnlyItsHelpAndType) {
  Registry r;
  r.gauge("pgdts_up", "Up", {});
  EXPECT_EQ(r.render(), "# HELP pgdts_up Up\n# TYPE pgdts_up gauge\n");
  r.gauge("pgdts_up", "Up", {}).with({}).set(1);
  EXPECT_EQ(r.render(), "# HELP pgdts_up Up\n# TYPE pgdts_up gauge\npgdts_up 1\n");
}

TEST(MetricsRegistry, DeclaringANameAgainReturnsTheSameFamily) {
  Registry r;
  Family& a = r.gauge("x", "first", {"task"});
  Family& b = r.gauge("x", "second", {"task"});
  EXPECT_EQ(&a, &b);
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
  Registry r;
  r.counter("c", "line one\nline two", {"table"}).with({"s.\"T\""}).add(1);
  EXPECT_EQ(r.render(),
            "# HELP c line one\\nline two\n# TYPE c counter\nc{table=\"s.\\\"T\\\"\"} 1\n");
}

TEST(MetricsRegistry, FormatsValues) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(1.5), "1.5");
  EXPECT_EQ(format_value(123456789012345.0), "123456789012345");  // an LSN, exact
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(MetricsRegistry, WrongNumberOfLabelValuesIsAnError) {
  Registry r;
  EXPECT_THROW(r.counter("c", "h", {"task", "op"}).with({"t"}), std::exception);
}

TEST(TaskMetrics, PhaseGaugeIsOneForTheCurrentPhaseOnly) {
  Registry r;
  TaskMetrics m(r, "t");
  m.set_phase("full");
  m.set_phase("incremental");
  std::string text = r.render();
  EXPECT_NE(text.find("pgdts_phase{task=\"t\",phase=\"incremental\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pgdts_phase{task=\"t\",phase=\"full\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pgdts_phase{task=\"t\",phase=\"schema\"} 0\n"), std::string::npos) << text;
}

TEST(TaskMetrics, TableCountsAddUpPerOperationAndOnlyNonZeroOnesAppear) {
  Registry r;
  TaskMetrics m(r, "t");
  TableCounts c;
  c.table = "public.a";
  c.inserts = 3;
  c.bytes = 300;
  m.add_table_counts(c);
  c.inserts = 1;
  c.deletes = 2;
  c.bytes = 50;
  m.add_table_counts(c);
  std::string text = r.render();
  EXPECT_NE(text.find("pgdts_applied_changes_total{task=\"t\",table=\"public.a\",op=\"insert\"} 4\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pgdts_applied_changes_total{task=\"t\",table=\"public.a\",op=\"delete\"} 2\n"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("op=\"update\""), std::string::npos) << text;
  EXPECT_NE(text.find("pgdts_applied_bytes_total{task=\"t\",table=\"public.a\"} 350\n"),
            std::string::npos) << text;
}

TEST(TaskMetrics, OnlyLimitsThatAreSetAppear) {
  Registry r;
  TaskMetrics m(r, "t");
  ThrottleLimits l;
  l.incr_rps = 500;
  m.set_limits(l);
  std::string text = r.render();
  EXPECT_NE(text.find("pgdts_incr_rps_limit{task=\"t\"} 500\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("pgdts_incr_mbps_limit"), std::string::npos) << text;
}

TEST(TaskMetrics, FullSyncProgressPerTableLeavesOutTablesCopiedEarlier) {
  Registry r;
  TaskMetrics m(r, "t");
  fullsync::BoardSnapshot b;
  b.tables_total = 2;
  b.tables_done = 1;
  b.tables.push_back({"public.a", fullsync::TableState::copying, 10, 100, 20, 200, 0, 1, 1});
  b.tables.push_back({"public.b", fullsync::TableState::skipped, 0, 0, 5, 50, 0, 1, 0});
  m.full_sync_observer().tick(b, false);
  std::string text = r.render();
  EXPECT_NE(text.find("pgdts_full_sync_rows{task=\"t\",table=\"public.a\"} 10\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("pgdts_full_sync_tables_done{task=\"t\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("public.b"), std::string::npos) << text;
}

std::int64_t micros_ago(double seconds) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() -
         static_cast<std::int64_t>(seconds * 1e6);
}

TEST(TaskMetrics, LatencyIsUnknownBeforeAnythingWasApplied) {
  Registry r;
  TaskMetrics m(r, "t");
  EXPECT_FALSE(m.latency_seconds());
  m.set_apply_position(0, 0);
  EXPECT_FALSE(m.latency_seconds());
}

TEST(TaskMetrics, LatencyIsZeroWhenNothingIsPendingAndHeartbeatsKeepUp) {
  Registry r;
  TaskMetrics m(r, "t");
  m.set_apply_position(micros_ago(4), 0);  // the last heartbeat, 4 s ago
  EXPECT_EQ(m.latency_seconds(), 0.0);
}

TEST(TaskMetrics, LatencyCountsFromTheOldestPendingCommit) {
  Registry r;
  TaskMetrics m(r, "t");
  m.set_apply_position(micros_ago(4), micros_ago(3));
  ASSERT_TRUE(m.latency_seconds());
  EXPECT_GE(*m.latency_seconds(), 3.0);
  EXPECT_LT(*m.latency_seconds(), 4.0);  // not from the last durable commit
}

TEST(TaskMetrics, LatencyCountsFromTheLastDurableCommitWhenHeartbeatsDoNotArrive) {
  Registry r;
  TaskMetrics m(r, "t");
  m.set_apply_position(micros_ago(30), 0);
  ASSERT_TRUE(m.latency_seconds());
  EXPECT_GE(*m.latency_seconds(), 30.0);
}

}  // namespace
}  // namespace pgdts::metrics
