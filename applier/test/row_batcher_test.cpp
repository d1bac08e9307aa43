#include <memory>

#include <gtest/gtest.h>

#include "apply/row_batcher.h"

using pgdts::apply::RowBatcher;

namespace {

std::shared_ptr<const pgdts::stream::Relation> relation(std::uint32_t oid) {
  auto rel = std::make_shared<pgdts::stream::Relation>();
  rel->oid = oid;
  rel->columns = {{"id", 23, -1, "integer", false}};
  return rel;
}

pgdts::Tuple row(std::int64_t id) {
  pgdts::Tuple t;
  t.add_values()->set_int_value(id);
  return t;
}

}  // namespace

TEST(RowBatcher, KeepsEachTablesRowsInOrderAndTablesInFirstInsertOrder) {
  RowBatcher b(100, 1 << 20);
  auto a = relation(1), c = relation(2);
  b.add(a, row(1), 10);
  b.add(c, row(100), 11);
  b.add(a, row(2), 12);
  EXPECT_TRUE(b.holds(1));
  EXPECT_TRUE(b.holds(2));
  auto all = b.take_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].rel->oid, 1u);
  ASSERT_EQ(all[0].rows.size(), 2u);
  EXPECT_EQ(all[0].rows[0].row.values(0).int_value(), 1);
  EXPECT_EQ(all[0].rows[1].row.values(0).int_value(), 2);
  EXPECT_EQ(all[0].rows[1].lsn, 12u);
  EXPECT_EQ(all[1].rel->oid, 2u);
  EXPECT_TRUE(b.empty());
}

TEST(RowBatcher, TakeOneTable) {
  RowBatcher b(100, 1 << 20);
  b.add(relation(1), row(1), 1);
  b.add(relation(2), row(2), 2);
  auto t = b.take(1);
  EXPECT_EQ(t.rows.size(), 1u);
  EXPECT_FALSE(b.holds(1));
  EXPECT_TRUE(b.holds(2));
  EXPECT_TRUE(b.take(7).rows.empty());
}

TEST(RowBatcher, FullByRowsOrBytes) {
  RowBatcher by_rows(2, 1 << 20);
  by_rows.add(relation(1), row(1), 1);
  EXPECT_FALSE(by_rows.full());
  by_rows.add(relation(1), row(2), 2);
  EXPECT_TRUE(by_rows.full());
  by_rows.take_all();
  EXPECT_FALSE(by_rows.full());

  RowBatcher by_bytes(100, 8);
  pgdts::Tuple big;
  big.add_values()->set_text_value(std::string(64, 'x'));
  by_bytes.add(relation(1), big, 1);
  EXPECT_TRUE(by_bytes.full());
}
