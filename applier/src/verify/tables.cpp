// Table list and key discovery of verify (see tables.h).
#include "verify/tables.h"

#include <map>

#include "pg/connection.h"
#include "pg/literals.h"

namespace pgdts::verify {
namespace {

// Names joined by chr(1) on the server (no identifier holds it).
std::vector<std::string> split_joined(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto pos = s.find('\x01', start);
    if (pos == std::string_view::npos) pos = s.size();
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  return out;
}

// The type, by name, that key values are cast to in range and key
// conditions: a domain's base type (through domains over domains), never
// the domain. A cast to a domain runs its CHECK constraints, functions
// that a table owner wrote, here with pgdts' rights; the base type's
// comparison is the domain's.
constexpr const char* kKeyTypeOfA =
    "(WITH RECURSIVE up(typ, mod, kind, base, basemod) AS ("
    "  SELECT t.oid, a.atttypmod, t.typtype, t.typbasetype, t.typtypmod "
    "  FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid "
    "  UNION ALL "
    "  SELECT t.oid, up.basemod, t.typtype, t.typbasetype, t.typtypmod "
    "  FROM up JOIN pg_catalog.pg_type t ON t.oid = up.base WHERE up.kind = 'd') "
    "SELECT pg_catalog.format_type(typ, mod) FROM up WHERE kind <> 'd')";

struct SourceKey {
  std::vector<std::string> columns, types;
};

// The key of each table (by oid) that has one.
std::map<std::uint32_t, SourceKey> source_keys(pg::Connection& source,
                                               const std::vector<std::uint32_t>& oids) {
  std::string list = pg::oid_array(oids);
  auto res = source.exec(
      "SELECT DISTINCT ON (x.indrelid) x.indrelid, "
      "  array_to_string(ARRAY(SELECT a.attname FROM generate_series(0, x.indnkeyatts - 1) k "
      "    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k] ORDER BY k), chr(1)), "
      "  array_to_string(ARRAY(SELECT " + std::string(kKeyTypeOfA) +
      "    FROM generate_series(0, x.indnkeyatts - 1) k "
      "    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k] ORDER BY k), chr(1)) "
      "FROM pg_index x "
      "WHERE x.indrelid = ANY($1::oid[]) AND x.indisunique AND x.indisvalid "
      "  AND x.indpred IS NULL AND x.indexprs IS NULL "
      "  AND NOT EXISTS (SELECT 1 FROM generate_series(0, x.indnkeyatts - 1) k "
      "    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k] "
      "    WHERE NOT a.attnotnull) "
      "ORDER BY x.indrelid, x.indisprimary DESC, x.indnkeyatts, x.indexrelid",
      {list.c_str()});
  std::map<std::uint32_t, SourceKey> out;
  for (int r = 0; r < res.rows(); ++r) {
    auto oid = static_cast<std::uint32_t>(pg::to_int64(res.value(r, 0)));
    out[oid] = {split_joined(res.value(r, 1)), split_joined(res.value(r, 2))};
  }
  return out;
}

// The destination table's columns (name -> the type key values are cast
// to, kKeyTypeOfA); nullopt when there is no such table.
std::optional<std::map<std::string, std::string>> target_columns(pg::Connection& target,
                                                                 const model::TableName& name) {
  auto res = target.exec(
      "SELECT a.attname, CASE WHEN a.attname IS NOT NULL THEN " + std::string(kKeyTypeOfA) + " END "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
      "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
      {name.schema.c_str(), name.name.c_str()});
  if (res.rows() == 0) return std::nullopt;
  std::map<std::string, std::string> out;
  for (int r = 0; r < res.rows(); ++r)
    if (!res.is_null(r, 0)) out.emplace(std::string(res.value(r, 0)), std::string(res.value(r, 1)));
  return out;
}

}  // namespace

const schema::Table& mapping_root(const schema::SourceSchema& schema, const schema::Table& table) {
  const schema::Table* t = &table;
  while (t->partition_parent) {
    const schema::Table* parent = schema.find(*t->partition_parent);
    if (!parent) break;
    t = parent;
  }
  return *t;
}

std::vector<TablePair> plan_tables(pg::Connection& source, pg::Connection& target,
                                   const schema::SourceSchema& schema, const model::NameMap& names) {
  std::vector<std::uint32_t> oids;
  for (const auto& t : schema.tables)
    if (t.relkind == 'r') oids.push_back(t.oid);
  auto keys = source_keys(source, oids);

  std::vector<TablePair> out;
  for (const auto& t : schema.tables) {
    if (t.relkind != 'r') continue;
    const schema::Table& root = mapping_root(schema, t);
    TablePair p;
    p.source = t.name;
    p.target = names.table(t.name);
    p.rows_estimate = t.rows_estimate;
    auto dest = target_columns(target, p.target);
    p.target_exists = dest.has_value();
    std::map<std::string, std::string> dest_columns = dest.value_or(std::map<std::string, std::string>{});
    std::map<std::string, std::size_t> position;  // source column -> index in p.columns
    for (const auto& c : t.columns) {
      std::string mapped = names.column(root.name, c.name);
      // Compared on what both sides have; a missing column is reported by
      // the metadata comparison.
      if (p.target_exists && !dest_columns.count(mapped)) continue;
      position[c.name] = p.columns.size();
      p.columns.push_back({c.name, mapped, c.generated});
    }
    if (auto k = keys.find(t.oid); k != keys.end() && p.target_exists) {
      bool complete = true;
      for (std::size_t i = 0; i < k->second.columns.size(); ++i) {
        auto at = position.find(k->second.columns[i]);
        if (at == position.end()) {
          complete = false;
          break;
        }
        p.key.push_back(at->second);
        p.source_key_types.push_back(k->second.types[i]);
        p.target_key_types.push_back(dest_columns.at(p.columns[at->second].target));
      }
      if (!complete) {
        p.key.clear();
        p.source_key_types.clear();
        p.target_key_types.clear();
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

void apply_rules(std::vector<TablePair>& pairs, const schema::SourceSchema& schema,
                 const std::vector<model::RowFilter>& filters,
                 const std::vector<model::ColumnTransform>& transforms) {
  for (auto& p : pairs) {
    const schema::Table* table = schema.find(p.source);
    std::vector<model::TableName> names =
        table ? schema::rule_names(schema, *table) : std::vector<model::TableName>{p.source};
    if (const model::RowFilter* f = model::nearest_filter(filters, names))
      p.source_filter = model::where_condition(*f);
    p.source_expressions.clear();
    for (const auto& c : p.columns) {
      const model::ColumnTransform* x = model::nearest_transform(transforms, names, c.source);
      p.source_expressions.push_back(x ? model::select_expression(*x) : "");
    }
  }
}

}  // namespace pgdts::verify
