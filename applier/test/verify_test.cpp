// The pure parts of pgdts verify: statement texts, row comparison by key and
// as a multiset, settling rows in flight, expression normalization for the
// catalog comparison, and the report.
#include <gtest/gtest.h>

#include "verify/metadata.h"
#include "verify/report.h"
#include "verify/row_diff.h"
#include "verify/sql.h"

using namespace pgdts::verify;

namespace {

Quoting fake_quoting() {
  return {[](std::string_view s) { return "\"" + std::string(s) + "\""; },
          [](std::string_view s) { return "'" + std::string(s) + "'"; }};
}

TablePair orders() {
  TablePair t;
  t.source = {"shop", "orders"};
  t.target = {"store", "purchases"};
  t.columns = {{"id", "id"}, {"line", "line"}, {"email", "mail"}};
  t.key = {0, 1};
  t.source_key_types = {"integer", "smallint"};
  t.target_key_types = {"bigint", "smallint"};
  t.target_exists = true;
  return t;
}

}  // namespace

TEST(VerifySql, ListsColumnsInSourceOrderWithEachSidesNames) {
  TablePair t = orders();
  TableSql src(t, Side::source, fake_quoting()), dst(t, Side::target, fake_quoting());
  EXPECT_EQ(src.row_text(), "ROW(\"id\", \"line\", \"email\")::text");
  EXPECT_EQ(dst.row_text(), "ROW(\"id\", \"line\", \"mail\")::text");
  EXPECT_EQ(dst.relation(), "ONLY \"store\".\"purchases\"");
  EXPECT_EQ(src.range_hash("true"),
            "SELECT count(*), md5(string_agg(md5(ROW(\"id\", \"line\", \"email\")::text), '' ORDER BY \"id\", "
            "\"line\")) FROM ONLY \"shop\".\"orders\" WHERE true");
}

TEST(VerifySql, ARowFilterKeepsOnlyItsSourceRows) {
  TablePair t = orders();
  t.source_filter = "(\nline > 1\n)";
  TableSql src(t, Side::source, fake_quoting()), dst(t, Side::target, fake_quoting());
  EXPECT_EQ(src.count(),
            "SELECT count(*) FROM (SELECT * FROM ONLY \"shop\".\"orders\" WHERE (\nline > 1\n)) "
            "AS pgdts_filtered");
  EXPECT_EQ(dst.count(), "SELECT count(*) FROM ONLY \"store\".\"purchases\"");
}

TEST(VerifySql, AColumnExpressionIsComparedInsteadOfTheSourceColumn) {
  TablePair t = orders();
  t.source_expressions = {"", "", "(\nmd5(email)\n)"};
  TableSql src(t, Side::source, fake_quoting());
  EXPECT_EQ(src.relation(),
            "(SELECT \"id\", \"line\", (\nmd5(email)\n) AS \"email\" FROM ONLY \"shop\".\"orders\") "
            "AS pgdts_filtered");
}

TEST(VerifySql, RangesAreHalfOpenAndCastToEachSidesKeyTypes) {
  TablePair t = orders();
  TableSql src(t, Side::source, fake_quoting()), dst(t, Side::target, fake_quoting());
  EXPECT_EQ(src.range_condition(std::nullopt, std::nullopt), "true");
  EXPECT_EQ(src.range_condition(Key{"1", "2"}, std::nullopt), "(\"id\", \"line\") > ('1'::integer, '2'::smallint)");
  EXPECT_EQ(dst.range_condition(std::nullopt, Key{"9", "1"}), "(\"id\", \"line\") <= ('9'::bigint, '1'::smallint)");
  t.key = {0};
  t.source_key_types = {"integer"};
  TableSql one(t, Side::source, fake_quoting());
  EXPECT_EQ(one.range_condition(Key{"1"}, Key{"5"}), "\"id\" > '1'::integer AND \"id\" <= '5'::integer");
}

TEST(VerifySql, RowsOfKeysUnnestOneTextArrayPerKeyColumn) {
  TablePair t = orders();
  TableSql dst(t, Side::target, fake_quoting());
  EXPECT_EQ(dst.rows_of_keys({{"1", "2"}, {"3", "4"}}),
            "SELECT \"id\"::text, \"line\"::text, ROW(\"id\", \"line\", \"mail\")::text FROM ONLY "
            "\"store\".\"purchases\" WHERE (\"id\", \"line\") IN (SELECT u.c0::bigint, u.c1::smallint FROM "
            "unnest('{\"1\",\"3\"}'::text[], '{\"2\",\"4\"}'::text[]) AS u(c0, c1))");
}

TEST(VerifySql, ResyncCopiesWhatTheDestinationShouldHoldButNotGeneratedColumns) {
  TablePair t = orders();
  t.columns.push_back({"total", "total", true});
  t.source_filter = "(line > 1)";
  TableSql src(t, Side::source, fake_quoting()), dst(t, Side::target, fake_quoting());
  EXPECT_EQ(src.copy_out("true"),
            "COPY (SELECT \"id\", \"line\", \"email\" FROM (SELECT * FROM ONLY \"shop\".\"orders\" "
            "WHERE (line > 1)) AS pgdts_filtered WHERE true) TO STDOUT");
  EXPECT_EQ(dst.copy_in(), "COPY \"store\".\"purchases\" (\"id\", \"line\", \"mail\") FROM STDIN");
  EXPECT_EQ(dst.delete_where("false"),
            "WITH gone AS (DELETE FROM ONLY \"store\".\"purchases\" WHERE false RETURNING 1) "
            "SELECT count(*) FROM gone");
  EXPECT_EQ(dst.range_row_hashes("true"),
            "SELECT \"id\"::text, \"line\"::text, pg_catalog.hashtextextended(ROW(\"id\", \"line\", "
            "\"mail\", \"total\")::text, 0) FROM ONLY \"store\".\"purchases\" WHERE true");
  EXPECT_EQ(src.sampled_boundaries(1, 200),
            "SELECT k.k0::text, k.k1::text FROM (SELECT \"id\" AS k0, \"line\" AS k1, row_number() OVER "
            "(ORDER BY \"id\", \"line\") AS n FROM ONLY \"shop\".\"orders\" TABLESAMPLE SYSTEM (1.000000)) k "
            "WHERE k.n % 200 = 0 ORDER BY k.n");
  EXPECT_EQ(dst.range_hash_sum("true"),
            "SELECT count(*), sum(pg_catalog.hashtextextended(ROW(\"id\", \"line\", \"mail\", \"total\")::text, "
            "0)) FROM ONLY \"store\".\"purchases\" WHERE true");
}

TEST(VerifySql, KeylessBucketsHashTheRowText) {
  TablePair t = orders();
  t.key.clear();
  TableSql src(t, Side::source, fake_quoting());
  std::string q = src.bucket_rows(4, 3);
  EXPECT_NE(q.find("hashtextextended(r.t, 0) % 4) + 4) % 4 = 3"), std::string::npos) << q;
  EXPECT_NE(q.find("GROUP BY 1"), std::string::npos) << q;
}

TEST(VerifyRowDiff, FindsChangedMissingAndExtraKeys) {
  KeyedRows s{{{"1"}, "(1,a)"}, {{"2"}, "(2,b)"}, {{"3"}, "(3,c)"}};
  KeyedRows t{{{"1"}, "(1,a)"}, {{"2"}, "(2,X)"}, {{"4"}, "(4,d)"}};
  EXPECT_EQ(differing_keys(s, t), (std::vector<Key>{{"2"}, {"3"}, {"4"}}));
  EXPECT_TRUE(differing_keys(s, s).empty());
  EXPECT_EQ(differing_keys({}, t).size(), 3u);
}

TEST(VerifyRowDiff, MultisetsDifferInHowOftenARowOccurs) {
  RowMultiset s{{"(a)", 2}, {"(b)", 1}};
  RowMultiset t{{"(a)", 1}, {"(b)", 1}, {"(c)", 1}};
  auto d = differing_rows(s, t);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].row, "(a)");
  EXPECT_EQ(d[0].source, 2);
  EXPECT_EQ(d[0].target, 1);
  EXPECT_EQ(d[1].row, "(c)");
  EXPECT_EQ(d[1].source, 0);
  EXPECT_EQ(d[1].target, 1);
}

TEST(VerifyRowDiff, ARowInFlightEqualsTheSourceBeforeOrAfter) {
  EXPECT_TRUE(settles(std::string("v1"), std::string("v1"), std::string("v2")));
  EXPECT_TRUE(settles(std::string("v2"), std::string("v1"), std::string("v2")));
  EXPECT_TRUE(settles(std::nullopt, std::nullopt, std::string("v2")));  // inserted meanwhile
  EXPECT_FALSE(settles(std::string("changed"), std::string("v1"), std::string("v1")));
  EXPECT_FALSE(settles(std::nullopt, std::string("v1"), std::string("v1")));  // deleted on the destination
}

TEST(VerifyMetadata, ExpressionsCompareWithColumnsMappedAndQuotingIgnored) {
  std::map<std::string, std::string> renames{{"email", "mail"}};
  EXPECT_EQ(normalized_expression("btree (lower(email)) WHERE (email <> ''::text)", renames),
            normalized_expression("btree (lower(mail)) WHERE (mail <> ''::text)", {}));
  // quoted or not, the same name
  EXPECT_EQ(normalized_expression("CHECK ((\"qty\" > 0))", {}), normalized_expression("CHECK ((qty > 0))", {}));
  // a function, a type after '::' and a string are not columns
  EXPECT_EQ(normalized_expression("email(x)::email = 'email'", renames), "\"email\"(\"x\")::\"email\" = 'email'");
  EXPECT_NE(normalized_expression("CHECK ((a > 0))", {}), normalized_expression("CHECK ((b > 0))", {}));
  EXPECT_EQ(normalized_expression("CHECK ((\"Qty\" > 0))", {{"Qty", "qty \"x\""}}), "\"CHECK\" ((\"qty \"\"x\"\"\" > 0))");
}

TEST(VerifyReport, KeysPrintLikePostgresMessages) {
  EXPECT_EQ(format_key({"order_id", "line"}, {"5", "2"}), "(order_id, line)=(5, 2)");
}

TEST(VerifyReport, TextHasOneLinePerTableAndASummary) {
  VerifyResult r;
  r.task = "t";
  TableResult eq;
  eq.source = eq.target = {"public", "a"};
  eq.source_rows = eq.target_rows = 3;
  TableResult diff;
  diff.source = {"shop", "orders"};
  diff.target = {"store", "purchases"};
  diff.status = TableStatus::different;
  diff.key_columns = {"id"};
  for (int i = 0; i < 12; ++i) diff.keys.push_back({std::to_string(i)});
  diff.differing = 12;
  TableResult missing;
  missing.source = missing.target = {"public", "gone"};
  missing.status = TableStatus::missing;
  r.tables = {eq, diff, missing};
  r.metadata.push_back({"table public.a", "index \"a_idx\" (btree (v)) missing on the destination"});
  r.sequences.push_back({{"public", "s"}, {"public", "s"}, SequenceStatus::behind, 10, 5});
  std::string text = text_report(r);
  EXPECT_NE(text.find("public.a: equal (3 rows)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("shop.orders -> store.purchases: 12 differing keys: (id)=(0), (id)=(1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(id)=(9) ... and 2 more\n"), std::string::npos) << text;
  EXPECT_NE(text.find("public.gone: missing on destination\n"), std::string::npos) << text;
  EXPECT_NE(text.find("metadata: table public.a: index \"a_idx\""), std::string::npos) << text;
  EXPECT_NE(text.find("sequence public.s: destination 5 behind source 10"), std::string::npos) << text;
  EXPECT_NE(text.find("different: 1 of 3 tables equal, 12 differing keys or rows, 1 metadata difference"),
            std::string::npos)
      << text;
  EXPECT_FALSE(r.equal());
}

TEST(VerifyReport, ASequenceBehindDoesNotMakeTheTaskDifferent) {
  VerifyResult r;
  r.sequences.push_back({{"public", "s"}, {"public", "s"}, SequenceStatus::behind, 10, 5});
  EXPECT_TRUE(r.equal());
  r.sequences.push_back({{"public", "t"}, {"public", "t"}, SequenceStatus::missing, 10, std::nullopt});
  EXPECT_FALSE(r.equal());
}

TEST(VerifyReport, JsonIsOneDocument) {
  VerifyResult r;
  r.task = "it";
  TableResult diff;
  diff.source = diff.target = {"public", "kv"};
  diff.status = TableStatus::different;
  diff.key_columns = {"id"};
  diff.keys = {{"7"}};
  diff.differing = 1;
  diff.source_rows = 10;
  diff.target_rows = 9;
  r.tables = {diff};
  r.rechecked = 4;
  std::string json = json_report(r);
  EXPECT_EQ(json,
            "{\"task\":\"it\",\"equal\":false,\"tables\":[{\"source\":\"public.kv\",\"target\":\"public.kv\","
            "\"rows\":{\"source\":10,\"target\":9},\"status\":\"different\",\"differing_keys\":[\"(id)=(7)\"],"
            "\"differing_rows\":[],\"differing_count\":1,\"repaired\":null,\"would_repair\":null,"
            "\"repair_error\":null,\"error\":null}],\"metadata\":[],\"sequences\":[],"
            "\"rechecked\":4,\"recheck_rounds\":0,\"repair\":\"none\",\"repair_pending\":false,\"notes\":[]}\n");
}

TEST(VerifyReport, RepairedAndWouldRepairCountsPerTable) {
  VerifyResult r;
  r.task = "it";
  r.repair = RepairMode::repair;
  TableResult fixed;
  fixed.source = fixed.target = {"public", "kv"};
  fixed.key_columns = {"id"};
  fixed.source_rows = 10;
  fixed.repaired = 3;
  r.tables = {fixed};
  std::string text = text_report(r);
  EXPECT_NE(text.find("public.kv: equal (10 rows), repaired 3 keys\n"), std::string::npos) << text;
  EXPECT_NE(text.find("; repaired 3 keys or rows\n"), std::string::npos) << text;
  EXPECT_NE(json_report(r).find("\"repaired\":3,"), std::string::npos);
  EXPECT_TRUE(r.equal());
  r.repair_pending = true;
  EXPECT_FALSE(r.equal());

  VerifyResult dry;
  dry.repair = RepairMode::dry_run;
  TableResult log;
  log.source = log.target = {"public", "log"};
  log.status = TableStatus::different;
  log.rows = {{"(a)", 2, 1}};
  log.differing = 1;
  log.would_repair = 1;
  dry.tables = {log};
  text = text_report(dry);
  EXPECT_NE(text.find("public.log: 1 differing row: (a) (source 2, destination 1), would repair 1 row (dry run)\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("; dry run: would repair 1 key or row, nothing changed\n"), std::string::npos) << text;
}

TEST(VerifySql, RepairReadsTheSourceRowsOfKeysAndOfRowTextsWithTheirCounts) {
  TablePair t = orders();
  TableSql src(t, Side::source, fake_quoting());
  EXPECT_EQ(src.lock(), "LOCK TABLE ONLY \"shop\".\"orders\" IN SHARE MODE");
  EXPECT_EQ(src.values_of_keys({{"1", "2"}}),
            "SELECT \"id\"::text, \"line\"::text, \"id\"::text, \"line\"::text, \"email\"::text FROM ONLY "
            "\"shop\".\"orders\" WHERE (\"id\", \"line\") IN (SELECT u.c0::integer, u.c1::smallint FROM "
            "unnest('{\"1\"}'::text[], '{\"2\"}'::text[]) AS u(c0, c1))");
  t.key.clear();
  TableSql keyless(t, Side::source, fake_quoting());
  EXPECT_EQ(keyless.values_of_rows({"(1,2,x)"}),
            "SELECT DISTINCT ON (r.t) r.t, count(*) OVER (PARTITION BY r.t), r.c0, r.c1, r.c2 FROM (SELECT "
            "ROW(\"id\", \"line\", \"email\")::text AS t, \"id\"::text AS c0, \"line\"::text AS c1, "
            "\"email\"::text AS c2 FROM ONLY \"shop\".\"orders\") r WHERE r.t = ANY ('{\"(1,2,x)\"}'::text[]) "
            "ORDER BY r.t");
}

namespace {

using pgdts::schema::SourceSchema;

SourceSchema customers(const std::string& schema, const std::string& email, const std::string& index_name) {
  SourceSchema s;
  pgdts::schema::Table t;
  t.name = {schema, "customers"};
  pgdts::schema::Column id;
  id.name = "id";
  id.type.sql = "bigint";
  id.not_null = true;
  pgdts::schema::Column mail;
  mail.name = email;
  mail.type.sql = "text";
  t.columns = {id, mail};
  t.constraints.push_back({"customers_pkey", 'p', "PRIMARY KEY (id)"});
  t.constraints.push_back({"email_has_at", 'c', "CHECK ((" + email + " ~ '@'::text))"});
  t.indexes.push_back({index_name, true, "btree (lower(" + email + "))"});
  s.tables.push_back(t);
  return s;
}

}  // namespace

TEST(VerifyMetadata, ModelsEqualThroughTheMappingHaveNoDifferences) {
  auto names = pgdts::model::NameMap::parse({"shop=store", "shop.customers.email=mail"}, pgdts::model::CasePolicy::keep);
  // Index names may differ (PostgreSQL names a partition's indexes itself).
  EXPECT_TRUE(compare_metadata(customers("shop", "email", "customers_email"),
                               customers("store", "mail", "customers_email_idx1"), names)
                  .empty());
}

TEST(VerifyMetadata, ReportsMissingIndexChangedTypeAndExtraColumn) {
  auto names = pgdts::model::NameMap::parse({"shop=store", "shop.customers.email=mail"}, pgdts::model::CasePolicy::keep);
  SourceSchema dest = customers("store", "mail", "customers_email");
  dest.tables[0].indexes.clear();
  dest.tables[0].columns[0].type.sql = "integer";
  pgdts::schema::Column extra;
  extra.name = "note";
  extra.type.sql = "text";
  dest.tables[0].columns.push_back(extra);
  auto d = compare_metadata(customers("shop", "email", "customers_email"), dest, names);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].object, "table shop.customers");
  EXPECT_EQ(d[0].message, "column \"id\": type integer on the destination, bigint on the source");
  EXPECT_EQ(d[1].message, "column \"note\" only on the destination");
  EXPECT_EQ(d[2].message, "index \"customers_email\" (btree (lower(email))) missing on the destination");
}
