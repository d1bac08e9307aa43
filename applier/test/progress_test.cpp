#include "fullsync/progress.h"

#include <gtest/gtest.h>

namespace pgdts::fullsync {
namespace {

TEST(Progress, EtaFormats) {
  EXPECT_EQ(format_eta(42.4), "42s");
  EXPECT_EQ(format_eta(185), "3m05s");
  EXPECT_EQ(format_eta(3720), "1h02m");
  EXPECT_EQ(format_eta(-1), "-");
  EXPECT_EQ(format_eta(1.0 / 0.0), "-");
  EXPECT_EQ(format_bytes(12.34e6), "12.3 MB");
  EXPECT_EQ(format_bytes(1.25e9), "1.2 GB");
}

TEST(Progress, BoardCountsDoneAndSkippedTablesButNotSkippedRows) {
  ProgressBoard board;
  TableProgress& a = board.add("public.a", 100, 1000, 2);
  TableProgress& b = board.add("public.b", 50, 500, 1);
  TableProgress& c = board.add("public.c", 10, 100, 1);
  board.finish(c, TableState::skipped);
  EXPECT_TRUE(board.start(a));
  EXPECT_FALSE(board.start(a));  // the second range of the same table
  a.rows += 60;
  a.bytes += 600;
  board.start(b);
  b.rows += 50;
  board.finish(b, TableState::copied);
  BoardSnapshot s = board.snapshot();
  EXPECT_EQ(s.tables_total, 3);
  EXPECT_EQ(s.tables_done, 2);
  EXPECT_EQ(s.rows, 110);
  EXPECT_EQ(s.rows_estimate, 150);
  ASSERT_EQ(s.tables.size(), 3u);
  EXPECT_EQ(s.tables[0].state, TableState::copying);
  EXPECT_EQ(s.tables[0].chunks_total, 2);
}

}  // namespace
}  // namespace pgdts::fullsync
