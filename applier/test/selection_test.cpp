#include "model/selection.h"

#include <gtest/gtest.h>

#include "error.h"

namespace pgdts::model {
namespace {

TEST(NameMap, IdentityKeepsEveryName) {
  NameMap m = NameMap::parse({}, CasePolicy::keep);
  EXPECT_TRUE(m.is_identity());
  EXPECT_EQ(m.table({"Sales", "Order Items"}), (TableName{"Sales", "Order Items"}));
  EXPECT_EQ(m.column({"s", "t"}, "Col"), "Col");
}

TEST(NameMap, OneByOneRulesRenameSchemaTableAndColumn) {
  NameMap m = NameMap::parse({"app=app2", "app.users=customers", "app.users.pw=password_hash"},
                             CasePolicy::keep);
  EXPECT_EQ(m.table({"app", "users"}), (TableName{"app2", "customers"}));
  EXPECT_EQ(m.table({"app", "orders"}), (TableName{"app2", "orders"}));
  EXPECT_EQ(m.column({"app", "users"}, "pw"), "password_hash");
  EXPECT_EQ(m.column({"app", "orders"}, "pw"), "pw");
  EXPECT_EQ(m.schema("other"), "other");
}

TEST(NameMap, BulkRulesReplaceTheStar) {
  NameMap m = NameMap::parse({"*=src_*", "app.*=t_*", "*.*.*_id=*_key"}, CasePolicy::keep);
  EXPECT_EQ(m.schema("app"), "src_app");
  EXPECT_EQ(m.table({"app", "users"}), (TableName{"src_app", "t_users"}));
  EXPECT_EQ(m.table({"other", "users"}), (TableName{"src_other", "users"}));
  EXPECT_EQ(m.column({"x", "y"}, "user_id"), "user_key");
  EXPECT_EQ(m.column({"x", "y"}, "name"), "name");
}

TEST(NameMap, OneByOneBeatsBulkAndFirstBulkWins) {
  NameMap m = NameMap::parse({"a*=first_*", "ab*=second_*", "abc=exact"}, CasePolicy::keep);
  EXPECT_EQ(m.schema("abc"), "exact");
  EXPECT_EQ(m.schema("abd"), "first_bd");
}

TEST(NameMap, CasePolicySpellsNamesNoRuleNames) {
  NameMap lower = NameMap::parse({"S.T=KeepMe"}, CasePolicy::lower);
  EXPECT_EQ(lower.table({"S", "T"}), (TableName{"s", "KeepMe"}));
  EXPECT_EQ(lower.table({"S", "Other"}), (TableName{"s", "other"}));
  EXPECT_EQ(lower.column({"S", "T"}, "MixedCol"), "mixedcol");
  NameMap upper = NameMap::parse({"s.*=p_*"}, CasePolicy::upper);
  EXPECT_EQ(upper.table({"s", "t"}), (TableName{"S", "P_T"}));
  EXPECT_FALSE(upper.is_identity());
}

TEST(NameMap, QuotedNamesHoldDotsAndQuotes) {
  NameMap m = NameMap::parse({"\"my.schema\".\"a \"\"b\"\"\"=plain"}, CasePolicy::keep);
  EXPECT_EQ(m.table({"my.schema", "a \"b\""}).name, "plain");
}

TEST(NameMap, BadRulesAreUsageErrors) {
  EXPECT_THROW(NameMap::parse({"nothing"}, CasePolicy::keep), UsageError);
  EXPECT_THROW(NameMap::parse({"a.b.c.d=x"}, CasePolicy::keep), UsageError);
  EXPECT_THROW(NameMap::parse({"a=b.c"}, CasePolicy::keep), UsageError);
  EXPECT_THROW(NameMap::parse({"a=x*"}, CasePolicy::keep), UsageError);
  EXPECT_THROW(NameMap::parse({"a=x", "a=y"}, CasePolicy::keep), UsageError);
  EXPECT_THROW(NameMap::parse({"a*.b=x"}, CasePolicy::keep), UsageError);
  EXPECT_THROW(NameMap::parse({"\"open=x"}, CasePolicy::keep), UsageError);
}

TEST(Selection, NothingSelectedMeansEverything) {
  Selection s = Selection::parse({}, {}, {"public.tmp_*", "scratch"});
  EXPECT_TRUE(s.selects_everything());
  EXPECT_TRUE(s.includes({"public", "users"}));
  EXPECT_FALSE(s.includes({"public", "tmp_1"}));
  EXPECT_FALSE(s.includes({"scratch", "x"}));
  EXPECT_TRUE(s.includes_schema("public"));
  EXPECT_FALSE(s.includes_schema("scratch"));
}

TEST(Selection, SchemasAndTablesAdd) {
  Selection s = Selection::parse({"app, sales"}, {"misc.config"}, {"app.audit"});
  EXPECT_TRUE(s.includes({"app", "users"}));
  EXPECT_FALSE(s.includes({"app", "audit"}));
  EXPECT_TRUE(s.includes({"sales", "orders"}));
  EXPECT_TRUE(s.includes({"misc", "config"}));
  EXPECT_FALSE(s.includes({"misc", "other"}));
  EXPECT_TRUE(s.includes_schema("app"));
  EXPECT_FALSE(s.includes_schema("misc"));
  EXPECT_FALSE(s.picks_tables_only());
}

TEST(Selection, NamesAreExact) {
  Selection s = Selection::parse({}, {"\"Odd Schema\".\"Table,1\""}, {});
  EXPECT_TRUE(s.picks_tables_only());
  EXPECT_TRUE(s.includes({"Odd Schema", "Table,1"}));
  EXPECT_FALSE(s.includes({"odd schema", "table,1"}));
}

TEST(Selection, BadEntriesAreUsageErrors) {
  EXPECT_THROW(Selection::parse({"a.b"}, {}, {}), UsageError);
  EXPECT_THROW(Selection::parse({}, {"justname"}, {}), UsageError);
  EXPECT_THROW(Selection::parse({}, {"a.b.c"}, {}), UsageError);
  EXPECT_THROW(Selection::parse({"a,,b"}, {}, {}), UsageError);
  EXPECT_THROW(Selection::parse({}, {}, {"x..y"}), UsageError);
}

TEST(Glob, StarsMatchAnyRun) {
  EXPECT_TRUE(glob_match("tmp_*", "tmp_"));
  EXPECT_TRUE(glob_match("*_log_*", "a_log_b"));
  EXPECT_FALSE(glob_match("tmp_*", "temp_1"));
  EXPECT_TRUE(glob_match("*", ""));
}

TEST(DisplayName, QuotesWhatNeedsIt) {
  EXPECT_EQ(display_name({"public", "users"}), "public.users");
  EXPECT_EQ(display_name({"My", "a\"b"}), "\"My\".\"a\"\"b\"");
}

}  // namespace
}  // namespace pgdts::model
