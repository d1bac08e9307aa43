// Where a destination sequence is moved to (schema::sequence_target): the
// source's value plus a margin of increments, never back, within bounds.
#include <gtest/gtest.h>

#include "error.h"
#include "schema/schema_sync.h"

namespace pgdts::schema {
namespace {

SequenceValue v(std::int64_t last, bool called) { return {last, called}; }

TEST(SequenceTarget, MovesABehindSequenceToTheSourceValue) {
  auto t = sequence_target(v(1, false), v(1041, true), {}, 0, "s.q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->last_value, 1041);
  EXPECT_TRUE(t->is_called);
}

TEST(SequenceTarget, AddsTheMarginInIncrements) {
  auto t = sequence_target(v(1041, true), v(1041, true), {5, 1, INT64_MAX}, 1000, "s.q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->last_value, 1041 + 5000);
  EXPECT_TRUE(t->is_called);
}

TEST(SequenceTarget, NeverMovesBack) {
  EXPECT_FALSE(sequence_target(v(5000, true), v(1041, true), {}, 1000, "s.q"));
  EXPECT_FALSE(sequence_target(v(1041, true), v(1041, true), {}, 0, "s.q"));
}

TEST(SequenceTarget, ComparesByTheNextValueHandedOut) {
  // Destination (10, not called) hands out 10; source (10, called) 11.
  auto t = sequence_target(v(10, false), v(10, true), {}, 0, "s.q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->last_value, 10);
  EXPECT_TRUE(t->is_called);
  // Destination (10, called) hands out 11; source (11, not called) too.
  EXPECT_FALSE(sequence_target(v(10, true), v(11, false), {}, 0, "s.q"));
}

TEST(SequenceTarget, KeepsTheSourcesIsCalled) {
  auto t = sequence_target(v(1, false), v(100, false), {}, 10, "s.q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->last_value, 110);
  EXPECT_FALSE(t->is_called);
}

TEST(SequenceTarget, DescendingSequencesMoveDown) {
  SequenceBounds down{-1, -1000000, -1};
  auto t = sequence_target(v(-1, false), v(-50, true), down, 100, "s.down");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->last_value, -150);
  EXPECT_FALSE(sequence_target(v(-500, true), v(-50, true), down, 100, "s.down"));
}

TEST(SequenceTarget, PastMaxvalueIsAnErrorNamingTheSequence) {
  try {
    sequence_target(v(1, false), v(1041, true), {1, 1, 1500}, 1000, "app.items_id_seq");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("app.items_id_seq"), std::string::npos) << m;
    EXPECT_NE(m.find("MAXVALUE 1500"), std::string::npos) << m;
    EXPECT_NE(m.find("--sequence-margin"), std::string::npos) << m;
  }
}

TEST(SequenceTarget, TheMarginCannotOverflowBigint) {
  EXPECT_THROW(sequence_target(v(1, false), v(INT64_MAX - 10, true), {1, 1, INT64_MAX}, 1000, "s.q"),
               Error);
  EXPECT_THROW(sequence_target(v(-1, false), v(-10, true), {-1, INT64_MIN, -1}, INT64_MAX, "s.q"),
               Error);
}

TEST(SequenceTarget, AtMaxvalueWithoutMarginIsAllowed) {
  auto t = sequence_target(v(1, false), v(1500, true), {1, 1, 1500}, 0, "s.q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->last_value, 1500);
}

}  // namespace
}  // namespace pgdts::schema
