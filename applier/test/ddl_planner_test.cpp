#include "ddl/planner.h"

#include <gtest/gtest.h>

#include "error.h"

namespace pgdts::ddl {
namespace {

using Action = Plan::Action;
using model::TableName;

pgdts::Ddl record(const std::string& sql, const std::string& path = "\"$user\", public",
                  std::vector<std::string> identities = {}, const std::string& schema = "public") {
  pgdts::Ddl d;
  d.set_statement(sql);
  d.set_statement_exact(true);
  d.set_search_path(path);
  d.set_role("app");
  d.set_command_tag("ALTER TABLE");
  d.set_schema(schema);
  for (auto& i : identities) d.add_object_identities(i);
  return d;
}

struct Fixture {
  model::Selection selection;
  model::NameMap names;
  std::set<TableName> start;
  std::set<std::string> dest_indexes;    // "schema.index"
  std::set<std::string> dest_sequences;  // "schema.sequence"
  Planner planner;
  Fixture(std::vector<std::string> schemas, std::vector<std::string> tables,
          std::vector<std::string> maps = {}, model::CasePolicy policy = model::CasePolicy::keep)
      : selection(model::Selection::parse(schemas, tables, {})),
        names(model::NameMap::parse(maps, policy)),
        planner(selection, names, start,
                DestinationLookup{[this](const std::string& s, const std::string& i) {
                                    return dest_indexes.count(s + "." + i) > 0;
                                  },
                                  [this](const std::string& s, const std::string& q) {
                                    return dest_sequences.count(s + "." + q) > 0;
                                  }}) {}
  Plan plan(const pgdts::Ddl& d) { return planner.plan(d, 0x100); }
};

TEST(DdlPlanner, ReplaysUnmappedStatementsVerbatim) {
  Fixture f({"public"}, {});
  Plan p = f.plan(record("alter table public.T add column c int -- comment", "\"$user\", public",
                         {"public.t"}));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "alter table public.T add column c int -- comment");
  EXPECT_EQ(p.search_path, (std::vector<std::string>{"$user", "public", "pg_temp"}));
}

TEST(DdlPlanner, SkipsTablesOutsideTheTask) {
  Fixture f({}, {"public.a"});
  Plan p = f.plan(record("ALTER TABLE b ADD COLUMN c int", "public", {"public.b"}));
  EXPECT_EQ(p.action, Action::skip);
  EXPECT_NE(p.reason.find("not in the task"), std::string::npos);
  EXPECT_EQ(f.plan(record("ALTER TABLE a ADD COLUMN c int", "public", {"public.a"})).action,
            Action::replay);
}

TEST(DdlPlanner, MapsSchemaTableAndColumnNames) {
  Fixture f({"app"}, {}, {"app=app2", "app.users=customers", "app.users.pw=password_hash"});
  Plan p = f.plan(record("ALTER TABLE users RENAME COLUMN pw TO secret", "app", {"app.users"}, "app"));
  EXPECT_EQ(p.sql, "ALTER TABLE app2.customers RENAME COLUMN password_hash TO secret");
  EXPECT_EQ(p.search_path, (std::vector<std::string>{"app2", "pg_temp"}));

  p = f.plan(record("ALTER TABLE app.users ADD CONSTRAINT pw_len CHECK (length(pw) > 3), "
                    "ALTER COLUMN pw SET NOT NULL, ALTER COLUMN pw TYPE varchar(80) USING pw::varchar",
                    "public", {"app.users"}, "app"));
  EXPECT_EQ(p.sql,
            "ALTER TABLE app2.customers ADD CONSTRAINT pw_len CHECK (length(password_hash) > 3), "
            "ALTER COLUMN password_hash SET NOT NULL, ALTER COLUMN password_hash TYPE varchar(80) USING "
            "password_hash::varchar");
}

TEST(DdlPlanner, MapsCreateTableWithKeysAndForeignKeys) {
  Fixture f({"app"}, {}, {"app=app2", "app.users=customers", "app.users.id=user_id"});
  f.planner.saw_table({"app", "users"});
  Plan p = f.plan(record("CREATE TABLE orders (id int PRIMARY KEY, uid int REFERENCES users (id), "
                         "qty int CHECK (qty > 0) DEFAULT 1, UNIQUE (uid, qty))",
                         "app", {"app.orders"}, "app"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql,
            "CREATE TABLE app2.orders (id int PRIMARY KEY, uid int REFERENCES app2.customers "
            "(user_id), qty int CHECK (qty > 0) DEFAULT 1, UNIQUE (uid, qty))");
}

TEST(DdlPlanner, FollowsTableRenamesThroughTheMap) {
  Fixture f({"s"}, {}, {"s.u=mapped_u", "s.v=mapped_v"});
  Plan p = f.plan(record("ALTER TABLE s.u RENAME TO v", "public", {"s.v"}, "s"));
  EXPECT_EQ(p.sql, "ALTER TABLE s.mapped_u RENAME TO mapped_v");
}

TEST(DdlPlanner, TableRenamedIntoTheTaskIsSkippedWithAWarning) {
  Fixture f({}, {"s.v"});
  Plan p = f.plan(record("ALTER TABLE s.u RENAME TO v", "public", {"s.v"}, "s"));
  EXPECT_EQ(p.action, Action::skip);
  EXPECT_TRUE(p.warn);
  // renamed out: replayed, then the table is no longer in the task
  p = f.plan(record("ALTER TABLE s.v RENAME TO w", "public", {"s.w"}, "s"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_FALSE(f.planner.in_task({"s", "w"}));
}

TEST(DdlPlanner, DropTableKeepsOnlyTablesInTheTask) {
  Fixture f({}, {"public.a"});
  Plan p = f.plan(record("DROP TABLE a, b CASCADE", "public"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "DROP TABLE a CASCADE");
  EXPECT_EQ(f.plan(record("DROP TABLE b", "public")).action, Action::skip);
}

TEST(DdlPlanner, ConcurrentIndexRunsAloneAndIdempotently) {
  Fixture f({"public"}, {});
  Plan p = f.plan(record("CREATE INDEX CONCURRENTLY ON t (c)", "public", {"public.t_c_idx"}));
  EXPECT_EQ(p.action, Action::replay_alone);
  EXPECT_EQ(p.sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_c_idx ON t USING btree (c)");
  EXPECT_EQ(p.index, "\"public\".\"t_c_idx\"");
  p = f.plan(record("DROP INDEX CONCURRENTLY t_c_idx", "public", {"public.t_c_idx"}));
  EXPECT_EQ(p.action, Action::replay_alone);
  EXPECT_EQ(p.sql, "DROP INDEX CONCURRENTLY IF EXISTS public.t_c_idx");
}

TEST(DdlPlanner, DropIndexOfPickedTablesAsksTheDestination) {
  Fixture f({}, {"s.a"}, {"s=d"});
  f.dest_indexes.insert("d.a_idx");
  EXPECT_EQ(f.plan(record("DROP INDEX s.a_idx", "public", {"s.a_idx"}, "s")).sql, "DROP INDEX d.a_idx");
  EXPECT_EQ(f.plan(record("DROP INDEX s.b_idx", "public", {"s.b_idx"}, "s")).action, Action::skip);
}

TEST(DdlPlanner, PartitionOfATaskTableJoinsTheTask) {
  Fixture f({}, {"s.parent"});
  Plan p = f.plan(record("CREATE TABLE s.p2024 PARTITION OF s.parent FOR VALUES FROM (1) TO (2)",
                         "public", {"s.p2024"}, "s"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_TRUE(f.planner.joined({"s", "p2024"}));
  EXPECT_EQ(f.plan(record("ALTER TABLE s.p2024 ADD COLUMN x int", "public", {"s.p2024"}, "s")).action,
            Action::replay);
}

TEST(DdlPlanner, SequenceOwnedByATaskTableFollowsIt) {
  Fixture f({}, {"s.t"}, {"s.t=t2", "s.t.c=c2"});
  Plan p = f.plan(record("CREATE SEQUENCE s.q OWNED BY s.t.c", "public", {"s.q"}, "s"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "CREATE SEQUENCE s.q OWNED BY s.t2.c2");
  EXPECT_EQ(f.plan(record("ALTER SEQUENCE s.q RESTART 5", "public", {"s.q"}, "s")).action,
            Action::replay);
  EXPECT_EQ(f.plan(record("DROP SEQUENCE s.q", "public", {"s.q"}, "s")).action, Action::replay);
  EXPECT_EQ(f.plan(record("CREATE SEQUENCE s.other", "public", {"s.other"}, "s")).action,
            Action::skip);
}

TEST(DdlPlanner, SequenceTheDestinationHasFollowsItsTable) {
  Fixture f({}, {"s.t"}, {"s=d"});
  f.dest_sequences.insert("d.t_id_seq");  // a SERIAL's, created with its table
  EXPECT_EQ(f.plan(record("ALTER SEQUENCE s.t_id_seq RESTART 7", "public", {"s.t_id_seq"}, "s")).sql,
            "ALTER SEQUENCE d.t_id_seq RESTART 7");
  EXPECT_EQ(f.plan(record("ALTER SEQUENCE s.other RESTART 7", "public", {"s.other"}, "s")).action,
            Action::skip);
}

TEST(DdlPlanner, CreateTableAsCreatesTheTableEmpty) {
  Fixture f({"public"}, {});
  EXPECT_EQ(f.plan(record("CREATE TABLE c AS SELECT 1 AS id", "public", {"public.c"})).sql,
            "CREATE TABLE public.c AS SELECT 1 AS id WITH NO DATA");
  EXPECT_EQ(f.plan(record("SELECT 3 AS id INTO c2", "public", {"public.c2"})).sql,
            "CREATE TABLE public.c2 AS SELECT 3 AS id WITH NO DATA");
}

TEST(DdlPlanner, PrivilegesAndOwnershipFollowTheSourceUnlessNoOwner) {
  Fixture f({"public"}, {});
  Plan p = f.plan(record("GRANT SELECT (pw) ON t TO reader", "public", {"public.t"}));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "GRANT select (pw) ON public.t TO reader");
  EXPECT_EQ(f.plan(record("ALTER TABLE t OWNER TO bob", "public", {"public.t"})).action,
            Action::replay);
  EXPECT_EQ(f.plan(record("REVOKE ALL ON FUNCTION f() FROM PUBLIC", "public", {"public.f()"})).sql,
            "REVOKE ALL ON FUNCTION public.f() FROM public");

  model::Selection sel = model::Selection::parse({"public"}, {}, {});
  model::NameMap names;
  std::set<TableName> start;
  Planner no_owner(sel, names, start, {}, PlannerOptions{false});
  EXPECT_EQ(no_owner.plan(record("GRANT SELECT ON t TO reader", "public", {"public.t"}), 1).action,
            Action::skip);
  Plan owner = no_owner.plan(record("ALTER TABLE t OWNER TO bob, ADD COLUMN c int", "public",
                                    {"public.t"}), 1);
  EXPECT_EQ(owner.sql, "ALTER TABLE public.t ADD COLUMN c int");
  EXPECT_EQ(no_owner.plan(record("ALTER TABLE t OWNER TO bob", "public", {"public.t"}), 1).action,
            Action::skip);
}

TEST(DdlPlanner, UnqualifiedNamesResolveAsTheSourceResolvedThem) {
  // SET search_path = a, b; CREATE TABLE base ...; CREATE INDEX ON base: the
  // source created and indexed a.base; a is not in the task, b.base is.
  Fixture f({"b"}, {});
  f.planner.saw_table({"b", "base"});
  pgdts::Ddl d = record("CREATE INDEX ON base (x)", "a, b", {"a.base_x_idx"}, "a");
  auto* r = d.add_resolved();
  r->set_name("base");
  r->set_schema("a");
  EXPECT_EQ(f.plan(d).action, Action::skip);
  // resolved into b: replayed there, qualified
  r->set_schema("b");
  Plan p = f.plan(d);
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "CREATE INDEX base_x_idx ON b.base USING btree (x)");
}

TEST(DdlPlanner, MultiObjectDropKeepsOnlyObjectsOfTheTask) {
  Fixture f({"app"}, {});
  Plan p = f.plan(record("DROP FUNCTION app.f1(), other.f2()", "public", {"app.f1()", "other.f2()"}, "app"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "DROP FUNCTION app.f1()");
  // unqualified: each object's schema comes from what the source dropped
  p = f.plan(record("DROP FUNCTION f1(), f2()", "app, other", {"app.f1()", "other.f2()"}, "app"));
  EXPECT_EQ(p.sql, "DROP FUNCTION app.f1()");
  EXPECT_EQ(f.plan(record("DROP VIEW other.v", "public", {"other.v"}, "other")).action, Action::skip);
  EXPECT_EQ(f.plan(record("DROP TRIGGER tr ON app.t", "public", {"tr on app.t"}, "app")).action,
            Action::skip);
}

TEST(DdlPlanner, SkipsWhatPgdtsDoesNotCreate) {
  Fixture f({"app"}, {});
  for (const char* sql : {
           "CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.f()",
           "CREATE RULE r AS ON INSERT TO app.t DO INSTEAD NOTHING",
           "CREATE POLICY p ON app.t USING (true)",
           "CREATE FOREIGN TABLE app.ft (a int) SERVER s",
           "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw",
           "CREATE EXTENSION hstore SCHEMA app",
           "CREATE MATERIALIZED VIEW app.mv AS SELECT 1",
           "CREATE PUBLICATION p FOR TABLE app.t",
           "GRANT pg_read_server_files TO alice",
       }) {
    Plan p = f.plan(record(sql, "app", {}, "app"));
    EXPECT_EQ(p.action, Action::skip) << sql;
  }
  // an ALTER TABLE keeps its other subcommands
  Plan p = f.plan(record("ALTER TABLE app.t ENABLE ALWAYS TRIGGER tr, ADD COLUMN c int", "app",
                         {"app.t"}, "app"));
  EXPECT_EQ(p.action, Action::replay);
  EXPECT_EQ(p.sql, "ALTER TABLE app.t ADD COLUMN c int");
  p = f.plan(record("ALTER TABLE app.t ENABLE REPLICA TRIGGER tr", "app", {"app.t"}, "app"));
  EXPECT_EQ(p.action, Action::skip);
  EXPECT_EQ(f.plan(record("ALTER TABLE app.t SET TABLESPACE fast", "app", {"app.t"}, "app")).action,
            Action::skip);
}

TEST(DdlPlanner, UnparsableTextIsSkippedWithAWarning) {
  Fixture f({"public"}, {});
  Plan p = f.plan(record("ALTER TABLE t ADD COLUMN z text DEFAULT 'a\\' || 1 || '", "public",
                         {"public.t"}));
  EXPECT_EQ(p.action, Action::skip);
  EXPECT_TRUE(p.warn);
}

TEST(DdlPlanner, CarriesTheRoleAndOnlyParseSettings) {
  Fixture f({"public"}, {});
  pgdts::Ddl d = record("ALTER TABLE t ADD COLUMN d date DEFAULT '01/02/03'", "public", {"public.t"});
  d.set_role("alice");
  d.set_role_superuser(false);
  auto add = [&](const char* n, const char* v) {
    auto* s = d.add_settings();
    s->set_name(n);
    s->set_value(v);
  };
  add("DateStyle", "SQL, DMY");
  add("session_replication_role", "replica");  // never adopted
  add("timezone", "Europe/Paris");
  Plan p = f.plan(d);
  EXPECT_EQ(p.role, "alice");
  EXPECT_FALSE(p.role_superuser);
  EXPECT_TRUE(p.role_superuser_known);
  EXPECT_EQ(p.settings, (std::vector<std::pair<std::string, std::string>>{
                            {"DateStyle", "SQL, DMY"}, {"TimeZone", "Europe/Paris"}}));
}

TEST(DdlPlanner, CasePolicyAppliesToUnquotedAndQuotedNames) {
  Fixture f({"App"}, {}, {}, model::CasePolicy::lower);
  Plan p = f.plan(record("ALTER TABLE \"App\".\"Users\" ADD COLUMN \"Nick\" text", "public",
                         {"\"App\".\"Users\""}, "App"));
  EXPECT_EQ(p.sql, "ALTER TABLE app.users ADD COLUMN nick text");
}

// Found by fuzz/ddl_planner_fuzzer.cpp: the deparser wrote an expression
// type modifier as "key()". A rewritten statement that does not read back is
// skipped with a warning, never sent to stop the destination.
TEST(DdlPlanner, SkipsARewriteThatDoesNotReadBack) {
  Fixture f({"public"}, {});
  Plan p = f.plan(record("CREATE TABLE t (g geometry(o # search_path))", "public"));
  EXPECT_EQ(p.action, Action::skip);
  EXPECT_TRUE(p.warn);
  EXPECT_NE(p.reason.find("cannot be written out"), std::string::npos) << p.reason;
  Plan ok = f.plan(record("CREATE TABLE t (g geometry(Point, 4326))", "public"));
  EXPECT_EQ(ok.action, Action::replay);
  EXPECT_EQ(ok.sql, "CREATE TABLE public.t (g geometry(point, 4326))");
}

TEST(DdlPlanner, StopsAtARecordWithoutItsText) {
  Fixture f({"public"}, {});
  pgdts::Ddl d = record("");
  d.set_statement_exact(false);
  EXPECT_THROW(f.plan(d), Error);
}

TEST(DdlPlanner, SplitsIdentitiesAndSearchPaths) {
  EXPECT_EQ(split_identity("public.\"a.b\"\"c\""), (std::vector<std::string>{"public", "a.b\"c"}));
  EXPECT_EQ(split_identity("c_check on s.t"), (std::vector<std::string>{"s", "t"}));
  EXPECT_EQ(split_search_path("\"$user\", Public, \"My S\""),
            (std::vector<std::string>{"$user", "public", "My S"}));
}

}  // namespace
}  // namespace pgdts::ddl
