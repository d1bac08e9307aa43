#include "ddl/parser.h"

#include <gtest/gtest.h>

#include "error.h"

namespace pgdts::ddl {
namespace {

TEST(DdlParser, ParsesAndDeparsesOneStatement) {
  pg_query::ParseResult tree = parse("ALTER TABLE s.t ADD COLUMN c int DEFAULT 1");
  ASSERT_EQ(tree.stmts_size(), 1);
  EXPECT_TRUE(tree.stmts(0).stmt().has_alter_table_stmt());
  EXPECT_EQ(deparse(tree), "ALTER TABLE s.t ADD COLUMN c int DEFAULT 1");
}

TEST(DdlParser, ReportsTheParserError) {
  try {
    parse("ALTER TABLE WHERE");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgdts::ddl
