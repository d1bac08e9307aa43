#include "fullsync/plan.h"

#include <gtest/gtest.h>

namespace pgdts::fullsync {
namespace {

constexpr std::int64_t MB = 1 << 20;

PlanInput table(std::int64_t bytes) { return {bytes / 8192, bytes, false}; }

TEST(ChunkPlan, SmallTablesAreCopiedWhole) {
  auto chunks = plan_chunks({table(10 * MB), table(20 * MB)}, {4, 32 * MB, 256 * MB});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_TRUE(chunks[0].whole());
  EXPECT_EQ(ctid_condition(chunks[0]), "");
}

TEST(ChunkPlan, BiggestTableFirst) {
  auto chunks = plan_chunks({table(1 * MB), table(30 * MB), table(5 * MB)}, {2, 32 * MB, 256 * MB});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].table, 1u);
  EXPECT_EQ(chunks[1].table, 2u);
  EXPECT_EQ(chunks[2].table, 0u);
}

TEST(ChunkPlan, OneBigTableUsesEveryJob) {
  // 4 jobs, one 1 GB table and a small one: chunks of total/(2*jobs).
  auto chunks = plan_chunks({table(1024 * MB), table(8 * MB)}, {4, 32 * MB, 256 * MB});
  std::size_t big = 0;
  for (const auto& c : chunks) big += c.table == 0;
  EXPECT_GE(big, 8u);
  EXPECT_EQ(chunks.back().table, 1u);
}

TEST(ChunkPlan, RangesCoverEveryBlockOnceAndTheLastIsOpen) {
  PlanInput t{1000, 1000 * 8192, false};
  auto chunks = plan_chunks({t}, {3, 1, 256 * MB});
  ASSERT_GT(chunks.size(), 1u);
  EXPECT_FALSE(chunks.front().first_block);
  EXPECT_FALSE(chunks.back().end_block);
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].end_block);
    ASSERT_TRUE(chunks[i + 1].first_block);
    EXPECT_EQ(*chunks[i].end_block, *chunks[i + 1].first_block);
    EXPECT_EQ(chunks[i].count, static_cast<int>(chunks.size()));
    EXPECT_EQ(chunks[i].index, static_cast<int>(i));
  }
  EXPECT_EQ(ctid_condition(chunks[1]), "ctid >= '(" + std::to_string(*chunks[1].first_block) +
                                           ",0)'::pg_catalog.tid AND ctid < '(" +
                                           std::to_string(*chunks[1].end_block) +
                                           ",0)'::pg_catalog.tid");
}

TEST(ChunkPlan, ChunkSizeIsClamped) {
  EXPECT_EQ(chunk_bytes({table(10 * MB)}, {1, 32 * MB, 256 * MB}), 32 * MB);
  EXPECT_EQ(chunk_bytes({table(100000 * MB)}, {2, 32 * MB, 256 * MB}), 256 * MB);
  EXPECT_EQ(chunk_bytes({table(800 * MB)}, {4, 32 * MB, 256 * MB}), 100 * MB);
}

TEST(ChunkPlan, WholeTablesAndTinyTablesAreNotSplit) {
  PlanInput whole = table(1024 * MB);
  whole.whole = true;
  auto chunks = plan_chunks({whole, {1, 1 << 30, false}}, {4, 1, 256 * MB});
  ASSERT_EQ(chunks.size(), 2u);  // one page cannot be split either
  EXPECT_TRUE(chunks[0].whole() && chunks[1].whole());
}

TEST(ChunkPlan, NoMoreRangesThanPages) {
  auto chunks = plan_chunks({{3, 3000 * MB, false}}, {8, 1, 256 * MB});
  EXPECT_EQ(chunks.size(), 3u);
}

}  // namespace
}  // namespace pgdts::fullsync
