#include <gtest/gtest.h>

#include <map>

#include "pg/conninfo.h"
#include "pg/connection.h"
#include "error.h"

using pgdts::pg::mask_password;

TEST(MaskPassword, KeywordForm) {
  EXPECT_EQ(mask_password("host=a password=secret dbname=x"), "host=a password=**** dbname=x");
  EXPECT_EQ(mask_password("password=secret"), "password=****");
  EXPECT_EQ(mask_password("host=a password = 'se cr\\'et' user=u"), "host=a password = **** user=u");
  EXPECT_EQ(mask_password("host=a PASSWORD=secret"), "host=a PASSWORD=****");
  EXPECT_EQ(mask_password("host=a dbname=x"), "host=a dbname=x");
  EXPECT_EQ(mask_password("host=a dbname='my password' user=u"), "host=a dbname='my password' user=u");
  EXPECT_EQ(mask_password(""), "");
}

TEST(MaskPassword, MalformedKeywordFormMasksFromPasswordOn) {
  std::string m = mask_password("host=a password secret");
  EXPECT_EQ(m.find("secret"), std::string::npos) << m;
}

TEST(MaskPassword, UriUserInfoAndQuery) {
  EXPECT_EQ(mask_password("postgresql://u:secret@h:5432/db"), "postgresql://u:****@h:5432/db");
  EXPECT_EQ(mask_password("postgres://u:secret@h/db?sslmode=require&password=other"),
            "postgres://u:****@h/db?sslmode=require&password=****");
  EXPECT_EQ(mask_password("postgresql://u@h/db?password=x"), "postgresql://u@h/db?password=****");
  EXPECT_EQ(mask_password("postgresql://h1,h2/db"), "postgresql://h1,h2/db");
  EXPECT_EQ(mask_password("postgresql://u:p%40ss@h"), "postgresql://u:****@h");
  EXPECT_EQ(mask_password("postgresql://"), "postgresql://");
  // libpq decodes %-escapes in keys too
  EXPECT_EQ(mask_password("postgresql://h/db?pass%77ord=secret"), "postgresql://h/db?pass%77ord=****");
  EXPECT_EQ(mask_password("postgresql://h/db?SSL%50ASSWORD=k"), "postgresql://h/db?SSL%50ASSWORD=****");
}

TEST(ConnInfo, ParsesBothForms) {
  auto c = pgdts::pg::ConnInfo::parse("host=127.0.0.1 port=5 dbname=app password=s", "--source");
  EXPECT_EQ(c.get("port").value(), "5");
  EXPECT_EQ(c.get("password").value(), "s");
  EXPECT_EQ(c.masked(), "host=127.0.0.1 port=5 dbname=app password=****");
  auto u = pgdts::pg::ConnInfo::parse("postgresql://u:pw@h:7/db", "--target");
  EXPECT_EQ(u.get("host").value(), "h");
  EXPECT_EQ(u.get("dbname").value(), "db");
  EXPECT_EQ(u.masked(), "postgresql://u:****@h:7/db");
}

TEST(PidInMessage, FindsTheServersPid) {
  EXPECT_EQ(pgdts::pg::pid_in_message("replication slot \"dts_sync_x\" is active for PID 4242"), "4242");
  EXPECT_EQ(pgdts::pg::pid_in_message("replication origin with ID 1 is already active for PID 77"), "77");
  EXPECT_EQ(pgdts::pg::pid_in_message("no pid here"), "?");
}

TEST(ConnInfo, MasksTheClientKeyPassphrase) {
  EXPECT_EQ(mask_password("host=h sslpassword=k3y sslkey=/c.key"),
            "host=h sslpassword=**** sslkey=/c.key");
  EXPECT_EQ(mask_password("postgresql://h/db?sslpassword=k3y&sslmode=verify-full"),
            "postgresql://h/db?sslpassword=****&sslmode=verify-full");
}

TEST(ConnInfo, ValuesLibpqChecksOnlyWhenConnectingAreUsageErrors) {
  using pgdts::pg::ConnInfo;
  for (const char* bad : {"host=h port=abc", "host=h port=0", "host=h port=70000", "host=h port=5432x",
                          "host=a,b port=1,2,3", "host=h connect_timeout=ten",
                          "host=h sslmode=sometimes", "host=h target_session_attrs=writable",
                          "postgresql://h:abc/db", "host=h keepalives_idle=1.5"})
    EXPECT_THROW(ConnInfo::parse(bad, "--source"), pgdts::UsageError) << bad;
  for (const char* good : {"host=h port=5432", "host=a,b port=1,2", "host=a,b port=7",
                           "host=h port=", "host=h connect_timeout=10 sslmode=verify-full",
                           "postgresql://h1:5432,h2/db?target_session_attrs=read-write"})
    EXPECT_NO_THROW(ConnInfo::parse(good, "--source")) << good;
}

TEST(ConnInfo, ErrorsNeverQuoteThePassword) {
  using pgdts::pg::ConnInfo;
  struct Case {
    const char* conninfo;
    const char* secret;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"host=h password=se cret9 port=5", "cret9"},             // libpq: missing "=" after "cret9"
           {"host=h password='unterminated s3cret", "s3cret"},        // unterminated quoted string
           {"postgresql://u:pa/ss-w0rd@h/db", "ss-w0rd"},            // '/' in the user info
           {"postgresql://u:pa?ss-w0rd@h/db", "ss-w0rd"},            // '?' in the user info
           {"postgresql://u:p%zzw0rd-x@h/db", "w0rd-x"},             // bad percent escape
           {"postgresql://h/db?password=hunt%zz3r", "hunt"},          // bad escape in the query
           {"host=h port=abc password=hunter22", "hunter22"}}) {
    try {
      ConnInfo::parse(c.conninfo, "--source");
      ADD_FAILURE() << "accepted " << c.conninfo;
    } catch (const pgdts::UsageError& e) {
      std::string what = e.what();
      EXPECT_EQ(what.find(c.secret), std::string::npos) << what;
      EXPECT_NE(what.find("--source"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

namespace {

// What libpq would use: the last value of each key.
std::map<std::string, std::string> effective(const pgdts::pg::ConnInfo& info, bool replication) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : pgdts::pg::connection_parameters(info, {"source", replication, "", ""}))
    out[k] = v;
  return out;
}

}  // namespace

TEST(ConnectionParameters, DeadPeersAreNoticedByDefault) {
  auto p = effective(pgdts::pg::ConnInfo::parse("host=h dbname=d", "--source"), false);
  EXPECT_EQ(p["keepalives_idle"], "30");
  EXPECT_EQ(p["keepalives_interval"], "10");
  EXPECT_EQ(p["keepalives_count"], "3");
  EXPECT_EQ(p["tcp_user_timeout"], "60000");
  EXPECT_EQ(p["connect_timeout"], "10");
  EXPECT_EQ(p.count("replication"), 0u);
}

TEST(ConnectionParameters, TheUsersSettingsWin) {
  auto p = effective(pgdts::pg::ConnInfo::parse(
                         "host=h keepalives_idle=5 tcp_user_timeout=0 sslmode=verify-full "
                         "sslpassword=pass",
                         "--source"),
                     true);
  EXPECT_EQ(p["keepalives_idle"], "5");
  EXPECT_EQ(p["tcp_user_timeout"], "0");
  EXPECT_EQ(p["keepalives_count"], "3");
  EXPECT_EQ(p["sslmode"], "verify-full");
  EXPECT_EQ(p["sslpassword"], "pass");  // reaches libpq, the replication connection too
  EXPECT_EQ(p["replication"], "database");
}

constexpr const char* kServerKeepalives =
    "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3 "
    "-c tcp_user_timeout=60000";

TEST(ConnectionParameters, JitIsOffAfterTheUsersOwnOptions) {
  auto plain = effective(pgdts::pg::ConnInfo::parse("host=h dbname=d", "--source"), false);
  EXPECT_EQ(plain["options"], std::string(kServerKeepalives) + " -c jit=off");
  auto theirs = effective(
      pgdts::pg::ConnInfo::parse("host=h options='-c jit=on -c work_mem=64MB'", "--source"), false);
  EXPECT_EQ(theirs["options"],
            std::string(kServerKeepalives) + " -c jit=on -c work_mem=64MB -c jit=off");
}

TEST(ConnectionParameters, TheServerEndsTheSessionsOfALostConnectionTooAndTheUserMayTuneIt) {
  auto theirs = effective(
      pgdts::pg::ConnInfo::parse("host=h options='-c tcp_keepalives_idle=5'", "--source"), true);
  EXPECT_EQ(theirs["options"],
            std::string(kServerKeepalives) + " -c tcp_keepalives_idle=5 -c jit=off");
}
