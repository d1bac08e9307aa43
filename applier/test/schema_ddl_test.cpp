#include "schema/ddl.h"

#include <gtest/gtest.h>

#include "error.h"

namespace pgdts::schema {
namespace {

Quoting test_quoting() {
  return {[](std::string_view s) {
            std::string out = "\"";
            for (char c : s) {
              if (c == '"') out += '"';
              out += c;
            }
            return out + "\"";
          },
          [](std::string_view s) {
            std::string out = "'";
            for (char c : s) {
              if (c == '\'') out += '\'';
              out += c;
            }
            return out + "'";
          }};
}

Column col(std::string name, std::string type) {
  Column c;
  c.name = std::move(name);
  c.type.sql = std::move(type);
  return c;
}

SourceSchema shop() {
  SourceSchema s;
  s.path_schemas = {"other", "shop"};
  Sequence seq;
  seq.name = {"shop", "orders_id_seq"};
  seq.owner_table = model::TableName{"shop", "orders"};
  seq.owner_column = "id";
  s.sequences.push_back(seq);
  Sequence ident;
  ident.name = {"shop", "items_id_seq"};
  ident.identity = true;
  ident.max = 9223372036854775807;
  ident.owner_table = model::TableName{"shop", "items"};
  ident.owner_column = "id";
  s.sequences.push_back(ident);

  Table orders;
  orders.name = {"shop", "orders"};
  Column id = col("id", "integer");
  id.not_null = true;
  id.default_expr = "nextval('orders_id_seq'::regclass)";
  id.default_sequence = model::TableName{"shop", "orders_id_seq"};
  orders.columns.push_back(id);
  Column mood = col("Mood", "shop.mood");
  mood.type.user_type = model::TableName{"shop", "mood"};
  orders.columns.push_back(mood);
  Column tags = col("tags", "shop.mood[]");
  tags.type.user_type = model::TableName{"shop", "mood"};
  tags.type.array = true;
  orders.columns.push_back(tags);
  Column total = col("total", "numeric(10,2)");
  total.generated = true;
  total.default_expr = "(price * 2)";
  orders.columns.push_back(total);
  orders.constraints.push_back({"orders_pkey", 'p', "PRIMARY KEY (id)"});
  orders.constraints.push_back({"positive", 'c', "CHECK ((id > 0))"});
  Constraint fk;
  fk.name = "orders_item_fk";
  fk.type = 'f';
  fk.columns = {"item"};
  fk.referenced = {"shop", "items"};
  fk.referenced_columns = {"id"};
  fk.on_delete = 'c';
  orders.constraints.push_back(fk);
  Constraint out_fk = fk;
  out_fk.name = "orders_other_fk";
  out_fk.referenced = {"other", "t"};
  orders.constraints.push_back(out_fk);
  orders.indexes.push_back({"orders_lower", false, "btree (lower((\"Mood\")::text)) WHERE (id > 10)"});
  s.tables.push_back(orders);

  Table items;
  items.name = {"shop", "items"};
  Column iid = col("id", "bigint");
  iid.identity = 'a';
  iid.not_null = true;
  iid.identity_sequence = model::TableName{"shop", "items_id_seq"};
  items.columns.push_back(iid);
  s.tables.push_back(items);

  Table events;
  events.name = {"shop", "events"};
  events.relkind = 'p';
  events.partition_key = "RANGE (at)";
  events.columns = {col("at", "date"), col("v", "integer")};
  s.tables.push_back(events);
  Table jan;
  jan.name = {"shop", "events_jan"};
  jan.partition_parent = events.name;
  jan.partition_bound = "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')";
  jan.columns = events.columns;
  jan.columns[1].not_null = true;
  s.tables.push_back(jan);
  return s;
}

TEST(SchemaDdl, TableWithMappedSchemaUserTypesSerialGeneratedAndCheck) {
  SourceSchema s = shop();
  model::NameMap map = model::NameMap::parse({"shop=store", "shop.orders=purchases"}, model::CasePolicy::keep);
  DdlWriter w(s, map, test_quoting());
  auto sql = w.create_table(s.tables[0]);
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_EQ(sql[0],
            "CREATE TABLE \"store\".\"purchases\" (\"id\" integer DEFAULT "
            "nextval('\"store\".\"orders_id_seq\"'::regclass) NOT NULL, \"Mood\" \"store\".\"mood\", "
            "\"tags\" \"store\".\"mood\"[], \"total\" numeric(10,2) GENERATED ALWAYS AS ((price * 2)) STORED, "
            "CONSTRAINT \"positive\" CHECK ((id > 0)))");
  auto owned = w.owned_by(s.tables[0]);
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(owned[0], "ALTER SEQUENCE \"store\".\"orders_id_seq\" OWNED BY \"store\".\"purchases\".\"id\"");
  EXPECT_EQ(w.search_path("shop"), "pg_catalog, \"store\", \"other\", public");
}

TEST(SchemaDdl, IdentityColumnCarriesItsSequenceOptions) {
  SourceSchema s = shop();
  DdlWriter w(s, model::NameMap(), test_quoting());
  EXPECT_EQ(w.create_table(s.tables[1])[0],
            "CREATE TABLE \"shop\".\"items\" (\"id\" bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME "
            "\"shop\".\"items_id_seq\" START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE "
            "9223372036854775807 CACHE 1 NO CYCLE) NOT NULL)");
}

TEST(SchemaDdl, PartitionIsCreatedOfItsParentWithWhatItAdds) {
  SourceSchema s = shop();
  DdlWriter w(s, model::NameMap(), test_quoting());
  EXPECT_EQ(w.create_table(s.tables[2])[0],
            "CREATE TABLE \"shop\".\"events\" (\"at\" date, \"v\" integer) PARTITION BY RANGE (at)");
  auto part = w.create_table(s.tables[3]);
  ASSERT_EQ(part.size(), 2u);
  EXPECT_EQ(part[0],
            "CREATE TABLE \"shop\".\"events_jan\" PARTITION OF \"shop\".\"events\" FOR VALUES FROM "
            "('2026-01-01') TO ('2026-02-01')");
  EXPECT_EQ(part[1], "ALTER TABLE \"shop\".\"events_jan\" ALTER COLUMN \"v\" SET NOT NULL");
}

TEST(SchemaDdl, KeysIndexesAndForeignKeysInsideTheTaskOnly) {
  SourceSchema s = shop();
  DdlWriter w(s, model::NameMap(), test_quoting());
  auto keys = w.keys_and_indexes(s.tables[0]);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].sql, "ALTER TABLE \"shop\".\"orders\" ADD CONSTRAINT \"orders_pkey\" PRIMARY KEY (id)");
  EXPECT_EQ(keys[1].sql,
            "CREATE INDEX IF NOT EXISTS \"orders_lower\" ON \"shop\".\"orders\" USING btree "
            "(lower((\"Mood\")::text)) WHERE (id > 10)");
  std::vector<std::pair<std::string, model::TableName>> skipped;
  auto fks = w.foreign_keys(s.tables[0], &skipped);
  ASSERT_EQ(fks.size(), 1u);
  EXPECT_EQ(fks[0].sql,
            "ALTER TABLE \"shop\".\"orders\" ADD CONSTRAINT \"orders_item_fk\" FOREIGN KEY (\"item\") "
            "REFERENCES \"shop\".\"items\" (\"id\") ON UPDATE NO ACTION ON DELETE CASCADE");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].first, "orders_other_fk");
}

TEST(SchemaDdl, EnumDomainAndCompositeTypes) {
  SourceSchema s;
  model::NameMap map = model::NameMap::parse({"shop=store"}, model::CasePolicy::keep);
  DdlWriter w(s, map, test_quoting());
  UserType e;
  e.name = {"shop", "mood"};
  e.labels = {"sad", "it's ok"};
  EXPECT_EQ(w.create_type(e)[0], "CREATE TYPE \"store\".\"mood\" AS ENUM ('sad', 'it''s ok')");
  UserType d;
  d.name = {"shop", "price"};
  d.kind = 'd';
  d.base.sql = "numeric(10,2)";
  d.not_null = true;
  d.default_expr = "0";
  d.checks.push_back({"price_check", 'c', "CHECK ((VALUE >= (0)::numeric))"});
  auto ds = w.create_type(d);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0], "CREATE DOMAIN \"store\".\"price\" AS numeric(10,2) DEFAULT 0 NOT NULL");
  EXPECT_EQ(ds[1], "ALTER DOMAIN \"store\".\"price\" ADD CONSTRAINT \"price_check\" CHECK ((VALUE >= (0)::numeric))");
  UserType c;
  c.name = {"shop", "addr"};
  c.kind = 'c';
  UserType::Attribute a{"city", {"text", std::nullopt, false}, std::string("\"C\"")};
  UserType::Attribute m{"m", {"shop.mood", model::TableName{"shop", "mood"}, false}, std::nullopt};
  c.attributes = {a, m};
  EXPECT_EQ(w.create_type(c)[0], "CREATE TYPE \"store\".\"addr\" AS (\"city\" text COLLATE \"C\", \"m\" \"store\".\"mood\")");
}

// shop() with owners and grants as a source might have them: alice owns
// the schema and the orders table (and so its serial sequence), a standalone
// sequence, grants to a role the destination has, to one it lacks and to
// PUBLIC.
SourceSchema owned_shop() {
  SourceSchema s = shop();
  s.schemas = {"shop"};
  s.schema_access["shop"] = {"alice", {{"reader", "USAGE", false}}};
  s.tables[0].access = {"alice",
                        {{"reader", "SELECT", false}, {"reader", "UPDATE", false},
                         {"ops", "SELECT", true}, {"gone", "SELECT", false}, {"", "SELECT", false}}};
  s.sequences[0].access = {"alice", {{"reader", "USAGE", false}}};
  Sequence standalone;
  standalone.name = {"shop", "ticket_no"};
  standalone.access = {"bob\"; DROP ROLE alice; --", {}};
  s.sequences.push_back(standalone);
  return s;
}

AccessPolicy keep_owners() { return {Ownership{}, {"alice", "reader", "ops"}}; }

TEST(SchemaDdl, CreatedObjectsGetTheirSourceOwnerThenItsGrants) {
  SourceSchema s = owned_shop();
  model::NameMap map = model::NameMap::parse({"shop=store"}, model::CasePolicy::keep);
  DdlWriter w(s, map, test_quoting());
  std::vector<SkippedGrant> skipped;
  EXPECT_EQ(w.table_access(s.tables[0], keep_owners(), &skipped),
            (std::vector<std::string>{
                "ALTER TABLE \"store\".\"orders\" OWNER TO \"alice\"",
                "GRANT SELECT ON TABLE \"store\".\"orders\" TO PUBLIC",
                "GRANT SELECT ON TABLE \"store\".\"orders\" TO \"ops\" WITH GRANT OPTION",
                "GRANT SELECT, UPDATE ON TABLE \"store\".\"orders\" TO \"reader\"",
                // The serial sequence follows the table's owner; its grants are its own.
                "GRANT USAGE ON SEQUENCE \"store\".\"orders_id_seq\" TO \"reader\""}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].object, "TABLE \"store\".\"orders\"");
  EXPECT_EQ(skipped[0].grantee, "gone");
  EXPECT_EQ(w.schema_access("shop", keep_owners(), &skipped),
            (std::vector<std::string>{"ALTER SCHEMA \"store\" OWNER TO \"alice\"",
                                      "GRANT USAGE ON SCHEMA \"store\" TO \"reader\""}));
}

TEST(SchemaDdl, OnlyStandaloneSequencesChangeOwnerThemselvesAndRoleNamesAreQuoted) {
  SourceSchema s = owned_shop();
  DdlWriter w(s, model::NameMap(), test_quoting());
  EXPECT_TRUE(w.sequence_access(s.sequences[0], keep_owners(), nullptr).empty());  // OWNED BY
  EXPECT_TRUE(w.sequence_access(s.sequences[1], keep_owners(), nullptr).empty());  // identity
  EXPECT_EQ(w.sequence_access(s.sequences[2], keep_owners(), nullptr),
            (std::vector<std::string>{
                "ALTER SEQUENCE \"shop\".\"ticket_no\" OWNER TO \"bob\"\"; DROP ROLE alice; --\""}));
}

TEST(SchemaDdl, DomainsChangeOwnerThroughAlterDomain) {
  SourceSchema s;
  DdlWriter w(s, model::NameMap(), test_quoting());
  UserType d;
  d.name = {"shop", "price"};
  d.kind = 'd';
  d.owner = "alice";
  EXPECT_EQ(w.type_access(d, keep_owners()),
            (std::vector<std::string>{"ALTER DOMAIN \"shop\".\"price\" OWNER TO \"alice\""}));
  d.kind = 'e';
  EXPECT_EQ(w.type_access(d, keep_owners()),
            (std::vector<std::string>{"ALTER TYPE \"shop\".\"price\" OWNER TO \"alice\""}));
}

TEST(SchemaDdl, NoOwnerGivesEverythingToTheOwnerRoleWithoutGrants) {
  SourceSchema s = owned_shop();
  DdlWriter w(s, model::NameMap(), test_quoting());
  AccessPolicy bob{Ownership{false, "bob"}, {"bob"}};
  EXPECT_EQ(w.table_access(s.tables[0], bob, nullptr),
            (std::vector<std::string>{"ALTER TABLE \"shop\".\"orders\" OWNER TO \"bob\""}));
  AccessPolicy creator{Ownership{false, ""}, {}};
  EXPECT_TRUE(w.table_access(s.tables[0], creator, nullptr).empty());
  EXPECT_TRUE(w.schema_access("shop", creator, nullptr).empty());
}

TEST(SchemaDdl, UnknownPrivilegeFromTheSourceIsRefused) {
  SourceSchema s = owned_shop();
  s.tables[0].access.grants = {{"reader", "SELECT; DROP TABLE x", false}};
  DdlWriter w(s, model::NameMap(), test_quoting());
  EXPECT_THROW(w.table_access(s.tables[0], keep_owners(), nullptr), Error);
}

TEST(SchemaDdl, ColumnRenamesAreOrderedAndCollisionsRefused) {
  SourceSchema s;
  Table t;
  t.name = {"s", "t"};
  t.columns = {col("a", "int"), col("b", "int"), col("Keep", "int")};
  s.tables.push_back(t);
  {
    model::NameMap map = model::NameMap::parse({"s.t.a=x"}, model::CasePolicy::lower);
    DdlWriter w(s, map, test_quoting());
    auto r = w.column_renames(s.tables[0]);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(w.rename_column(s.tables[0], r[0]), "ALTER TABLE \"s\".\"t\" RENAME COLUMN \"a\" TO \"x\"");
    EXPECT_EQ(r[1].from, "Keep");
    EXPECT_EQ(r[1].to, "keep");
  }
  {
    // a and b swap: through temporary names.
    model::NameMap map = model::NameMap::parse({"s.t.a=b", "s.t.b=a"}, model::CasePolicy::keep);
    DdlWriter w(s, map, test_quoting());
    auto r = w.column_renames(s.tables[0]);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[0].to, "pgdts_rename_0");
    EXPECT_EQ(r[3].to, "a");
  }
  {
    model::NameMap map = model::NameMap::parse({"s.t.a=b"}, model::CasePolicy::keep);
    try {
      check_column_collisions(s, map);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("columns \"a\" and \"b\" would both be called \"b\""),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace pgdts::schema
