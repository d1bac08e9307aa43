// secrets::redact: tables of texts as they reach pgdts' outputs (conninfo,
// URIs, DDL statements, libpq and server messages), each with the secret
// that must not survive and a part that must.
#include <gtest/gtest.h>

#include <string>

#include "secrets/redact.h"

using pgdts::secrets::redact;

namespace {

struct Case {
  std::string text;
  std::string secret;  // must be gone
  std::string kept;    // must still be there ("" for none)
};

void check(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    std::string out = redact(c.text);
    EXPECT_EQ(out.find(c.secret), std::string::npos) << c.text << "\n  -> " << out;
    if (!c.kept.empty()) EXPECT_NE(out.find(c.kept), std::string::npos) << c.text << "\n  -> " << out;
    EXPECT_NE(out.find("****"), std::string::npos) << c.text << "\n  -> " << out;
    EXPECT_EQ(redact(out), out) << "not idempotent: " << out;
  }
}

}  // namespace

TEST(Redact, KeyValueConninfo) {
  check({
      {"host=a password=hunter2 dbname=x", "hunter2", "dbname=x"},
      {"host=a PASSWORD=hunter2", "hunter2", "host=a"},
      {"host=a password = hunter2 user=u", "hunter2", "user=u"},
      {"host=a password='se cr et' user=u", "cr et", "user=u"},
      {"host=a password='se cr\\'et x' user=u", "et x", "user=u"},
      {"host=a password='it''s here' user=u", "s here", "user=u"},
      {"host=h sslpassword=k3yphrase sslkey=/c.key", "k3yphrase", "sslkey=/c.key"},
      {"PGPASSWORD=t0psecret psql -h x", "t0psecret", "psql -h x"},
      {"Driver={PG};UID=u;PWD=odbcpass1;", "odbcpass1", "Driver"},
  });
}

TEST(Redact, DegenerateInputs) {
  for (const char* s : {"", "password", "password=", "password='", "password=''", "PASSWORD $",
                        "PASSWORD $x", "postgresql://", "postgresql://u:", "\"password", "x://@",
                        "password = \\", "OPTIONS (password E'"})
    EXPECT_LE(redact(s).size(), std::string(s).size() + 8) << s;  // terminates, does not throw
  EXPECT_EQ(redact("password='"), "password=****");
  EXPECT_EQ(redact("OPTIONS (password E'abc"), "OPTIONS (password E'****");
}

TEST(Redact, UriPasswordWithAnyCharacter) {
  check({
      {"postgresql://u:hunter2@h:5432/db", "hunter2", "@h:5432/db"},
      {"postgres://u:hun%40ter2@h/db", "hun%40ter2", "@h/db"},
      {"postgresql://u:pa/ss@h/db", "pa/ss", "@h/db"},
      {"postgresql://u:pa@ss@h/db", "pa@ss", "@h/db"},
      {"postgresql://u:p:a:ss@h/db", "p:a:ss", "@h/db"},
      {"postgresql://u:pa?ss#x@h/db", "pa?ss#x", "@h/db"},
      {"postgresql://u:pa%2Fss%25@h/db", "pa%2Fss%25", "@h/db"},
      {"connect to 'postgresql://u:s3cret@h/db' failed", "s3cret", "failed"},
      {"https://hook:t0ken-xyz@alerts.example/x", "t0ken-xyz", "alerts.example"},
      // cut before its '@' (a truncated log value): the rest is masked
      {"postgresql://u:hunter2", "hunter2", "postgresql://u:"},
  });
}

TEST(Redact, UriQueryParameters) {
  check({
      {"postgresql://h/db?password=hunter2", "hunter2", "postgresql://h/db?password="},
      {"postgresql://h/db?sslmode=require&password=hunter2&application_name=a",
       "hunter2", "application_name=a"},
      {"postgresql://h/db?pass%77ord=hunter2", "hunter2", "pass%77ord="},
      {"postgresql://h/db?SSL%50ASSWORD=k3yk3y", "k3yk3y", "SSL%50ASSWORD="},
      {"postgresql://h/db?password=a&b&c=1", "a&b", "c=1"},
  });
}

TEST(Redact, UrisWithoutSecretsAreLeftAlone) {
  for (const char* s : {"postgresql://h1,h2/db", "postgresql://h:5432/db?sslmode=require",
                        "postgresql://[::1]:5432/db", "postgresql://u@h/db", "postgresql://",
                        "see https://www.postgresql.org/docs/15/libpq.html"})
    EXPECT_EQ(redact(s), s);
}

TEST(Redact, PasswordsInDdl) {
  check({
      {"CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'hunter2')", "hunter2",
       "user 'u'"},
      {"ALTER USER MAPPING FOR app SERVER s OPTIONS (SET password 'hunter2')", "hunter2",
       "SET password"},
      {"ALTER USER MAPPING FOR app SERVER s OPTIONS (ADD \"password\" 'hunter2', user 'x')",
       "hunter2", "user 'x'"},
      {"CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h', password 'hunter2')",
       "hunter2", "host 'h'"},
      {"ALTER SERVER s OPTIONS (ADD sslpassword 'k3yk3y')", "k3yk3y", "ALTER SERVER s"},
      {"ALTER ROLE bob PASSWORD 'hunter2' VALID UNTIL 'infinity'", "hunter2", "infinity"},
      {"CREATE ROLE bob LOGIN ENCRYPTED PASSWORD 'hunter2'", "hunter2", "LOGIN"},
      {"alter user bob with password 'hun''ter2'", "ter2", "alter user bob"},
      {"ALTER ROLE bob PASSWORD E'hun\\'ter2'", "ter2", "ALTER ROLE"},
      {"ALTER ROLE bob PASSWORD U&'hunter2'", "hunter2", "ALTER ROLE"},
      {"ALTER ROLE bob PASSWORD $$hunter2$$", "hunter2", "ALTER ROLE"},
      {"ALTER ROLE bob PASSWORD $pw$hun'ter2$pw$", "ter2", "ALTER ROLE"},
      {"ALTER ROLE bob PASSWORD /* c */ 'hunter2'", "hunter2", "ALTER ROLE"},
      {"ALTER ROLE bob PASSWORD\n'hunter2'", "hunter2", "ALTER ROLE"},
      {"ALTER ROLE bob PASSWORD'hunter2'", "hunter2", "ALTER ROLE"},
      {"DO $$BEGIN EXECUTE 'ALTER SERVER s OPTIONS (SET password ''hun ter2'')'; END$$", "ter2",
       "EXECUTE"},
      {"SELECT E'ALTER ROLE r PASSWORD \\'hun ter2\\''", "ter2", "SELECT"},
      // cut inside the literal (a truncated statement): masked to the end
      {"ALTER ROLE bob PASSWORD 'hunter2 and more", "hunter2", "ALTER ROLE"},
  });
}

TEST(Redact, ConninfoInsideSqlLiterals) {
  check({
      {"SELECT dblink_connect('c', 'host=x password=hunter2 dbname=d')", "hunter2", "dblink_connect"},
      {"SELECT dblink_connect('host=x password=''hun ter2'' dbname=d')", "ter2", "dblink_connect"},
      {"SELECT dblink_connect(E'host=x password=\\'hun ter2\\' dbname=d')", "ter2", "dblink_connect"},
      {"SELECT dblink('postgresql://u:hunter2@h/d', 'select 1')", "hunter2", "select 1"},
      {"CREATE TABLE t (c text DEFAULT 'host=x password=hunter2')", "hunter2", "CREATE TABLE t"},
  });
}

TEST(Redact, LibpqAndServerMessages) {
  check({
      {"invalid percent-encoded token: \"postgresql://u:hun%zzter2@h/db\"", "hun%zzter2",
       "invalid percent-encoded token"},
      {"ERROR:  syntax error at or near \"OPTION\"\nLINE 1: ALTER ROLE bob PASSWORD 'hunter2' OPTION",
       "hunter2", "syntax error"},
      {"destination rejected DDL CREATE USER MAPPING at source LSN 0/1: server \"s\" does not "
       "exist (statement: CREATE USER MAPPING FOR u SERVER s OPTIONS (password 'hunter2'))",
       "hunter2", "does not exist"},
      {"config file \"x\": invalid line 'source password=hunter2'", "hunter2", "invalid line"},
  });
  // Messages about passwords, without one, are left as they are.
  for (const char* s : {"FATAL:  password authentication failed for user \"bob\"",
                        "missing \"=\" after \"password\" in connection info string",
                        "check --source (host, port, database, user, password)",
                        "ALTER ROLE bob PASSWORD NULL"})
    EXPECT_EQ(redact(s), s);
}

TEST(Redact, RememberedSecretsAreMaskedAnywhere) {
  pgdts::secrets::remember("Zq9-remembered");
  EXPECT_EQ(redact("could not translate host name \"Zq9-remembered\" to address"),
            "could not translate host name \"****\" to address");
  pgdts::secrets::remember("abcde");  // too short to mask everywhere
  EXPECT_EQ(redact("table abcde"), "table abcde");
  pgdts::secrets::remember_conninfo("postgresql://u:Yy7%2Fconn%40x@h/db");
  EXPECT_EQ(redact("port \"Yy7/conn@x\""), "port \"****\"");
  EXPECT_EQ(redact("port \"Yy7%2Fconn%40x\""), "port \"****\"");
  pgdts::secrets::remember_conninfo("host=h password='Ww8 quoted\\'pw'");
  EXPECT_EQ(redact("x Ww8 quoted'pw y"), "x **** y");
}

TEST(MaskConninfo, WholeStringIsOneConnectionString) {
  using pgdts::secrets::mask_conninfo;
  EXPECT_EQ(mask_conninfo("postgresql://u:pa ss@h/db"), "postgresql://u:****@h/db");
  EXPECT_EQ(mask_conninfo("host=a password secret"), "host=a password ****");
  EXPECT_EQ(mask_conninfo("host=a dbname='my password' user=u"), "host=a dbname='my password' user=u");
  EXPECT_TRUE(pgdts::secrets::has_secret("postgresql://u:x@h"));
  EXPECT_FALSE(pgdts::secrets::has_secret("host=h dbname=d"));
}

// The sinks redact values before escaping, and the whole text again as a
// backstop: that second pass must keep JSON documents and log lines whole.
TEST(Redact, KeepsJsonAndLogLinesParseable) {
  EXPECT_EQ(redact(R"({"a":"x password=hunter2","b":"postgresql://u:pw2222@h/db","c":1})"),
            R"({"a":"x password=****","b":"postgresql://u:****@h/db","c":1})");
  EXPECT_EQ(redact(R"({"e":"invalid input: \"host=x password=hunter2\"","f":2})"),
            R"({"e":"invalid input: \"host=x password=****\"","f":2})");
  EXPECT_EQ(redact(R"(event=x statement="ALTER TABLE t ADD c text DEFAULT 'password=hunter2'" lsn=0/1)"),
            R"(event=x statement="ALTER TABLE t ADD c text DEFAULT 'password=****'" lsn=0/1)");
  EXPECT_EQ(redact(R"(source="host=h password=****" target=postgresql://u:****@h/db)"),
            R"(source="host=h password=****" target=postgresql://u:****@h/db)");
}
