#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/options.h"
#include "error.h"

using namespace pgdts;
using namespace pgdts::cli;

namespace {

const std::string kSrc = "host=127.0.0.1 port=5432 dbname=app";
const std::string kDst = "postgresql://u@127.0.0.1/app_copy";

std::vector<std::string> sync_args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"sync", "--source", kSrc, "--target", kDst, "--phases",
                                "incremental"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

Options parse(std::vector<std::string> args) { return *parse_command_line(args).options; }

std::string usage_error(std::vector<std::string> args) {
  try {
    parse_command_line(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Options, SyncDefaults) {
  Options o = parse(sync_args({}));
  EXPECT_EQ(o.command, Command::sync);
  EXPECT_EQ(o.task, "default");
  EXPECT_EQ(o.retry_connection_minutes, 720);
  EXPECT_EQ(o.retry_other_minutes, 10);
  EXPECT_EQ(o.phases, std::vector<std::string>{"incremental"});
  EXPECT_EQ(o.log_level, log::Level::info);
}

TEST(Options, RetryWindowsInRange) {
  Options o = parse(sync_args({"--retry-connection", "10", "--retry-other", "9"}));
  EXPECT_EQ(o.retry_connection_minutes, 10);
  EXPECT_EQ(o.retry_other_minutes, 9);
  o = parse(sync_args({"--retry-connection", "1440", "--retry-other", "1"}));
  EXPECT_EQ(o.retry_connection_minutes, 1440);
}

TEST(Options, RetryWindowsOutOfRangeAreUsageErrors) {
  EXPECT_NE(usage_error(sync_args({"--retry-connection", "9"})).find("--retry-connection"),
            std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--retry-connection", "1441"})).find("between 10 and 1440"),
            std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--retry-other", "0"})).find("--retry-other"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--retry-other", "abc"})).find("retry-other"), std::string::npos);
}

TEST(Options, RetryOtherMustBeLessThanRetryConnection) {
  std::string e = usage_error(sync_args({"--retry-connection", "20", "--retry-other", "20"}));
  EXPECT_NE(e.find("must be less than --retry-connection"), std::string::npos) << e;
  e = usage_error(sync_args({"--retry-connection", "15", "--retry-other", "30"}));
  EXPECT_NE(e.find("must be less than"), std::string::npos) << e;
}

TEST(Options, PhasesDefaultToAllThree) {
  Options o = parse({"sync", "--source", kSrc, "--target", kDst});
  EXPECT_EQ(o.phases, (std::vector<std::string>{"schema", "full", "incremental"}));
  EXPECT_TRUE(o.has_phase("full"));
  EXPECT_EQ(o.jobs, 2);
  EXPECT_FALSE(o.conflict_ignore);
}

TEST(Options, PhasesBadLists) {
  auto with = [](std::string phases) {
    return usage_error({"sync", "--source", kSrc, "--target", kDst, "--phases", phases});
  };
  EXPECT_NE(with("bogus").find("unknown phase \"bogus\""), std::string::npos);
  EXPECT_NE(with("incremental,incremental").find("twice"), std::string::npos);
  EXPECT_NE(with("incremental,").find("empty"), std::string::npos);
  EXPECT_EQ(parse({"sync", "--source", kSrc, "--target", kDst, "--phases", " incremental "}).phases,
            std::vector<std::string>{"incremental"});
}

TEST(Options, ColumnExpressionsNameSchemaTableAndColumn) {
  Options o = parse(sync_args({"--transform", "crm.customers.email: md5(email) || '@x.invalid'"}));
  ASSERT_EQ(o.transforms.size(), 1u);
  EXPECT_EQ(o.transforms[0].table, (model::TableName{"crm", "customers"}));
  EXPECT_EQ(o.transforms[0].column, "email");
  EXPECT_EQ(o.transforms[0].expression, "md5(email) || '@x.invalid'");
  EXPECT_NE(usage_error(sync_args({"--transform", "crm.customers: md5(email)"}))
                .find("schema.table.column"),
            std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--transform", "a.b.c: 1", "--transform", "a.b.c: 2"}))
                .find("two expressions"),
            std::string::npos);
}

TEST(Options, RowFiltersAreTaskOptionsStoredWithTheTask) {
  Options o = parse(sync_args({"--filter", "shop.orders: region = 'eu'", "--filter",
                               "shop.lines:qty > 0"}));
  ASSERT_EQ(o.filters.size(), 2u);
  EXPECT_EQ(o.filters[0].table, (model::TableName{"shop", "orders"}));
  EXPECT_EQ(o.filters[1].condition, "qty > 0");
  EXPECT_NE(std::find(o.object_args.begin(), o.object_args.end(),
                      "--filter=shop.orders: region = 'eu'"),
            o.object_args.end());
  Options verify = parse({"verify", "--source", kSrc, "--target", kDst});
  use_stored_task_objects(verify, o.object_args);
  ASSERT_EQ(verify.filters.size(), 2u);
  EXPECT_EQ(verify.filters[0].condition, "region = 'eu'");
  EXPECT_NE(usage_error(sync_args({"--filter", "orders: region = 'eu'"})).find("schema.table"),
            std::string::npos);
}

TEST(Options, IncrementalThrottlesMetricsAndAlerts) {
  Options o = parse(sync_args({"--incr-rps", "500", "--incr-mbps", "2.5", "--metrics-port", "9187",
                               "--alert-command", "cat > /tmp/x", "--alert-latency", "30"}));
  EXPECT_EQ(o.incr_rps, 500);
  EXPECT_EQ(o.incr_mbps, 2.5);
  EXPECT_EQ(o.metrics_port, 9187);
  EXPECT_EQ(o.alert_command, "cat > /tmp/x");
  EXPECT_EQ(o.alert_latency_seconds, 30);
  EXPECT_EQ(usage_error(sync_args({"--incr-rps", "0"})),
            "--incr-rps must be a number above 0 and at most 1000000000");
  EXPECT_EQ(usage_error(sync_args({"--metrics-port", "70000"})),
            "--metrics-port must be between 1 and 65535, not 70000");
  EXPECT_EQ(usage_error(sync_args({"--alert-latency", "0"})),
            "--alert-latency must be between 1 and 604800 seconds, not 0");
}

// Every bad number is a UsageError (exit 2) of one line naming its option.
TEST(Options, NonFiniteAndAbsurdNumbersNameTheirOption) {
  struct Case {
    std::vector<std::string> args;
    std::string option;
  };
  std::vector<Case> cases;
  for (const char* rate : {"--full-qps", "--full-rps", "--full-mbps", "--incr-rps", "--incr-mbps"})
    for (const char* bad : {"inf", "-inf", "nan", "1e400", "-1", "0", "1e10", "abc", ""})
      cases.push_back({sync_args({rate, bad}), rate});
  for (const char* bad : {"0", "-5", "65536", "1e3", "inf", "99999999999"})
    cases.push_back({sync_args({"--metrics-port", bad}), "--metrics-port"});
  for (const char* bad : {"0", "65", "inf", "nan"}) cases.push_back({sync_args({"--jobs", bad}), "--jobs"});
  for (const char* bad : {"9", "1441", "inf", "-1"})
    cases.push_back({sync_args({"--retry-connection", bad}), "--retry-connection"});
  for (const char* bad : {"0", "1441", "nan"})
    cases.push_back({sync_args({"--retry-other", bad}), "--retry-other"});
  cases.push_back({sync_args({"--retry-other", "30", "--retry-connection", "20"}), "--retry-other"});
  for (const char* bad : {"0", "604801", "inf"})
    cases.push_back({sync_args({"--alert-latency", bad}), "--alert-latency"});
  for (const char* bad : {"0", "604801"})
    cases.push_back({{"cutover", "--source", "host=a", "--target", "host=b", "--timeout", bad},
                     "--timeout"});
  cases.push_back({{"cutover", "--source", "host=a", "--target", "host=b", "--sequence-margin", "-1"},
                   "--sequence-margin"});
  for (const char* bad : {"0", "604801"})
    cases.push_back({{"stream", "--source", "host=a", "--idle-exit", bad}, "--idle-exit"});
  for (const Case& c : cases) {
    std::string error = usage_error(c.args);
    EXPECT_NE(error.find(c.option), std::string::npos) << c.args.back() << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(Options, BadConnectionValuesAreUsageErrorsWithoutThePassword) {
  for (const char* bad : {"host=h port=abc password=Sekr3t-pw", "postgresql://u:Sekr3t-pw@h:abc/db",
                          "postgresql://u:Sekr3t/pw@h/db", "host=h password=Sekr3t-pw sslmode=maybe",
                          "host=h password='Sekr3t-pw"}) {
    std::string error = usage_error({"sync", "--source", bad, "--target", "host=b"});
    EXPECT_NE(error.find("--source"), std::string::npos) << error;
    EXPECT_EQ(error.find("Sekr3t"), std::string::npos) << error;
    error = usage_error({"status", "--target", bad});
    EXPECT_NE(error.find("--target"), std::string::npos) << error;
    EXPECT_EQ(error.find("Sekr3t"), std::string::npos) << error;
  }
}

TEST(Options, ResyncIsASyncCommandLineSwitch) {
  EXPECT_FALSE(parse(sync_args({})).resync);
  EXPECT_TRUE(parse({"sync", "--source", "host=a", "--target", "host=b", "--resync"}).resync);
  EXPECT_NE(usage_error(sync_args({"--resync"})).find("--resync"), std::string::npos);
  EXPECT_NE(usage_error({"status", "--target", "host=b", "--resync"}).find("resync"),
            std::string::npos);
  std::string path = ::testing::TempDir() + "/pgdts_resync.ini";
  std::ofstream(path) << "resync = true\n";
  EXPECT_NE(usage_error({"sync", "--source", "host=a", "--target", "host=b", "--config", path})
                .find("resync"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(Options, ConfigThatIsADirectoryIsAUsageError) {
  std::string dir = ::testing::TempDir();
  std::string error = usage_error({"sync", "--source", "host=a", "--target", "host=b", "--config", dir});
  EXPECT_NE(error.find("is a directory"), std::string::npos) << error;
}

TEST(Options, VerifyAndCutoverTakeTaskOptions) {
  Options v = parse({"verify", "--source", "host=a", "--target", "host=b", "--schemas", "app",
                     "--format", "json"});
  EXPECT_EQ(v.command, Command::verify);
  EXPECT_TRUE(v.json);
  Options c = parse({"cutover", "--source", "host=a", "--target", "host=b", "--sequence-margin",
                     "1000", "--timeout", "20"});
  EXPECT_EQ(c.sequence_margin, 1000);
  EXPECT_EQ(c.timeout_seconds, 20);
  EXPECT_EQ(usage_error({"cutover", "--source", "host=a", "--target", "host=b",
                         "--sequence-margin", "-1"}),
            "--sequence-margin must not be negative, not -1");
  EXPECT_EQ(usage_error({"verify", "--source", "host=a"}), "--target is required");
}

TEST(Options, ObjectsMappingAndFullSyncOptions) {
  Options o = parse(sync_args({"--schemas", "app", "--tables", "misc.cfg", "--exclude", "app.tmp_*",
                               "--map", "app=app2", "--map", "app.users.pw=hash", "--case", "lower",
                               "--conflict", "ignore", "--jobs", "4", "--full-rps", "20000",
                               "--replica-identity-full"}));
  EXPECT_TRUE(o.selection.includes({"app", "users"}));
  EXPECT_FALSE(o.selection.includes({"app", "tmp_1"}));
  EXPECT_TRUE(o.selection.includes({"misc", "cfg"}));
  EXPECT_EQ(o.names.table({"app", "Users"}), (model::TableName{"app2", "users"}));
  EXPECT_EQ(o.names.column({"app", "users"}, "pw"), "hash");
  EXPECT_TRUE(o.conflict_ignore);
  EXPECT_TRUE(o.replica_identity_full);
  EXPECT_EQ(o.jobs, 4);
  EXPECT_EQ(o.full_rps, 20000);
  EXPECT_FALSE(o.full_qps);
}

TEST(Options, BadObjectAndFullSyncOptions) {
  EXPECT_NE(usage_error(sync_args({"--case", "title"})).find("--case"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--conflict", "overwrite"})).find("--conflict"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--jobs", "0"})).find("--jobs"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--full-rps", "-1"})).find("--full-rps"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--map", "nonsense"})).find("--map"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--tables", "lonely"})).find("--tables"), std::string::npos);
}

TEST(Options, StatusNeedsOnlyTheTarget) {
  Options o = parse({"status", "--target", kDst, "--format", "json"});
  EXPECT_TRUE(o.json);
  EXPECT_NE(usage_error({"status", "--source", kSrc}).find("--target"), std::string::npos);
}

TEST(Options, UnknownCommandOptionAndExtraArguments) {
  EXPECT_NE(usage_error({"frobnicate"}).find("unknown command"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"--bogus"})).find("bogus"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"extra"})), "(no error)");
  EXPECT_NE(usage_error({}), "(no error)");
  // options of another command
  EXPECT_NE(usage_error({"release", "--source", kSrc, "--target", kDst, "--consume"}), "(no error)");
  // no guessing of abbreviations
  EXPECT_NE(usage_error({"release", "--sour", kSrc, "--target", kDst}), "(no error)");
}

TEST(Options, RequiredConnections) {
  EXPECT_EQ(usage_error({"sync", "--target", kDst, "--phases", "incremental"}), "--source is required");
  EXPECT_EQ(usage_error({"sync", "--source", kSrc, "--phases", "incremental"}), "--target is required");
  EXPECT_EQ(usage_error({"release", "--source", kSrc}), "--target is required");
  EXPECT_EQ(parse({"stream", "--source", kSrc}).command, Command::stream);
}

TEST(Options, MalformedConninfoIsUsageErrorWithoutThePassword) {
  std::string e = usage_error({"sync", "--source", "host=127.0.0.1 this is not a conninfo",
                               "--target", kDst, "--phases", "incremental"});
  EXPECT_NE(e.find("invalid --source connection string"), std::string::npos) << e;
  // libpq quotes the fragment it could not parse; with a password in the
  // string that fragment could be part of it, so it is left out.
  e = usage_error({"sync", "--source", kSrc, "--target", "host=x password=sec ret", "--phases",
                   "incremental"});
  EXPECT_NE(e.find("invalid --target connection string"), std::string::npos) << e;
  EXPECT_EQ(e.find("sec"), std::string::npos) << e;
  EXPECT_EQ(e.find("ret"), std::string::npos) << e;
}

TEST(Options, TaskNames) {
  EXPECT_EQ(parse({"stream", "--source", kSrc, "--task", "app_1"}).task, "app_1");
  EXPECT_NE(usage_error({"stream", "--source", kSrc, "--task", "App"}).find("invalid --task"),
            std::string::npos);
  EXPECT_NE(usage_error({"stream", "--source", kSrc, "--task", std::string(55, 'a')}),
            "(no error)");
}

TEST(Options, StreamOptions) {
  Options o = parse({"stream", "--source", kSrc, "--consume", "--create-slot", "--idle-exit", "3",
                     "--start", "0/16B3748"});
  EXPECT_TRUE(o.consume);
  EXPECT_TRUE(o.create_slot);
  EXPECT_EQ(*o.idle_exit_seconds, 3);
  EXPECT_EQ(*o.start_lsn, 0x16B3748u);
  EXPECT_NE(usage_error({"stream", "--source", kSrc, "--start", "nope"}), "(no error)");
  EXPECT_NE(usage_error({"stream", "--source", kSrc, "--idle-exit", "0"}), "(no error)");
}

TEST(Options, LogLevel) {
  EXPECT_EQ(parse(sync_args({"--log-level", "debug"})).log_level, log::Level::debug);
  EXPECT_NE(usage_error(sync_args({"--log-level", "loud"})).find("--log-level"), std::string::npos);
}

TEST(Options, HelpIsNotAnError) {
  EXPECT_FALSE(parse_command_line({"--help"}).help.empty());
  EXPECT_FALSE(parse_command_line({"sync", "--help"}).help.empty());
}

TEST(Options, ConfigFileGivesOptionsAndCommandLineWins) {
  std::string path = ::testing::TempDir() + "pgdts_options_test.ini";
  {
    std::ofstream f(path);
    f << "# a task\nsource = " << kSrc << "\ntarget = " << kDst
      << "\ntask = fromfile\nphases = incremental\nretry-other = 5\nconsume = true\n";
  }
  Options o = parse({"sync", "--config", path, "--task", "fromcli"});
  EXPECT_EQ(o.task, "fromcli");
  EXPECT_EQ(o.retry_other_minutes, 5);
  EXPECT_EQ(o.source.text(), kSrc);
  Options s = parse({"stream", "--config", path});
  EXPECT_TRUE(s.consume);
  EXPECT_EQ(s.task, "fromfile");
  {
    std::ofstream f(path);
    f << "bogus = 1\n";
  }
  EXPECT_NE(usage_error({"sync", "--config", path}).find("bogus"), std::string::npos);
  EXPECT_NE(usage_error({"sync", "--config", path + ".missing"}).find("cannot read config file"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(Options, PrecheckTakesTheTaskOptionsAndFormat) {
  Options o = parse({"precheck", "--source", kSrc, "--target", kDst, "--task", "t", "--tables",
                     "public.a", "--exclude", "public.b", "--conflict", "ignore",
                     "--replica-identity-full", "--phases", "schema,full", "--format", "json"});
  EXPECT_EQ(o.command, Command::precheck);
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.conflict_ignore);
  EXPECT_TRUE(o.replica_identity_full);
  EXPECT_EQ(o.phases, (std::vector<std::string>{"schema", "full"}));
  EXPECT_TRUE(o.selection.includes({"public", "a"}));
  // full-sync and retry options are sync's own
  EXPECT_NE(usage_error({"precheck", "--source", kSrc, "--target", kDst, "--jobs", "3"}), "(no error)");
  EXPECT_NE(usage_error({"precheck", "--source", kSrc}).find("--target"), std::string::npos);
  EXPECT_NE(usage_error({"precheck", "--source", kSrc, "--target", kDst, "--format", "xml"})
                .find("--format"),
            std::string::npos);
}

TEST(Options, ConfigFileErrorsNeverEchoAPassword) {
  std::string path = ::testing::TempDir() + "pgdts_options_secret.ini";
  {
    std::ofstream f(path);
    f << "source host=h password=hunter2 dbname=app\n";  // no '=' after the key: a bad line
  }
  std::string error = usage_error({"sync", "--config", path});
  EXPECT_NE(error.find("config file"), std::string::npos) << error;
  EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
  std::remove(path.c_str());
}

TEST(Options, ThrottlesReadAgainFromTheConfigFileCommandLineStays) {
  std::string path = ::testing::TempDir() + "pgdts_reload_test.ini";
  {
    std::ofstream f(path);
    f << "incr-rps = 100\nfull-mbps = 5\n";
  }
  Options o = parse(sync_args({"--config", path, "--full-rps", "7"}));
  EXPECT_EQ(describe_throttles(o), "full-rps 7, full-mbps 5, incr-rps 100");
  {
    std::ofstream f(path);
    f << "incr-rps = 250\nfull-rps = 99\nincr-mbps = 1.5\n";  // full-mbps removed: no limit
  }
  Options fresh = reread_throttles(o);
  EXPECT_EQ(fresh.incr_rps, 250);
  EXPECT_EQ(fresh.incr_mbps, 1.5);
  EXPECT_EQ(fresh.full_rps, 7);  // given on the command line
  EXPECT_FALSE(fresh.full_mbps.has_value());
  {
    std::ofstream f(path);
    f << "incr-rps = -3\n";
  }
  EXPECT_THROW(reread_throttles(o), UsageError);
  std::remove(path.c_str());
  EXPECT_EQ(describe_throttles(parse(sync_args({}))), "none");
}

TEST(Options, StoredTaskObjectsAreUsedOnlyWhenNoneAreGiven) {
  Options given = parse(sync_args({"--schemas", "app", "--map", "app=app2", "--case", "lower"}));
  EXPECT_EQ(given.object_args,
            (std::vector<std::string>{"--schemas=app", "--map=app=app2", "--case=lower"}));
  Options bare = parse({"verify", "--source", "host=a", "--target", "host=b"});
  EXPECT_TRUE(bare.object_args.empty());
  use_stored_task_objects(bare, given.object_args);
  EXPECT_EQ(bare.object_args, given.object_args);
  EXPECT_EQ(bare.names.table({"app", "T"}).schema, "app2");
  EXPECT_EQ(bare.names.table({"app", "T"}).name, "t");
  Options explicit_ = parse({"verify", "--source", "host=a", "--target", "host=b", "--tables", "x.y"});
  use_stored_task_objects(explicit_, given.object_args);
  EXPECT_EQ(explicit_.object_args, std::vector<std::string>{"--tables=x.y"});
}

TEST(Options, VerifyRepairAndItsDryRun) {
  Options plain = parse({"verify", "--source", kSrc, "--target", kDst});
  EXPECT_FALSE(plain.repair);
  EXPECT_FALSE(plain.dry_run);
  Options dry = parse({"verify", "--source", kSrc, "--target", kDst, "--repair", "--dry-run"});
  EXPECT_TRUE(dry.repair);
  EXPECT_TRUE(dry.dry_run);
  EXPECT_THROW(parse({"verify", "--source", kSrc, "--target", kDst, "--dry-run"}), UsageError);
  EXPECT_THROW(parse(sync_args({"--repair"})), UsageError);  // verify's alone
}

// boost's what() looped forever on a token holding its own placeholder
// (found by fuzz/options_fuzzer.cpp): each must end as a UsageError.
TEST(Options, PlaceholdersInTokensEndAsUsageErrors) {
  EXPECT_NE(usage_error(sync_args({"--jobs", "%value%"})).find("--jobs"), std::string::npos);
  EXPECT_NE(usage_error(sync_args({"-%-h:///e%original_token%"})), "(no error)");
  EXPECT_NE(usage_error(sync_args({"--%canonical_option%"})), "(no error)");
  EXPECT_NE(usage_error(sync_args({"--full-rps=%value%%value%"})), "(no error)");
}
