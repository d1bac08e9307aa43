#include "etl/check.h"

#include "error.h"
#include "pg/errors.h"

namespace pgdts::etl {
namespace {

// The condition is analyzed by PostgreSQL itself, as the body of a
// temporary view in a transaction that is rolled back, and the view's
// stored rule is read: its tree names every function (:funcid), operator
// (:opno) and relation (:relid) the condition uses and shows any subquery
// (pg_depend would not do: it records no dependency on built-in objects,
// random() included). Nothing of it outlives the check.
constexpr const char* kView = "pgdts_etl_check";

const char* const kFindings =
    "WITH tree AS (SELECT r.ev_action::text AS t FROM pg_catalog.pg_rewrite r "
    "              WHERE r.ev_class = 'pg_temp.pgdts_etl_check'::pg_catalog.regclass), "
    "funcs AS (SELECT m[1]::pg_catalog.oid AS oid "
    "          FROM tree, pg_catalog.regexp_matches(tree.t, ':funcid (\\d+)', 'g') m "
    "          UNION "
    "          SELECT o.oprcode::pg_catalog.oid "
    "          FROM tree, pg_catalog.regexp_matches(tree.t, ':opno (\\d+)', 'g') m "
    "          JOIN pg_catalog.pg_operator o ON o.oid = m[1]::pg_catalog.oid), "
    "rels AS (SELECT DISTINCT m[1]::pg_catalog.oid AS oid "
    "         FROM tree, pg_catalog.regexp_matches(tree.t, ':relid (\\d+)', 'g') m) "
    "SELECT (SELECT t LIKE '%{SUBLINK %' FROM tree), "
    "  (SELECT pg_catalog.string_agg(oid::pg_catalog.regclass::text, ', ') FROM rels "
    "   WHERE oid NOT IN ($1::pg_catalog.regclass, "
    "                     'pg_temp.pgdts_etl_check'::pg_catalog.regclass)), "
    "  (SELECT pg_catalog.string_agg(p.oid::pg_catalog.regprocedure::text, ', ') "
    "   FROM funcs JOIN pg_catalog.pg_proc p ON p.oid = funcs.oid WHERE p.provolatile = 'v'), "
    "  (SELECT pg_catalog.string_agg(p.oid::pg_catalog.regprocedure::text, ', ') "
    "   FROM funcs JOIN pg_catalog.pg_proc p ON p.oid = funcs.oid WHERE p.oid >= 16384)";

std::string message_of(const pg::SqlError& e, const pg::Connection& source) {
  std::string m = e.what();
  std::string prefix = source.side() + ": ";
  if (m.rfind(prefix, 0) == 0) m = m.substr(prefix.size());
  return m;
}

// One rule being checked: its option, text and what its kind is called.
struct Rule {
  const char* option;  // --filter, --transform
  const char* kind;    // row filters, column expressions
  std::string text;
};

[[noreturn]] void refuse(const Rule& rule, const std::string& why) {
  throw UsageError(std::string(rule.option) + " \"" + rule.text + "\": " + why);
}

// Runs the statements (the first creates the view kView over table; the
// others may check more) in a transaction that is rolled back, then the
// rules every ETL expression obeys on the view's tree.
void check_sql(pg::Connection& source, const Rule& rule, const std::string& table,
               const std::vector<std::string>& statements) {
  source.exec("BEGIN");
  try {
    for (const auto& sql : statements) {
      try {
        source.exec(sql);
      } catch (const pg::SqlError& e) {
        refuse(rule, message_of(e, source));
      }
    }
    pg::Result r = source.exec(kFindings, {table.c_str()});
    source.exec("ROLLBACK");
    std::string kind = rule.kind;
    if (r.value(0, 0) == "t") refuse(rule, "it uses a subquery; " + kind + " may not use subqueries");
    if (!r.is_null(0, 1))
      refuse(rule, "it reads other tables (" + std::string(r.value(0, 1)) + "); " + kind +
                       " read only their own table's row");
    if (!r.is_null(0, 2))
      refuse(rule, "it calls volatile function " + std::string(r.value(0, 2)) + "; " + kind +
                       " may not call volatile functions");
    if (!r.is_null(0, 3))
      refuse(rule, "it calls user-defined function " + std::string(r.value(0, 3)) + "; " + kind +
                       " may call built-in functions and operators only");
  } catch (const pg::ConnectionError&) {
    throw;
  } catch (...) {
    if (source.in_transaction()) source.exec("ROLLBACK");
    throw;
  }
}

std::string qualified(pg::Connection& source, const model::TableName& t) {
  return source.identifier(t.schema) + "." + source.identifier(t.name);
}

void check_condition(pg::Connection& source, const model::RowFilter& f) {
  std::string table = qualified(source, f.table);
  check_sql(source, {"--filter", "row filters", f.text}, table,
            {std::string("CREATE TEMP VIEW ") + kView + " AS SELECT 1 AS one FROM ONLY " + table +
             " WHERE " + model::where_condition(f)});
}

// The expression's value must be assignable to the column, as the plugin
// assigns it: an INSERT of the view's value into a copy of the column says.
// For a column the table lacks, which the expression adds, its value's type
// must be one a column can have (not record, say): the view says.
void check_expression(pg::Connection& source, const model::ColumnTransform& t) {
  std::string table = qualified(source, t.table);
  Rule rule{"--transform", "column expressions", t.text};
  std::string column = source.identifier(t.column);
  pg::Result found = source.exec(
      "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute a "
      "  WHERE a.attrelid = $1::pg_catalog.regclass AND a.attname = $2 AND a.attnum > 0 "
      "    AND NOT a.attisdropped), "
      "EXISTS (SELECT FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
      "  ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
      "  WHERE i.indrelid = $1::pg_catalog.regclass AND (i.indisprimary OR i.indisreplident) "
      "    AND a.attname = $2)",
      {table.c_str(), t.column.c_str()});
  if (found.value(0, 1) == "t")
    refuse(rule, "column " + t.column + " is in the primary key or replica identity of " +
                     model::display_name(t.table) +
                     "; column expressions may not change key columns (the destination finds "
                     "rows by them)");
  // The view's column is named as the target, as PostgreSQL's messages
  // about it then are ('column "total" has pseudo-type record').
  std::string view = std::string("CREATE TEMP VIEW ") + kView + " AS SELECT " +
                     model::select_expression(t) + " AS " + column + " FROM ONLY " + table;
  if (found.value(0, 0) != "t") {
    check_sql(source, rule, table, {view});
    return;
  }
  check_sql(source, rule, table,
            {view,
             "CREATE TEMP TABLE pgdts_etl_target ON COMMIT DROP AS SELECT " + column +
                 " FROM ONLY " + table + " WITH NO DATA",
             "EXPLAIN INSERT INTO pgdts_etl_target SELECT " + column + " FROM " + kView});
}

}  // namespace

void check_row_filters(pg::Connection& source, const std::vector<model::RowFilter>& filters,
                       const std::map<model::TableName, char>& task_tables) {
  for (const auto& f : filters) {
    Rule rule{"--filter", "row filters", f.text};
    auto t = task_tables.find(f.table);
    if (t == task_tables.end())
      refuse(rule, "table " + model::display_name(f.table) +
                       " is not in the task; add it with --tables or --schemas, or drop the filter");
    check_condition(source, f);
  }
}

void check_transforms(pg::Connection& source, const std::vector<model::ColumnTransform>& transforms,
                      const std::map<model::TableName, char>& task_tables) {
  for (const auto& t : transforms) {
    Rule rule{"--transform", "column expressions", t.text};
    auto found = task_tables.find(t.table);
    if (found == task_tables.end())
      refuse(rule, "table " + model::display_name(t.table) +
                       " is not in the task; add it with --tables or --schemas, or drop the "
                       "expression");
    check_expression(source, t);
  }
}

}  // namespace pgdts::etl
