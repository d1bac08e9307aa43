#include "stream/relation_cache.h"

#include <gtest/gtest.h>

namespace pgdts::stream {
namespace {

pgdts::Relation record(const char* second_column_type) {
  pgdts::Relation r;
  r.set_oid(16384);
  r.set_schema("public");
  r.set_name("t");
  auto* id = r.add_columns();
  id->set_name("id");
  id->set_type_oid(23);
  id->set_type_name("integer");
  id->set_is_key(true);
  auto* v = r.add_columns();
  v->set_name("v");
  v->set_type_oid(25);
  v->set_type_name(second_column_type);
  return r;
}

TEST(RelationCache, AnUnchangedDescriptionKeepsItsVersion) {
  RelationCache cache;
  std::uint64_t first = cache.update(record("text")).version;
  EXPECT_EQ(cache.update(record("text")).version, first);
  EXPECT_NE(cache.update(record("varchar")).version, first);
}

TEST(RelationCache, AdjustedNamesAreCompared) {
  RelationCache cache;
  auto rename = [](Relation& r) { r.name = "t2"; };
  std::uint64_t first = cache.update(record("text"), rename).version;
  EXPECT_EQ(cache.update(record("text"), rename).version, first);
  const Relation& plain = cache.update(record("text"));
  EXPECT_NE(plain.version, first);
  EXPECT_EQ(plain.name, "t");
  EXPECT_EQ(plain.source_name, "t");
}

}  // namespace
}  // namespace pgdts::stream
