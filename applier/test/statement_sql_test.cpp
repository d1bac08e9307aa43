#include <gtest/gtest.h>

#include "apply/statement_sql.h"
#include "error.h"

using namespace pgdts::apply;

namespace {

TableNames names() { return table_names("public", "t", {"id", "v", "n"}); }

// s.ui keyed on (a, b), b compared with an extension's operator.
TableNames keyed_by_a_and_custom_b() {
  std::vector<std::string> ops{"", "OPERATOR(\"ext\".=)", ""};
  return table_names("s", "ui", {"a", "b", "payload"}, &ops);
}

}  // namespace

TEST(QuoteIdentifier, QuotesAlwaysAndDoublesQuotes) {
  EXPECT_EQ(quote_identifier("t"), "\"t\"");
  EXPECT_EQ(quote_identifier("MyTable"), "\"MyTable\"");
  EXPECT_EQ(quote_identifier("select"), "\"select\"");
  EXPECT_EQ(quote_identifier("a b"), "\"a b\"");
  EXPECT_EQ(quote_identifier("Weird \"Table\" Name"), "\"Weird \"\"Table\"\" Name\"");
  EXPECT_EQ(quote_identifier("x\"y"), "\"x\"\"y\"");
  EXPECT_EQ(quote_identifier("ÜML"), "\"ÜML\"");
}

TEST(TableNames, QualifiesSchemaAndTable) {
  TableNames t = table_names("My Schema", "Weird \"Table\" Name", {"Id", "select"});
  EXPECT_EQ(t.qualified, "\"My Schema\".\"Weird \"\"Table\"\" Name\"");
  EXPECT_EQ(t.columns[0], "\"Id\"");
  EXPECT_EQ(t.columns[1], "\"select\"");
}

TEST(InsertSql, AllColumns) {
  EXPECT_EQ(insert_sql(names(), "vvv"),
            "INSERT INTO \"public\".\"t\" (\"id\", \"v\", \"n\") OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3)");
}

TEST(InsertSql, LeavesOutUnsentColumns) {
  EXPECT_EQ(insert_sql(names(), "v-v"), "INSERT INTO \"public\".\"t\" (\"id\", \"n\") OVERRIDING SYSTEM VALUE VALUES ($1, $2)");
  EXPECT_EQ(insert_sql(names(), "---"), "INSERT INTO \"public\".\"t\" DEFAULT VALUES");
}

TEST(UpdateSql, PrimaryKeyIdentity) {
  EXPECT_EQ(update_sql(names(), "vvv", "=--", false),
            "UPDATE ONLY \"public\".\"t\" SET \"id\" = $1, \"v\" = $2, \"n\" = $3 WHERE \"id\" = $4");
}

TEST(UpdateSql, UnchangedToastLeftOutOfSet) {
  EXPECT_EQ(update_sql(names(), "v-v", "=--", false),
            "UPDATE ONLY \"public\".\"t\" SET \"id\" = $1, \"n\" = $2 WHERE \"id\" = $3");
}

TEST(UpdateSql, CompositeKeyFromIndexIdentity) {
  TableNames t = table_names("s", "ui", {"a", "b", "payload"});
  EXPECT_EQ(update_sql(t, "vvv", "==-", false),
            "UPDATE ONLY \"s\".\"ui\" SET \"a\" = $1, \"b\" = $2, \"payload\" = $3 "
            "WHERE \"a\" = $4 AND \"b\" = $5");
}

TEST(UpdateSql, FullIdentityTouchesOneRowAndMatchesNullsAndTextCompare) {
  EXPECT_EQ(update_sql(names(), "vvv", "=nt", true),
            "UPDATE ONLY \"public\".\"t\" SET \"id\" = $1, \"v\" = $2, \"n\" = $3 "
            "WHERE ctid = (SELECT ctid FROM ONLY \"public\".\"t\" "
            "WHERE \"id\" = $4 AND \"v\" IS NULL AND \"n\"::pg_catalog.text COLLATE pg_catalog.\"C\" = $5 LIMIT 1)");
}

TEST(DeleteSql, KeyAndFull) {
  EXPECT_EQ(delete_sql(names(), "=--", false), "DELETE FROM ONLY \"public\".\"t\" WHERE \"id\" = $1");
  EXPECT_EQ(delete_sql(names(), "nn=", true),
            "DELETE FROM ONLY \"public\".\"t\" WHERE ctid = (SELECT ctid FROM ONLY \"public\".\"t\" "
            "WHERE \"id\" IS NULL AND \"v\" IS NULL AND \"n\" = $1 LIMIT 1)");
  EXPECT_EQ(delete_sql(names(), "-=-", true),
            "DELETE FROM ONLY \"public\".\"t\" WHERE ctid = (SELECT ctid FROM ONLY \"public\".\"t\" "
            "WHERE \"v\" = $1 LIMIT 1)");
}

TEST(DeleteSql, QuotedMixedCaseAndReservedNames) {
  TableNames t = table_names("My Schema", "Weird \"Table\" Name", {"Id", "select", "x\"y"});
  EXPECT_EQ(delete_sql(t, "=--", false),
            "DELETE FROM ONLY \"My Schema\".\"Weird \"\"Table\"\" Name\" WHERE \"Id\" = $1");
  EXPECT_EQ(update_sql(t, "-v-", "=--", false),
            "UPDATE ONLY \"My Schema\".\"Weird \"\"Table\"\" Name\" SET \"select\" = $1 WHERE \"Id\" = $2");
}

TEST(TruncateSql, OnlyPerTableExceptPartitioned) {
  EXPECT_EQ(truncate_sql({{"\"public\".\"a\"", false}, {"\"public\".\"b\"", false}}, false),
            "TRUNCATE ONLY \"public\".\"a\", ONLY \"public\".\"b\"");
  EXPECT_EQ(truncate_sql({{"\"public\".\"p\"", true}, {"\"public\".\"p_eu\"", false}}, true),
            "TRUNCATE \"public\".\"p\", ONLY \"public\".\"p_eu\" RESTART IDENTITY");
}

TEST(CountParams, CountsValuesAndComparisons) {
  EXPECT_EQ(count_params("vv-"), 2);
  EXPECT_EQ(count_params("=nt-"), 2);
  EXPECT_EQ(count_params(""), 0);
}

TEST(ReliableEquality, TextLikeAndScalarsYesJsonXmlGeometryNumericNo) {
  EXPECT_TRUE(has_reliable_equality(23));    // int4
  EXPECT_TRUE(has_reliable_equality(25));    // text
  EXPECT_TRUE(has_reliable_equality(1043));  // varchar
  EXPECT_TRUE(has_reliable_equality(2950));  // uuid
  EXPECT_TRUE(has_reliable_equality(1184));  // timestamptz
  EXPECT_TRUE(has_reliable_equality(17));    // bytea
  EXPECT_FALSE(has_reliable_equality(114));   // json
  EXPECT_FALSE(has_reliable_equality(142));   // xml
  EXPECT_FALSE(has_reliable_equality(600));   // point
  EXPECT_FALSE(has_reliable_equality(1700));  // numeric: 1.0 = 1.00
  EXPECT_FALSE(has_reliable_equality(1186));  // interval: '1 day' = '24 hours'
  EXPECT_FALSE(has_reliable_equality(3802));  // jsonb
  EXPECT_FALSE(has_reliable_equality(16500)); // a user type
}

TEST(InsertSql, SeveralRowsNumberParametersRowByRow) {
  EXPECT_EQ(insert_sql(names(), "v-v", 3),
            "INSERT INTO \"public\".\"t\" (\"id\", \"n\") OVERRIDING SYSTEM VALUE VALUES ($1, $2), ($3, $4), ($5, $6)");
  EXPECT_EQ(insert_sql(names(), "vvv", 1),
            "INSERT INTO \"public\".\"t\" (\"id\", \"v\", \"n\") OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3)");
}

TEST(UpdateFromArraysSql, JoinsUnnestedColumnsOnTheKey) {
  EXPECT_EQ(update_from_arrays_sql(names(), "vvv", {0},
                                   {"pg_catalog.int4", "pg_catalog.text", "\"my schema\".\"my type\""}),
            "UPDATE ONLY \"public\".\"t\" AS pgdts_t SET \"id\" = pgdts_v.\"id\", \"v\" = pgdts_v.\"v\", "
            "\"n\" = pgdts_v.\"n\" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int4[]), "
            "pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::\"my schema\".\"my type\"[])) AS pgdts_v(\"id\", \"v\", \"n\") "
            "WHERE pgdts_t.\"id\" = pgdts_v.\"id\"");
}

TEST(UpdateFromArraysSql, KeyColumnsTravelEvenWhenNotSetAndUseTheIndexOperators) {
  TableNames t = keyed_by_a_and_custom_b();
  EXPECT_EQ(update_from_arrays_sql(t, "-vv", {0, 1}, {"pg_catalog.int8", "\"ext\".\"ci\"", "pg_catalog.text"}),
            "UPDATE ONLY \"s\".\"ui\" AS pgdts_t SET \"b\" = pgdts_v.\"b\", \"payload\" = pgdts_v.\"payload\" "
            "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::\"ext\".\"ci\"[]), "
            "pg_catalog.unnest($3::pg_catalog.text[])) "
            "AS pgdts_v(\"a\", \"b\", \"payload\") "
            "WHERE pgdts_t.\"a\" = pgdts_v.\"a\" AND pgdts_t.\"b\" OPERATOR(\"ext\".=) pgdts_v.\"b\"");
}

TEST(UpdateFromArraysSql, RefusesAColumnWithoutAType) {
  EXPECT_THROW(update_from_arrays_sql(names(), "vvv", {0}, {"pg_catalog.int4", "", "pg_catalog.int4"}),
               pgdts::Error);
}

TEST(InsertFromArraysSql, UnnestsTheSentColumnsAndOverwritesOnTheKey) {
  std::vector<std::string> types{"pg_catalog.int4", "pg_catalog.text", "pg_catalog.int8"};
  EXPECT_EQ(insert_from_arrays_sql(names(), "v-v", types),
            "INSERT INTO \"public\".\"t\" (\"id\", \"n\") OVERRIDING SYSTEM VALUE SELECT * FROM "
            "ROWS FROM (pg_catalog.unnest($1::pg_catalog.int4[]), pg_catalog.unnest($2::pg_catalog.int8[]))");
  std::vector<int> keys{0};
  EXPECT_EQ(insert_from_arrays_sql(names(), "vvv", types, &keys),
            "INSERT INTO \"public\".\"t\" (\"id\", \"v\", \"n\") OVERRIDING SYSTEM VALUE SELECT * FROM "
            "ROWS FROM (pg_catalog.unnest($1::pg_catalog.int4[]), pg_catalog.unnest($2::pg_catalog.text[]), "
            "pg_catalog.unnest($3::pg_catalog.int8[])) ON CONFLICT (\"id\") DO UPDATE SET \"v\" = EXCLUDED.\"v\", "
            "\"n\" = EXCLUDED.\"n\"");
}

TEST(DeleteFromArraysSql, MatchesEveryKeyColumnWithItsOperator) {
  TableNames t = keyed_by_a_and_custom_b();
  EXPECT_EQ(delete_from_arrays_sql(t, {0, 1}, {"pg_catalog.int8", "\"ext\".\"ci\"", "pg_catalog.text"}),
            "DELETE FROM ONLY \"s\".\"ui\" AS pgdts_t USING ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
            "pg_catalog.unnest($2::\"ext\".\"ci\"[])) AS pgdts_v(\"a\", \"b\") "
            "WHERE pgdts_t.\"a\" = pgdts_v.\"a\" AND pgdts_t.\"b\" OPERATOR(\"ext\".=) pgdts_v.\"b\"");
}

TEST(StatementSql, RepairOfAKeylessTableComparesRowTextsUnderTheDestinationTypes) {
  TableNames t = table_names("s", "log", {"at", "doc"});
  EXPECT_EQ(delete_equal_rows_sql(t, {"pg_catalog.timestamptz", "pg_catalog.jsonb"}),
            "DELETE FROM ONLY \"s\".\"log\" WHERE ROW(\"at\", \"doc\")::pg_catalog.text = "
            "ROW($1::pg_catalog.timestamptz, $2::pg_catalog.jsonb)::pg_catalog.text");
  EXPECT_EQ(insert_copies_sql(t, {"pg_catalog.timestamptz", "pg_catalog.jsonb"}),
            "INSERT INTO \"s\".\"log\" (\"at\", \"doc\") OVERRIDING SYSTEM VALUE SELECT "
            "$1::pg_catalog.timestamptz, $2::pg_catalog.jsonb FROM pg_catalog.generate_series(1, "
            "$3::pg_catalog.int8)");
}

TEST(ByteaHex, EveryByteAsTwoLowerCaseHexDigits) {
  EXPECT_EQ(pgdts::pg::bytea_hex(std::string("\x00\x0a\xff{", 4)), "\\x000aff7b");
  EXPECT_EQ(pgdts::pg::bytea_hex(""), "\\x");
}
