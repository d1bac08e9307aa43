// Reading the schema model from the source's catalogs (read_source_schema).
//
// Two kinds of text come from the server: type names, printed with
// search_path = pg_catalog so that everything outside pg_catalog is
// schema-qualified, and expressions (defaults, CHECKs, partition keys and
// bounds, index definitions), printed per schema with search_path =
// pg_catalog, that schema, the task's other schemas, so that objects of the
// task's schemas print unqualified and resolve, through the same path mapped,
// in their mapped schemas on the destination.
#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include "error.h"
#include "pg/connection.h"
#include "pg/transaction.h"
#include "schema/ddl.h"
#include "schema/schema_sync.h"
#include "schema/search_path.h"
#include "pg/literals.h"

namespace pgdts::schema {
namespace {

using model::TableName;

// A user schema: not a system one, not pgdts' own. `n` is pg_namespace.
constexpr const char* kUserSchema =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgdts') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e "
    "                WHERE e.extname = 'pgdts' AND e.extnamespace = n.oid)";

// An ACL entry of aclexplode `a`: grantee (empty for PUBLIC), privilege,
// grant option.
constexpr const char* kGrantColumns =
    "CASE WHEN a.grantee <> 0 THEN pg_catalog.pg_get_userbyid(a.grantee) ELSE '' END, "
    "a.privilege_type, a.is_grantable ";

// Whether the object (class, oid) belongs to an extension.
std::string extension_member(const char* catalog, const char* oid_expr) {
  return std::string("EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '") + catalog +
         "'::pg_catalog.regclass AND d.objid = " + oid_expr + " AND d.deptype = 'e')";
}

std::uint32_t to_oid(std::string_view s) {
  std::uint32_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool to_bool(std::string_view s) { return s == "t"; }

// Names joined by chr(1) on the server (no identifier holds it).
std::vector<std::string> split_names(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find('\x01', start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// attnames of an int2vector column, in order, joined by chr(1).
std::string attnames_sql(const char* keys, const char* rel) {
  return std::string("pg_catalog.array_to_string(ARRAY(SELECT a.attname FROM pg_catalog.unnest(") + keys +
         ") WITH ORDINALITY u(num, ord) JOIN pg_catalog.pg_attribute a ON a.attrelid = " + rel +
         " AND a.attnum = u.num ORDER BY u.ord), pg_catalog.chr(1))";
}

// TypeUse from (format_type text, base type oid, is array); user_type is
// filled in once the copied types are known.
struct PendingType {
  TypeUse* use;
  std::uint32_t base_oid;
};

class Reader {
 public:
  Reader(pg::Connection& conn, const model::Selection& selection)
      : conn_(conn), selection_(selection), path_(conn) {}

  SourceSchema read() {
    path_.set("pg_catalog");
    read_tables();
    read_columns();
    read_path_schemas();
    std::set<std::string> schemas;
    for (const auto& t : out_.tables) schemas.insert(t.name.schema);
    for (const auto& s : schemas) {
      path_.schemas(expression_path(out_.path_schemas, s));
      read_expressions(s);
    }
    path_.set("pg_catalog");
    read_types();
    for (const auto& s : type_schemas()) {
      path_.schemas(expression_path(out_.path_schemas, s));
      read_type_expressions(s);
    }
    path_.set("pg_catalog");
    read_sequences();
    resolve();
    read_relation_access();
    read_type_owners();
    read_schema_access();
    return std::move(out_);
  }

 private:
  std::vector<std::uint32_t> table_oids(const std::string* schema = nullptr) const {
    std::vector<std::uint32_t> oids;
    for (const auto& t : out_.tables)
      if (!schema || t.name.schema == *schema) oids.push_back(t.oid);
    return oids;
  }
  Table* table_by_oid(std::uint32_t oid) {
    auto it = index_.find(oid);
    return it == index_.end() ? nullptr : &out_.tables[it->second];
  }
  // A schema whose user types (and standalone sequences) the task copies.
  bool copied_schema(const std::string& schema) const {
    if (selection_.includes_schema(schema)) return true;
    return std::any_of(out_.tables.begin(), out_.tables.end(),
                       [&](const Table& t) { return t.name.schema == schema; });
  }

  void read_tables() {
    auto res = conn_.exec(
        std::string("SELECT c.oid, n.nspname, c.relname, c.relkind, "
                    "  COALESCE((SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = c.oid "
                    "            AND c.relispartition), 0), "
                    "  c.relpages, GREATEST(c.reltuples, 0)::bigint, pg_relation_size(c.oid), "
                    "  EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid "
                    "          AND (x.indisprimary OR x.indisreplident)), "
                    "  c.relreplident, c.relpersistence, array_to_string(c.reloptions, ', '), "
                    "  (SELECT ic.relname FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid "
                    "   WHERE x.indrelid = c.oid AND x.indisreplident) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND ") +
        kUserSchema + " AND NOT " + extension_member("pg_class", "c.oid") +
        " ORDER BY n.nspname, c.relname");
    struct Candidate {
      Table table;
      std::uint32_t parent;
    };
    std::map<std::uint32_t, Candidate> all;
    for (int r = 0; r < res.rows(); ++r) {
      Table t;
      t.oid = to_oid(res.value(r, 0));
      t.name = {std::string(res.value(r, 1)), std::string(res.value(r, 2))};
      t.relkind = res.value(r, 3)[0];
      t.pages = pg::to_int64(res.value(r, 5));
      t.rows_estimate = pg::to_int64(res.value(r, 6));
      t.bytes = pg::to_int64(res.value(r, 7));
      t.has_key = to_bool(res.value(r, 8));
      t.replica_identity = res.value(r, 9)[0];
      t.unlogged = res.value(r, 10) == "u";
      if (!res.is_null(r, 11) && !res.value(r, 11).empty()) t.reloptions = std::string(res.value(r, 11));
      t.replica_identity_index = res.optional(r, 12);
      all.emplace(t.oid, Candidate{std::move(t), to_oid(res.value(r, 4))});
    }
    // Selected: by name, or through a selected ancestor. Depth orders
    // parents before their partitions.
    std::function<bool(std::uint32_t)> selected = [&](std::uint32_t oid) -> bool {
      auto it = all.find(oid);
      if (it == all.end()) return false;
      return selection_.includes(it->second.table.name) || selected(it->second.parent);
    };
    std::function<int(std::uint32_t)> depth = [&](std::uint32_t oid) -> int {
      auto it = all.find(oid);
      return it == all.end() || !it->second.parent ? 0 : 1 + depth(it->second.parent);
    };
    std::vector<std::pair<int, Table>> chosen;
    for (const auto& [oid, c] : all) {
      if (!selected(oid)) continue;
      Table t = c.table;
      if (c.parent && selected(c.parent)) t.partition_parent = all.at(c.parent).table.name;
      chosen.emplace_back(t.partition_parent ? depth(oid) : 0, std::move(t));
    }
    std::stable_sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return a.second.name < b.second.name;
    });
    for (auto& [d, t] : chosen) {
      index_[t.oid] = out_.tables.size();
      out_.tables.push_back(std::move(t));
    }
  }

  // Columns with their types; search_path is pg_catalog.
  void read_columns() {
    std::string oids = pg::oid_array(table_oids());
    auto res = conn_.exec(
        "SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), "
        "  CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE a.atttypid END, "
        "  t.typcategory = 'A' AND t.typelem <> 0, "
        "  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
        "       THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END, "
        "  a.attnotnull, a.attidentity, a.attgenerated "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
        "LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
        "WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attrelid, a.attnum",
        {oids.c_str()});
    for (int r = 0; r < res.rows(); ++r) {
      Table* t = table_by_oid(to_oid(res.value(r, 0)));
      Column c;
      c.attnum = static_cast<int>(pg::to_int64(res.value(r, 1)));
      c.name = std::string(res.value(r, 2));
      c.type.sql = std::string(res.value(r, 3));
      c.type.array = to_bool(res.value(r, 5));
      c.collation = res.optional(r, 6);
      c.not_null = to_bool(res.value(r, 7));
      c.identity = res.value(r, 8).empty() ? '\0' : res.value(r, 8)[0];
      c.generated = !res.value(r, 9).empty();
      t->columns.push_back(std::move(c));
      pending_column_types_.push_back({t->oid, c.attnum, to_oid(res.value(r, 4))});
    }
  }

  Column* column(std::uint32_t rel, int attnum) {
    Table* t = table_by_oid(rel);
    if (!t) return nullptr;
    for (auto& c : t->columns)
      if (c.attnum == attnum) return &c;
    return nullptr;
  }

  // Defaults, partition keys and bounds, constraints and indexes of the
  // tables of one schema; search_path is pg_catalog, that schema, the others.
  void read_expressions(const std::string& schema) {
    std::string oids = pg::oid_array(table_oids(&schema));
    std::set<std::uint32_t> in_task;
    for (const auto& t : out_.tables) in_task.insert(t.oid);

    auto defaults = conn_.exec(
        "SELECT d.adrelid, d.adnum, pg_get_expr(d.adbin, d.adrelid), "
        "  (SELECT dep.refobjid FROM pg_depend dep JOIN pg_class s ON s.oid = dep.refobjid "
        "   WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid "
        "     AND dep.refclassid = 'pg_class'::regclass AND s.relkind = 'S' LIMIT 1) "
        "FROM pg_attrdef d WHERE d.adrelid = ANY($1::oid[])",
        {oids.c_str()});
    for (int r = 0; r < defaults.rows(); ++r) {
      Column* c = column(to_oid(defaults.value(r, 0)), static_cast<int>(pg::to_int64(defaults.value(r, 1))));
      if (!c) continue;
      c->default_expr = std::string(defaults.value(r, 2));
      if (!defaults.is_null(r, 3)) {
        const std::string& e = *c->default_expr;
        constexpr std::string_view tail = "'::regclass)";
        if (e.rfind("nextval('", 0) == 0 && e.size() > tail.size() &&
            e.compare(e.size() - tail.size(), tail.size(), tail) == 0)
          default_sequence_oid_[{to_oid(defaults.value(r, 0)), c->attnum}] = to_oid(defaults.value(r, 3));
      }
    }

    auto parts = conn_.exec(
        "SELECT c.oid, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, "
        "  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END "
        "FROM pg_class c WHERE c.oid = ANY($1::oid[])",
        {oids.c_str()});
    for (int r = 0; r < parts.rows(); ++r) {
      Table* t = table_by_oid(to_oid(parts.value(r, 0)));
      t->partition_key = parts.optional(r, 1);
      if (t->partition_parent) t->partition_bound = parts.optional(r, 2);
    }

    auto cons = conn_.exec(
        std::string("SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid), k.conislocal, "
                    "  COALESCE((SELECT p.conrelid FROM pg_constraint p WHERE p.oid = k.conparentid), 0), "
                    "  k.confrelid, fn.nspname, fc.relname, ") +
            attnames_sql("k.conkey", "k.conrelid") + ", " + attnames_sql("k.confkey", "k.confrelid") +
            ", k.confupdtype, k.confdeltype, k.confmatchtype, k.condeferrable, k.condeferred, "
            "  k.convalidated "
            "FROM pg_constraint k "
            "LEFT JOIN pg_class fc ON fc.oid = k.confrelid "
            "LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace "
            "WHERE k.conrelid = ANY($1::oid[]) AND k.contype IN ('p', 'u', 'x', 'c', 'f') "
            "ORDER BY k.conrelid, k.contype, k.conname",
            {oids.c_str()});
    for (int r = 0; r < cons.rows(); ++r) {
      Table* t = table_by_oid(to_oid(cons.value(r, 0)));
      Constraint k;
      k.name = std::string(cons.value(r, 1));
      k.type = cons.value(r, 2)[0];
      k.definition = std::string(cons.value(r, 3));
      bool local = to_bool(cons.value(r, 4));
      std::uint32_t parent_rel = to_oid(cons.value(r, 5));
      // Made by a constraint of the task's (the parent's, or an FK's to a
      // partitioned table): that one creates it again.
      if (parent_rel && in_task.count(parent_rel)) continue;
      if (k.type == 'c' && !local && t->partition_parent) continue;
      if (k.type == 'f') {
        k.referenced = {std::string(cons.value(r, 7)), std::string(cons.value(r, 8))};
        k.columns = split_names(cons.value(r, 9));
        k.referenced_columns = split_names(cons.value(r, 10));
        k.on_update = cons.value(r, 11)[0];
        k.on_delete = cons.value(r, 12)[0];
        k.match = cons.value(r, 13)[0];
        k.deferrable = to_bool(cons.value(r, 14));
        k.deferred = to_bool(cons.value(r, 15));
        k.validated = to_bool(cons.value(r, 16));
      }
      t->constraints.push_back(std::move(k));
    }

    auto idx = conn_.exec(
        "SELECT x.indrelid, ic.relname, x.indisunique, pg_get_indexdef(x.indexrelid), am.amname, "
        "  ic.relispartition "
        "FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_am am ON am.oid = ic.relam "
        "WHERE x.indrelid = ANY($1::oid[]) "
        "  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid "
        "                  AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x')) "
        "ORDER BY x.indrelid, ic.relname",
        {oids.c_str()});
    for (int r = 0; r < idx.rows(); ++r) {
      Table* t = table_by_oid(to_oid(idx.value(r, 0)));
      if (to_bool(idx.value(r, 5)) && t->partition_parent) continue;  // made by the parent's index
      Index i;
      i.name = std::string(idx.value(r, 1));
      i.unique = to_bool(idx.value(r, 2));
      std::string def(idx.value(r, 3));
      std::string marker = " USING " + std::string(idx.value(r, 4)) + " ";
      auto on = def.find(" ON ");
      auto at = def.find(marker, on == std::string::npos ? 0 : on);
      if (at == std::string::npos)
        throw Error("index " + i.name + " of table " + model::display_name(t->name) +
                    ": cannot read its definition \"" + def + "\"");
      i.method_and_keys = def.substr(at + 7);
      t->indexes.push_back(std::move(i));
    }
  }

  struct TypeInfo {
    std::uint32_t oid;
    TableName name;
    char kind;
    bool copyable;
  };

  // Closure of the user types the columns use, those of copied schemas
  // created by the task. search_path is pg_catalog.
  void read_types() {
    std::vector<std::uint32_t> pending;
    for (const auto& p : pending_column_types_) pending.push_back(p.base_oid);
    std::set<std::uint32_t> seen;
    while (!pending.empty()) {
      std::vector<std::uint32_t> fresh;
      for (auto o : pending)
        if (seen.insert(o).second) fresh.push_back(o);
      pending.clear();
      if (fresh.empty()) break;
      std::string oids = pg::oid_array(fresh);
      auto res = conn_.exec(
          std::string("SELECT t.oid, n.nspname, t.typname, t.typtype, ") + kUserSchema + " AND NOT " +
              extension_member("pg_type", "t.oid") +
              " AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND "
              "     (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')), "
              "  format_type(t.typbasetype, t.typtypmod), "
              "  CASE WHEN b.typcategory = 'A' AND b.typelem <> 0 THEN b.typelem ELSE t.typbasetype END, "
              "  b.typcategory = 'A' AND b.typelem <> 0, t.typnotnull, "
              "  CASE WHEN t.typcollation <> 0 AND t.typcollation <> b.typcollation "
              "       THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END, t.typrelid "
              "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
              "LEFT JOIN pg_type b ON b.oid = t.typbasetype "
              "LEFT JOIN pg_collation co ON co.oid = t.typcollation "
              "LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
              "WHERE t.oid = ANY($1::oid[])",
          {oids.c_str()});
      std::vector<std::uint32_t> composites;
      for (int r = 0; r < res.rows(); ++r) {
        TableName name{std::string(res.value(r, 1)), std::string(res.value(r, 2))};
        if (!to_bool(res.value(r, 4)) || !copied_schema(name.schema)) continue;
        UserType u;
        u.oid = to_oid(res.value(r, 0));
        u.name = name;
        u.kind = res.value(r, 3)[0];
        if (u.kind == 'd') {
          u.base.sql = std::string(res.value(r, 5));
          u.base.array = to_bool(res.value(r, 7));
          u.not_null = to_bool(res.value(r, 8));
          u.collation = res.optional(r, 9);
          std::uint32_t base = to_oid(res.value(r, 6));
          pending.push_back(base);
          pending_type_deps_.push_back({u.oid, -1, base});
        } else if (u.kind == 'c') {
          composites.push_back(to_oid(res.value(r, 10)));
          composite_of_[to_oid(res.value(r, 10))] = u.oid;
        }
        types_.emplace(u.oid, std::move(u));
      }
      if (!composites.empty()) {
        std::string rels = pg::oid_array(composites);
        auto attrs = conn_.exec(
            "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), "
            "  CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE a.atttypid END, "
            "  t.typcategory = 'A' AND t.typelem <> 0, "
            "  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
            "       THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
            "LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
            "WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attrelid, a.attnum",
            {rels.c_str()});
        for (int r = 0; r < attrs.rows(); ++r) {
          UserType& u = types_.at(composite_of_.at(to_oid(attrs.value(r, 0))));
          UserType::Attribute a;
          a.name = std::string(attrs.value(r, 1));
          a.type.sql = std::string(attrs.value(r, 2));
          a.type.array = to_bool(attrs.value(r, 4));
          a.collation = attrs.optional(r, 5);
          std::uint32_t base = to_oid(attrs.value(r, 3));
          pending.push_back(base);
          pending_type_deps_.push_back({u.oid, static_cast<int>(u.attributes.size()), base});
          u.attributes.push_back(std::move(a));
        }
      }
    }
    std::vector<std::uint32_t> enums;
    for (const auto& [oid, u] : types_)
      if (u.kind == 'e') enums.push_back(oid);
    if (!enums.empty()) {
      std::string oids = pg::oid_array(enums);
      auto res = conn_.exec(
          "SELECT enumtypid, enumlabel FROM pg_enum WHERE enumtypid = ANY($1::oid[]) "
          "ORDER BY enumtypid, enumsortorder",
          {oids.c_str()});
      for (int r = 0; r < res.rows(); ++r)
        types_.at(to_oid(res.value(r, 0))).labels.emplace_back(res.value(r, 1));
    }
  }

  std::set<std::string> type_schemas() const {
    std::set<std::string> s;
    for (const auto& [oid, u] : types_)
      if (u.kind == 'd') s.insert(u.name.schema);
    return s;
  }

  // Domain defaults and CHECKs; search_path is pg_catalog, the domain's schema, the others.
  void read_type_expressions(const std::string& schema) {
    std::vector<std::uint32_t> domains;
    for (const auto& [oid, u] : types_)
      if (u.kind == 'd' && u.name.schema == schema) domains.push_back(oid);
    std::string oids = pg::oid_array(domains);
    auto defs = conn_.exec(
        "SELECT t.oid, pg_get_expr(t.typdefaultbin, 0) FROM pg_type t "
        "WHERE t.oid = ANY($1::oid[]) AND t.typdefaultbin IS NOT NULL",
        {oids.c_str()});
    for (int r = 0; r < defs.rows(); ++r) types_.at(to_oid(defs.value(r, 0))).default_expr = defs.optional(r, 1);
    auto checks = conn_.exec(
        "SELECT contypid, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contypid = ANY($1::oid[]) AND contype = 'c' ORDER BY contypid, conname",
        {oids.c_str()});
    for (int r = 0; r < checks.rows(); ++r) {
      Constraint k;
      k.name = std::string(checks.value(r, 1));
      k.definition = std::string(checks.value(r, 2));
      types_.at(to_oid(checks.value(r, 0))).checks.push_back(std::move(k));
    }
  }

  // Sequences owned by or the identity of a task table, used by a default of
  // one, or standalone in a selected schema. search_path is pg_catalog.
  void read_sequences() {
    std::set<std::uint32_t> used_by_defaults;
    for (const auto& [key, seq] : default_sequence_oid_) used_by_defaults.insert(seq);
    auto res = conn_.exec(
        std::string("SELECT s.oid, n.nspname, s.relname, format_type(q.seqtypid, NULL), q.seqstart, "
                    "  q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle, "
                    "  COALESCE(d.refobjid, 0), d.refobjsubid, d.deptype "
                    "FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
                    "JOIN pg_sequence q ON q.seqrelid = s.oid "
                    "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
                    "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                    "WHERE s.relkind = 'S' AND ") +
        kUserSchema + " AND NOT " + extension_member("pg_class", "s.oid") + " ORDER BY n.nspname, s.relname");
    for (int r = 0; r < res.rows(); ++r) {
      Sequence s;
      s.oid = to_oid(res.value(r, 0));
      s.name = {std::string(res.value(r, 1)), std::string(res.value(r, 2))};
      s.type_sql = std::string(res.value(r, 3));
      s.start = pg::to_int64(res.value(r, 4));
      s.increment = pg::to_int64(res.value(r, 5));
      s.min = pg::to_int64(res.value(r, 6));
      s.max = pg::to_int64(res.value(r, 7));
      s.cache = pg::to_int64(res.value(r, 8));
      s.cycle = to_bool(res.value(r, 9));
      std::uint32_t owner = to_oid(res.value(r, 10));
      if (Table* t = owner ? table_by_oid(owner) : nullptr) {
        s.owner_table = t->name;
        s.identity = res.value(r, 12) == "i";
        for (const auto& c : t->columns)
          if (c.attnum == static_cast<int>(pg::to_int64(res.value(r, 11)))) s.owner_column = c.name;
      } else if (!used_by_defaults.count(s.oid) &&
                 (owner || !selection_.includes_schema(s.name.schema))) {
        continue;  // owned by a table outside the task, or in a schema outside it
      }
      sequence_names_[s.oid] = s.name;
      out_.sequences.push_back(std::move(s));
    }
  }

  // Fills in which types are copied user types, defaults' sequences, identity
  // sequences, orders the types and lists the schemas.
  void resolve() {
    auto use_of = [&](TypeUse& use, std::uint32_t base) {
      if (auto it = types_.find(base); it != types_.end()) use.user_type = it->second.name;
      else use.array = false;
    };
    for (const auto& p : pending_column_types_) use_of(*column_type(p.rel, p.attnum), p.base_oid);
    for (const auto& p : pending_type_deps_) {
      UserType& u = types_.at(p.rel);
      TypeUse& use = p.attnum < 0 ? u.base : u.attributes[p.attnum].type;
      use_of(use, p.base_oid);
      if (types_.count(p.base_oid)) u.depends_on.push_back(p.base_oid);
    }
    for (const auto& [key, seq] : default_sequence_oid_)
      if (auto it = sequence_names_.find(seq); it != sequence_names_.end())
        column(key.first, key.second)->default_sequence = it->second;
    for (auto& t : out_.tables)
      for (auto& c : t.columns)
        if (c.identity)
          for (const auto& s : out_.sequences)
            if (s.identity && s.owner_table == t.name && s.owner_column == c.name) c.identity_sequence = s.name;

    std::set<std::uint32_t> done;
    std::function<void(std::uint32_t)> visit = [&](std::uint32_t oid) {
      if (!done.insert(oid).second) return;
      for (auto dep : types_.at(oid).depends_on) visit(dep);
      out_.types.push_back(types_.at(oid));
    };
    for (const auto& [oid, u] : types_) visit(oid);

    std::set<std::string> schemas;
    for (const auto& t : out_.tables) schemas.insert(t.name.schema);
    for (const auto& u : out_.types) schemas.insert(u.name.schema);
    for (const auto& s : out_.sequences) schemas.insert(s.name.schema);
    for (const auto& s : user_schemas_)
      if (selection_.includes_schema(s)) schemas.insert(s);
    out_.schemas.assign(schemas.begin(), schemas.end());
  }

  // Owners and ACLs of the tables and sequences. An ACL entry is read
  // with aclexplode; the owner's own entries are left out (see Access).
  void read_relation_access() {
    std::map<std::uint32_t, Access*> by_oid;
    for (auto& t : out_.tables) by_oid[t.oid] = &t.access;
    for (auto& s : out_.sequences) by_oid[s.oid] = &s.access;
    std::vector<std::uint32_t> oids;
    for (const auto& [oid, access] : by_oid) oids.push_back(oid);
    std::string list = pg::oid_array(oids);
    auto res = conn_.exec(std::string("SELECT c.oid, pg_catalog.pg_get_userbyid(c.relowner), ") + kGrantColumns +
                              "FROM pg_catalog.pg_class c "
                              "LEFT JOIN LATERAL pg_catalog.aclexplode(c.relacl) a ON a.grantee <> c.relowner "
                              "WHERE c.oid = ANY ($1::oid[]) ORDER BY 1, 3, 4",
                          {list.c_str()});
    for (int r = 0; r < res.rows(); ++r) add_access(*by_oid.at(to_oid(res.value(r, 0))), res, r);
  }

  void read_type_owners() {
    std::vector<std::uint32_t> oids;
    for (const auto& u : out_.types) oids.push_back(u.oid);
    std::string list = pg::oid_array(oids);
    auto res = conn_.exec(
        "SELECT t.oid, pg_catalog.pg_get_userbyid(t.typowner) FROM pg_catalog.pg_type t "
        "WHERE t.oid = ANY ($1::oid[])",
        {list.c_str()});
    std::map<std::uint32_t, std::string> owners;
    for (int r = 0; r < res.rows(); ++r) owners.emplace(to_oid(res.value(r, 0)), res.value(r, 1));
    for (auto& u : out_.types) u.owner = owners.at(u.oid);
  }

  // Owners and ACLs of the schemas that hold the task's objects.
  void read_schema_access() {
    std::string list = pg::text_array(out_.schemas);
    auto res = conn_.exec(std::string("SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), ") +
                              kGrantColumns +
                              "FROM pg_catalog.pg_namespace n "
                              "LEFT JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a ON a.grantee <> n.nspowner "
                              "WHERE n.nspname = ANY ($1::text[]) ORDER BY 1, 3, 4",
                          {list.c_str()});
    for (int r = 0; r < res.rows(); ++r) add_access(out_.schema_access[std::string(res.value(r, 0))], res, r);
  }

  // One row of the queries above: (key, owner, grantee, privilege,
  // grantable); one row with a null privilege for an object without grants.
  static void add_access(Access& access, const pg::Result& res, int r) {
    access.owner = std::string(res.value(r, 1));
    if (res.is_null(r, 3)) return;
    access.grants.push_back({std::string(res.value(r, 2)), std::string(res.value(r, 3)), to_bool(res.value(r, 4))});
  }

  // The schemas of the selected tables and the selected schemas.
  void read_path_schemas() {
    auto res = conn_.exec(std::string("SELECT n.nspname FROM pg_namespace n WHERE ") + kUserSchema +
                          " AND NOT " + extension_member("pg_namespace", "n.oid") + " ORDER BY 1");
    std::set<std::string> path;
    for (int r = 0; r < res.rows(); ++r) {
      user_schemas_.emplace_back(res.value(r, 0));
      if (selection_.includes_schema(user_schemas_.back())) path.insert(user_schemas_.back());
    }
    for (const auto& t : out_.tables) path.insert(t.name.schema);
    out_.path_schemas.assign(path.begin(), path.end());
  }

  TypeUse* column_type(std::uint32_t rel, int attnum) { return &column(rel, attnum)->type; }

  struct PendingUse {
    std::uint32_t rel;  // table oid, or the user type's oid
    int attnum;         // column attnum; for types: -1 domain base, else attribute index
    std::uint32_t base_oid;
  };

  pg::Connection& conn_;
  const model::Selection& selection_;
  SearchPath path_;
  SourceSchema out_;
  std::map<std::uint32_t, std::size_t> index_;
  std::vector<PendingUse> pending_column_types_;
  std::vector<PendingUse> pending_type_deps_;
  std::map<std::uint32_t, UserType> types_;
  std::map<std::uint32_t, std::uint32_t> composite_of_;  // typrelid -> type oid
  std::map<std::pair<std::uint32_t, int>, std::uint32_t> default_sequence_oid_;
  std::map<std::uint32_t, TableName> sequence_names_;
  std::vector<std::string> user_schemas_;
};

}  // namespace

SourceSchema read_source_schema(pg::Connection& source, const model::Selection& selection) {
  return Reader(source, selection).read();
}

SourceSchema read_schema_in_snapshot(pg::Connection& conn, const model::Selection& selection,
                                     const std::string& snapshot) {
  pg::Transaction txn(conn, pg::kBeginSnapshot);
  if (!snapshot.empty()) conn.exec("SET TRANSACTION SNAPSHOT " + conn.literal(snapshot));
  SourceSchema schema = read_source_schema(conn, selection);
  txn.commit();
  return schema;
}

std::vector<UniqueKey> find_unique_keys(pg::Connection& source, const std::vector<std::uint32_t>& oids) {
  std::string list = pg::oid_array(oids);
  pg::Result r = source.exec(
      "SELECT DISTINCT ON (c.oid) n.nspname, c.relname, x.relname,"
      " pg_catalog.pg_has_role(c.relowner, 'USAGE')"
      " FROM pg_catalog.unnest($1::oid[]) t(oid)"
      " JOIN pg_catalog.pg_class c ON c.oid = t.oid"
      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " JOIN pg_catalog.pg_index i ON i.indrelid = c.oid"
      " JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid"
      " WHERE c.relreplident = 'd' AND i.indisunique AND i.indimmediate AND i.indisvalid"
      "   AND i.indpred IS NULL AND i.indexprs IS NULL"
      "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index p WHERE p.indrelid = c.oid AND p.indisprimary)"
      "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
      "                   WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)"
      " ORDER BY c.oid, i.indnatts, x.relname",
      {list.c_str()});
  std::vector<UniqueKey> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({{std::string(r.value(i, 0)), std::string(r.value(i, 1))},
                   std::string(r.value(i, 2)), r.value(i, 3) == "t"});
  return out;
}

}  // namespace pgdts::schema
