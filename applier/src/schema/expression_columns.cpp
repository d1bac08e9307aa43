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

void add_expression_columns(pg::Connection& source, SourceSchema& schema,
                            const std::vector<model::ColumnTransform>& transforms) {
  for (const auto& rule : transforms) {
    auto table = std::find_if(schema.tables.begin(), schema.tables.end(),
                              [&](const Table& t) { return t.name == rule.table; });
    if (table == schema.tables.end()) continue;
    bool exists = std::any_of(table->columns.begin(), table->columns.end(),
                              [&](const Column& c) { return c.name == rule.column; });
    if (!exists) table->columns.push_back(expression_column(source, *table, rule));
  }
}

}  // namespace pgdts::schema
