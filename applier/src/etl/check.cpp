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
constexpr const char* kView = "pgdts_row_filter_check";

const char* const kFindings =
    "WITH tree AS (SELECT r.ev_action::text AS t FROM pg_catalog.pg_rewrite r "
    "              WHERE r.ev_class = 'pg_temp.pgdts_row_filter_check'::pg_catalog.regclass), "
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
    "                     'pg_temp.pgdts_row_filter_check'::pg_catalog.regclass)), "
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

[[noreturn]] void refuse(const RowFilter& f, const std::string& why) {
  throw UsageError("--filter \"" + f.text + "\": " + why);
}

void check_condition(pg::Connection& source, const RowFilter& f) {
  std::string table = source.identifier(f.table.schema) + "." + source.identifier(f.table.name);
  source.exec("BEGIN");
  try {
    try {
      source.exec(std::string("CREATE TEMP VIEW ") + kView + " AS SELECT 1 AS one FROM ONLY " +
                  table + " WHERE " + where_condition(f));
    } catch (const pg::SqlError& e) {
      refuse(f, message_of(e, source));
    }
    std::string regclass = table;
    pg::Result r = source.exec(kFindings, {regclass.c_str()});
    source.exec("ROLLBACK");
    if (r.value(0, 0) == "t")
      refuse(f, "it uses a subquery; row filters may not use subqueries");
    if (!r.is_null(0, 1))
      refuse(f, "it reads other tables (" + std::string(r.value(0, 1)) +
                    "); a row filter reads only its own table's row");
    if (!r.is_null(0, 2))
      refuse(f, "it calls volatile function " + std::string(r.value(0, 2)) +
                    "; row filters may not call volatile functions");
    if (!r.is_null(0, 3))
      refuse(f, "it calls user-defined function " + std::string(r.value(0, 3)) +
                    "; row filters may call built-in functions and operators only");
  } catch (const pg::ConnectionError&) {
    throw;
  } catch (...) {
    if (source.in_transaction()) source.exec("ROLLBACK");
    throw;
  }
}

}  // namespace

void check_row_filters(pg::Connection& source, const std::vector<RowFilter>& filters,
                       const std::map<task::TableName, char>& task_tables) {
  for (const auto& f : filters) {
    auto t = task_tables.find(f.table);
    if (t == task_tables.end())
      refuse(f, "table " + task::display_name(f.table) +
                    " is not in the task; add it with --tables or --schemas, or drop the filter");
    if (t->second == 'p')
      refuse(f, task::display_name(f.table) +
                    " is partitioned; its rows are in its partitions: give each partition a filter");
    check_condition(source, f);
  }
}

}  // namespace pgdts::etl
