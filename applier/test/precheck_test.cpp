// The pure parts of pgdts precheck: status aggregation, the text lines and
// summary, the JSON document, lists of names.
#include <gtest/gtest.h>

#include "cli/precheck_report.h"
#include "task/precheck.h"
#include "task/source_checks.h"

using pgdts::task::Check;

namespace {

std::vector<Check> sample() {
  return {{"wal_level", Check::pass, "wal_level = logical", ""},
          {"table_keys", Check::warn, "1 table has no primary key: public.log",
           "--replica-identity-full"},
          {"extension", Check::fail, "extension pgdts is not installed in \"app\"",
           "run CREATE EXTENSION pgdts"}};
}

}  // namespace

TEST(Precheck, OverallIsTheWorstStatus) {
  std::vector<Check> checks = sample();
  EXPECT_EQ(pgdts::task::overall(checks), Check::fail);
  checks.pop_back();
  EXPECT_EQ(pgdts::task::overall(checks), Check::warn);
  checks.pop_back();
  EXPECT_EQ(pgdts::task::overall(checks), Check::pass);
  EXPECT_EQ(pgdts::task::overall({}), Check::pass);
}

TEST(Precheck, LinesShowTheFixOfWarningsAndFailuresOnly) {
  auto c = sample();
  EXPECT_EQ(pgdts::task::format_line(c[0]), "PASS  wal_level  wal_level = logical");
  EXPECT_EQ(pgdts::task::format_line(c[1]),
            "WARN  table_keys  1 table has no primary key: public.log; fix: --replica-identity-full");
  EXPECT_EQ(pgdts::task::format_line(c[2]),
            "FAIL  extension  extension pgdts is not installed in \"app\"; fix: run CREATE "
            "EXTENSION pgdts");
  c[0].fix = "ignored";
  EXPECT_EQ(pgdts::task::format_line(c[0]), "PASS  wal_level  wal_level = logical");
}

TEST(Precheck, TextEndsWithTheSummary) {
  std::string text = pgdts::cli::precheck_text(sample());
  EXPECT_NE(text.find("PASS  wal_level"), std::string::npos);
  EXPECT_TRUE(text.ends_with("precheck: 1 passed, 1 warning, 1 failed\n")) << text;
  EXPECT_EQ(pgdts::task::summary_line({}), "precheck: 0 passed, 0 warnings, 0 failed");
}

TEST(Precheck, JsonDocument) {
  std::string json = pgdts::cli::precheck_json(sample());
  EXPECT_TRUE(json.starts_with("{\"result\":\"fail\",\"checks\":[{\"name\":\"wal_level\","
                               "\"status\":\"pass\",\"message\":\"wal_level = logical\",\"fix\":\"\"}"))
      << json;
  EXPECT_NE(json.find("\"message\":\"extension pgdts is not installed in \\\"app\\\"\""),
            std::string::npos)
      << json;
  EXPECT_TRUE(json.ends_with("]}\n"));
  EXPECT_EQ(pgdts::cli::precheck_json({}), "{\"result\":\"pass\",\"checks\":[]}\n");
}

TEST(Precheck, NameListsStopAtTheLimit) {
  using pgdts::task::name_list;
  EXPECT_EQ(name_list({}), "");
  EXPECT_EQ(name_list({"a"}), "a");
  EXPECT_EQ(name_list({"a", "b"}), "a and b");
  EXPECT_EQ(name_list({"a", "b", "c"}), "a, b and c");
  EXPECT_EQ(name_list({"a", "b", "c", "d"}, 2), "a, b and 2 more");
  std::vector<std::string> many;
  for (int i = 0; i < 12; ++i) many.push_back("t" + std::to_string(i));
  EXPECT_EQ(name_list(many), "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 2 more");
}

TEST(Precheck, LongTransactionThresholdTestOverride) {
  unsetenv("PGDTS_TEST_LONG_TXN_SECONDS");
  EXPECT_EQ(pgdts::task::PrecheckInput::default_long_transaction_seconds(), 300);
  setenv("PGDTS_TEST_LONG_TXN_SECONDS", "2", 1);
  EXPECT_EQ(pgdts::task::PrecheckInput::default_long_transaction_seconds(), 2);
  setenv("PGDTS_TEST_LONG_TXN_SECONDS", "soon", 1);
  EXPECT_EQ(pgdts::task::PrecheckInput::default_long_transaction_seconds(), 300);
  unsetenv("PGDTS_TEST_LONG_TXN_SECONDS");
}

// The extension's version in the source database: the current one passes,
// the released one before it streams with a warning (ALTER EXTENSION pgdts
// UPDATE is safe while the task runs), others fail naming the side to upgrade.
pgdts::task::SourceFacts with_extension(std::string version) {
  pgdts::task::SourceFacts f;
  f.database = "app";
  f.extension_version = std::move(version);
  return f;
}

TEST(SourceChecks, CurrentExtensionVersionPasses) {
  EXPECT_FALSE(pgdts::task::extension_problem(with_extension(pgdts::task::kExtensionVersion)));
}

TEST(SourceChecks, ReleasedOlderExtensionsAreWarningsToUpdateNamingWhatTheyLack) {
  for (const auto& older : pgdts::task::kOlderExtensions) {
    auto p = pgdts::task::extension_problem(with_extension(older.version));
    ASSERT_TRUE(p) << older.version;
    EXPECT_TRUE(p->warning);
    EXPECT_NE(p->fix.find("ALTER EXTENSION pgdts UPDATE"), std::string::npos) << p->fix;
    EXPECT_NE(p->message.find("REPLICA IDENTITY FULL"), std::string::npos) << p->message;
  }
}

TEST(SourceChecks, NewerExtensionFailsNamingPgdts) {
  auto p = pgdts::task::extension_problem(with_extension("0.10"));
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->warning);
  EXPECT_NE(p->message.find("newer than this pgdts knows"), std::string::npos) << p->message;
  EXPECT_NE(p->fix.find("upgrade pgdts"), std::string::npos) << p->fix;
}

TEST(SourceChecks, UnknownOlderExtensionFailsNamingTheUpdate) {
  auto p = pgdts::task::extension_problem(with_extension("0.0"));
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->warning);
  EXPECT_NE(p->fix.find("ALTER EXTENSION pgdts UPDATE TO"), std::string::npos) << p->fix;
}
