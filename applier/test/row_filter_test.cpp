#include "model/row_filter.h"
#include "model/transform.h"

#include <gtest/gtest.h>

#include "error.h"

namespace pgdts::model {
namespace {

TEST(RowFilter, SplitsTableAndConditionAtTheFirstColon) {
  RowFilter f = parse_row_filter("shop.orders: region = 'eu' AND created_at >= '2024-01-01 10:00'");
  EXPECT_EQ(f.table, (model::TableName{"shop", "orders"}));
  EXPECT_EQ(f.condition, "region = 'eu' AND created_at >= '2024-01-01 10:00'");
}

TEST(RowFilter, QuotedNamesMayHoldColonsAndDots) {
  RowFilter f = parse_row_filter("\"Sales: EU\".\"a.b\":x > 1");
  EXPECT_EQ(f.table, (model::TableName{"Sales: EU", "a.b"}));
  EXPECT_EQ(f.condition, "x > 1");
}

TEST(RowFilter, RefusesWhatIsNotSchemaTableAndCondition) {
  EXPECT_THROW(parse_row_filter("shop.orders region = 'eu'"), UsageError);
  EXPECT_THROW(parse_row_filter("orders: region = 'eu'"), UsageError);
  EXPECT_THROW(parse_row_filter("shop.orders:   "), UsageError);
  EXPECT_THROW(parse_row_filters({"shop.orders: a = 1", "shop.orders: b = 2"}), UsageError);
}

TEST(RowFilter, PluginOptionQuotesTheNameAndKeepsACommentInsideTheParentheses) {
  RowFilter f = parse_row_filter("\"S\"\"x\".t: a = 1 -- note");
  EXPECT_EQ(plugin_option(f), "\"S\"\"x\".\"t\" WHERE (\na = 1 -- note\n)");
  EXPECT_EQ(where_condition(f), "(\na = 1 -- note\n)");
}

TEST(RowFilter, FindsTheFilterOfATable) {
  auto filters = parse_row_filters({"a.t: x = 1", "b.t: y = 2"});
  ASSERT_NE(find_filter(filters, {"b", "t"}), nullptr);
  EXPECT_EQ(find_filter(filters, {"b", "t"})->condition, "y = 2");
  EXPECT_EQ(find_filter(filters, {"c", "t"}), nullptr);
}

}  // namespace

TEST(RowFilter, TheNearestNameWithAFilterWins) {
  auto filters = parse_row_filters({"s.parent: x = 1", "s.leaf: y = 2"});
  std::vector<pgdts::model::TableName> leaf{{"s", "leaf"}, {"s", "parent"}, {"s", "root"}};
  std::vector<pgdts::model::TableName> other{{"s", "other_leaf"}, {"s", "parent"}};
  std::vector<pgdts::model::TableName> none{{"s", "x"}, {"s", "root"}};
  EXPECT_EQ(nearest_filter(filters, leaf)->condition, "y = 2");
  EXPECT_EQ(nearest_filter(filters, other)->condition, "x = 1");
  EXPECT_EQ(nearest_filter(filters, none), nullptr);
}

TEST(ColumnTransform, TheNearestNameWithAnExpressionForTheColumnWins) {
  auto transforms = pgdts::model::parse_transforms(
      {"s.parent.email: md5(email)", "s.leaf.email: 'x'", "s.parent.phone: ''"});
  std::vector<pgdts::model::TableName> leaf{{"s", "leaf"}, {"s", "parent"}};
  EXPECT_EQ(pgdts::model::nearest_transform(transforms, leaf, "email")->expression, "'x'");
  EXPECT_EQ(pgdts::model::nearest_transform(transforms, leaf, "phone")->expression, "''");
  EXPECT_EQ(pgdts::model::nearest_transform(transforms, leaf, "name"), nullptr);
  EXPECT_TRUE(pgdts::model::any_transform(transforms, leaf));
  EXPECT_FALSE(pgdts::model::any_transform(transforms, {{"s", "other"}}));
}

}  // namespace pgdts::model
