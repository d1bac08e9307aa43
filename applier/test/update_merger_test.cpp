#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "apply/update_merger.h"

using namespace pgdts;
using pgdts::apply::UpdateMerger;

namespace {

std::shared_ptr<const stream::Relation> relation(std::uint32_t oid) {
  auto rel = std::make_shared<stream::Relation>();
  rel->oid = oid;
  rel->schema = "public";
  rel->name = "t" + std::to_string(oid);
  rel->columns = {{"id", 23, -1, "integer", true}, {"v", 25, -1, "text", false}};
  rel->key_columns = {0};
  rel->version = oid;
  return rel;
}

pgdts::Tuple row(std::int64_t id, const char* v) {
  pgdts::Tuple t;
  t.add_values()->set_int_value(id);
  t.add_values()->set_text_value(v);
  return t;
}

struct Emitted {
  std::uint32_t oid;
  std::int64_t id;
  std::string v;
  pg::Lsn lsn;
};

UpdateMerger::Emit collect(std::vector<Emitted>& out) {
  return [&out](const stream::Relation& r, const std::vector<UpdateMerger::Held>& rows) {
    for (const auto& h : rows)
      out.push_back({r.oid, h.row.values(0).int_value(), h.row.values(1).text_value(), h.lsn});
  };
}

}  // namespace

TEST(UpdateMerger, KeepsTheLastImageOfEachKeyInFirstUpdateOrder) {
  UpdateMerger m(100, 1 << 20);
  auto t = relation(1);
  EXPECT_FALSE(m.add(t, row(1, "a"), 10));
  EXPECT_FALSE(m.add(t, row(2, "b"), 20));
  EXPECT_TRUE(m.add(t, row(1, "c"), 30));
  EXPECT_TRUE(m.add(t, row(1, "d"), 40));
  std::vector<Emitted> out;
  m.drain_all(collect(out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, 1);
  EXPECT_EQ(out[0].v, "d");
  EXPECT_EQ(out[0].lsn, 40u);
  EXPECT_EQ(out[1].id, 2);
  EXPECT_EQ(out[1].v, "b");
  EXPECT_TRUE(m.empty());
}

TEST(UpdateMerger, DrainsOneTableAndKeepsTheOthers) {
  UpdateMerger m(100, 1 << 20);
  auto a = relation(1), b = relation(2);
  m.add(a, row(1, "a"), 1);
  m.add(b, row(1, "b"), 2);
  EXPECT_TRUE(m.holds(1));
  std::vector<Emitted> out;
  auto emit = collect(out);
  m.drain(1, emit);
  EXPECT_FALSE(m.holds(1));
  EXPECT_TRUE(m.holds(2));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].oid, 1u);
  m.drain_all(emit);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].oid, 2u);
}

TEST(UpdateMerger, KeysOfDifferentKindsOrLengthsDoNotCollide) {
  UpdateMerger m(100, 1 << 20);
  auto rel = std::make_shared<stream::Relation>();
  rel->oid = 5;
  rel->columns = {{"k1", 25, -1, "text", true}, {"k2", 25, -1, "text", true}};
  rel->key_columns = {0, 1};
  pgdts::Tuple x, y, z;
  x.add_values()->set_text_value("ab");
  x.add_values()->set_text_value("c");
  y.add_values()->set_text_value("a");
  y.add_values()->set_text_value("bc");
  z.add_values()->set_is_null(true);
  z.add_values()->set_text_value("abc");
  EXPECT_FALSE(m.add(rel, x, 1));
  EXPECT_FALSE(m.add(rel, y, 2));
  EXPECT_FALSE(m.add(rel, z, 3));
}

TEST(UpdateMerger, FullByRowsOrBytes) {
  UpdateMerger by_rows(2, 1 << 20);
  auto t = relation(1);
  by_rows.add(t, row(1, "a"), 1);
  EXPECT_FALSE(by_rows.full());
  by_rows.add(t, row(1, "b"), 2);  // same key: still one row
  EXPECT_FALSE(by_rows.full());
  by_rows.add(t, row(2, "c"), 3);
  EXPECT_TRUE(by_rows.full());

  UpdateMerger by_bytes(100, 64);
  by_bytes.add(t, row(1, std::string(100, 'x').c_str()), 1);
  EXPECT_TRUE(by_bytes.full());
  by_bytes.clear();
  EXPECT_TRUE(by_bytes.empty());
  EXPECT_FALSE(by_bytes.full());
}
