#include "schema/schema_sync.h"

#include <algorithm>

#include "pg/transaction.h"

namespace pgdts::schema {
namespace {

// The expression's column as PostgreSQL types it in a view over the table
// (a literal of unknown type becomes text), which is how the output plugin
// types the value it sends (plugin/transform.c): format_type under
// search_path = pg_catalog (anything else schema-qualified), whether it is
// an array, and its collation when not the type's default. The view lives
// in a transaction that is rolled back.
Column expression_column(pg::Connection& source, const Table& table,
                         const model::ColumnTransform& rule) {
  pg::Transaction txn(source);
  source.exec("SET LOCAL search_path = pg_catalog");
  std::string relation = source.identifier(table.name.schema) + "." + source.identifier(table.name.name);
  source.exec("CREATE TEMP VIEW pgdts_expression_column AS SELECT " + model::select_expression(rule) +
              " AS v FROM ONLY " + relation);
  pg::Result r = source.exec(
      "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), "
      "  t.typcategory = 'A' AND t.typelem <> 0, "
      "  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
      "       THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END "
      "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
      "LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation "
      "LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "
      "WHERE a.attrelid = 'pg_temp.pgdts_expression_column'::pg_catalog.regclass AND a.attnum = 1");
  Column c;
  c.name = rule.column;
  c.type.sql = std::string(r.value(0, 0));
  c.type.array = r.value(0, 1) == "t";
  c.collation = r.optional(0, 2);
  c.expression_only = true;
  return c;
}

}  // namespace

std::vector<model::TableName> rule_names(const SourceSchema& schema, const Table& table) {
  std::vector<model::TableName> names{table.name};
  for (const Table* t = &table; t->partition_parent;) {
    names.push_back(*t->partition_parent);
    t = schema.find(*t->partition_parent);
    if (!t) break;
  }
  return names;
}

// Partitioned parents come before their partitions (SourceSchema::tables),
// so a parent's added column is typed once and its partitions take it over.
void add_expression_columns(pg::Connection& source, SourceSchema& schema,
                            const std::vector<model::ColumnTransform>& transforms) {
  for (auto& table : schema.tables) {
    std::vector<model::TableName> names = rule_names(schema, table);
    for (const auto& rule : transforms) {
      if (model::nearest_transform(transforms, names, rule.column) != &rule) continue;
      bool exists = std::any_of(table.columns.begin(), table.columns.end(),
                                [&](const Column& c) { return c.name == rule.column; });
      if (exists) continue;
      const Table* parent = table.partition_parent ? schema.find(*table.partition_parent) : nullptr;
      const Column* inherited = nullptr;
      if (parent)
        for (const auto& c : parent->columns)
          if (c.name == rule.column) inherited = &c;
      table.columns.push_back(inherited ? *inherited : expression_column(source, table, rule));
    }
  }
}

}  // namespace pgdts::schema
