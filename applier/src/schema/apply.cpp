// Running schema sync's DDL on the destination, idempotently: every object is
// looked up first and left alone when it exists, so a resumed task (or
// --conflict ignore) calls these again safely. Also the sequence values.
#include <set>

#include "error.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "schema/ddl.h"
#include "schema/schema_sync.h"
#include "schema/search_path.h"

namespace pgdts::schema {
namespace {

using task::TableName;

Quoting quoting_of(pg::Connection& conn) {
  return {[&conn](std::string_view s) { return conn.identifier(s); },
          [&conn](std::string_view s) { return conn.literal(s); }};
}

// Runs one statement; a failure names what was being created and the statement.
void run(pg::Connection& dest, const std::string& sql, const std::string& what) {
  try {
    dest.exec(sql);
  } catch (const pg::SqlError& e) {
    throw pg::SqlError("schema sync: creating " + what + " on the destination failed: " + e.what() +
                           " (statement: " + sql + ")",
                       e.sqlstate());
  }
}

// Runs statements in one destination transaction: the caller's when it has
// one open (an error then aborts it, and the caller rolls back), else one of
// their own.
void run_all(pg::Connection& dest, const std::vector<std::string>& sqls, const std::string& what) {
  if (dest.in_transaction()) {
    for (const auto& s : sqls) run(dest, s, what);
    return;
  }
  dest.exec("BEGIN");
  try {
    for (const auto& s : sqls) run(dest, s, what);
    dest.exec("COMMIT");
  } catch (...) {
    try {
      if (dest.is_healthy()) dest.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

bool relation_exists(pg::Connection& dest, const std::string& qualified) {
  return !dest.exec("SELECT pg_catalog.to_regclass($1)", {qualified.c_str()}).is_null(0, 0);
}

bool type_exists(pg::Connection& dest, const std::string& qualified) {
  return !dest.exec("SELECT pg_catalog.to_regtype($1)", {qualified.c_str()}).is_null(0, 0);
}

bool constraint_exists(pg::Connection& dest, const std::string& table, const std::string& name) {
  return dest
             .exec("SELECT 1 FROM pg_catalog.pg_constraint "
                   "WHERE conrelid = pg_catalog.to_regclass($1) AND conname = $2",
                   {table.c_str(), name.c_str()})
             .rows() > 0;
}

bool column_exists(pg::Connection& dest, const std::string& table, const std::string& name) {
  return dest
             .exec("SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass($1) "
                   "AND attname = $2 AND attnum > 0 AND NOT attisdropped",
                   {table.c_str(), name.c_str()})
             .rows() > 0;
}

std::string kind_name(char kind) {
  switch (kind) {
    case 'e': return "enum";
    case 'd': return "domain";
    default: return "composite";
  }
}

}  // namespace

std::vector<TableName> existing_tables(pg::Connection& dest, const SourceSchema& schema,
                                       const task::NameMap& map) {
  DdlWriter w(schema, map, quoting_of(dest));
  std::vector<TableName> out;
  if (schema.tables.empty()) return out;
  std::string values;
  for (std::size_t i = 0; i < schema.tables.size(); ++i) {
    if (i) values += ", ";
    values += "(" + std::to_string(i) + ", " + dest.literal(w.qualified_table(schema.tables[i].name)) + ")";
  }
  auto res = dest.exec("SELECT v.i FROM (VALUES " + values +
                       ") v(i, n) WHERE pg_catalog.to_regclass(v.n) IS NOT NULL ORDER BY v.i");
  for (int r = 0; r < res.rows(); ++r)
    out.push_back(map.table(schema.tables[std::stoul(std::string(res.value(r, 0)))].name));
  return out;
}

void create_pre_data(pg::Connection& dest, const SourceSchema& schema, const task::NameMap& map) {
  check_column_collisions(schema, map);
  DdlWriter w(schema, map, quoting_of(dest));
  SearchPath path(dest);

  for (const auto& s : schema.schemas) {
    std::string mapped = map.schema(s);
    bool existed = dest.exec("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", {mapped.c_str()})
                        .rows() > 0;
    run(dest, w.create_schema(s), "schema " + mapped);
    if (!existed) log::Event("schema_created").field("kind", "schema").field("schema", mapped).info();
  }
  for (const auto& t : schema.types) {
    std::string name = w.qualified_in_mapped_schema(t.name);
    if (type_exists(dest, name)) continue;
    path.set(w.search_path(t.name.schema));
    run_all(dest, w.create_type(t), "type " + name);
    log::Event("schema_created").field("kind", kind_name(t.kind)).field("type", name).info();
  }
  for (const auto& s : schema.sequences) {
    if (s.identity) continue;  // created with its column
    std::string name = w.qualified_in_mapped_schema(s.name);
    if (relation_exists(dest, name)) continue;
    run(dest, w.create_sequence(s), "sequence " + name);
    log::Event("schema_created").field("kind", "sequence").field("sequence", name).info();
  }
  for (const auto& t : schema.tables) {
    std::string name = w.qualified_table(t.name);
    if (relation_exists(dest, name)) {
      log::Event("schema_exists").field("table", task::display_name(map.table(t.name))).debug();
      continue;
    }
    path.set(w.search_path(t.name.schema));
    std::vector<std::string> sqls = w.create_table(t);
    for (auto& s : w.owned_by(t)) sqls.push_back(std::move(s));
    run_all(dest, sqls, "table " + task::display_name(map.table(t.name)));
    std::size_t checks = 0;
    for (const auto& k : t.constraints) checks += k.type == 'c';
    log::Event e("schema_created");
    e.field("kind", t.relkind == 'p' ? "partitioned_table" : "table")
        .field("table", task::display_name(map.table(t.name)))
        .field("columns", t.columns.size())
        .field("checks", checks);
    if (t.partition_parent) e.field("partition_of", task::display_name(map.table(*t.partition_parent)));
    e.info();
  }
}

void create_post_data(pg::Connection& dest, const SourceSchema& schema, const task::NameMap& map) {
  DdlWriter w(schema, map, quoting_of(dest));
  SearchPath path(dest);

  auto apply = [&](const Table& t, const std::vector<Statement>& stmts, std::size_t& constraints,
                   std::size_t& indexes) {
    std::string name = w.qualified_table(t.name);
    std::string display = task::display_name(map.table(t.name));
    for (const auto& s : stmts) {
      if ((s.kind == Statement::Kind::constraint || s.kind == Statement::Kind::foreign_key) &&
          constraint_exists(dest, name, s.object))
        continue;
      run(dest, s.sql, (s.object.empty() ? std::string("replica identity") : s.object) + " of table " + display);
      if (s.kind == Statement::Kind::index) ++indexes;
      if (s.kind == Statement::Kind::constraint || s.kind == Statement::Kind::foreign_key) ++constraints;
    }
  };

  // Keys and indexes of every table first: FKs need the referenced keys.
  for (const auto& t : schema.tables) {
    path.set(w.search_path(t.name.schema));
    std::size_t constraints = 0, indexes = 0;
    apply(t, w.keys_and_indexes(t), constraints, indexes);
    if (constraints || indexes)
      log::Event("schema_created")
          .field("kind", "keys_and_indexes")
          .field("table", task::display_name(map.table(t.name)))
          .field("constraints", constraints)
          .field("indexes", indexes)
          .info();
  }
  for (const auto& t : schema.tables) {
    path.set(w.search_path(t.name.schema));
    std::vector<std::pair<std::string, TableName>> skipped;
    std::size_t constraints = 0, indexes = 0;
    apply(t, w.foreign_keys(t, &skipped), constraints, indexes);
    for (const auto& [fk, ref] : skipped)
      log::Event("schema_skipped")
          .field("kind", "foreign_key")
          .field("table", task::display_name(map.table(t.name)))
          .field("constraint", fk)
          .field("references", task::display_name(ref))
          .field("reason", "the referenced table is not part of the task")
          .warn();
    if (constraints)
      log::Event("schema_created")
          .field("kind", "foreign_keys")
          .field("table", task::display_name(map.table(t.name)))
          .field("constraints", constraints)
          .info();
  }
  for (const auto& t : schema.tables) {
    std::string name = w.qualified_table(t.name);
    std::size_t renamed = 0;
    for (const auto& r : w.column_renames(t)) {
      if (!column_exists(dest, name, r.from)) continue;  // renamed by an earlier run
      run(dest, w.rename_column(t, r), "column rename " + r.from + " -> " + r.to + " of table " +
                                           task::display_name(map.table(t.name)));
      ++renamed;
    }
    if (renamed)
      log::Event("schema_created")
          .field("kind", "column_renames")
          .field("table", task::display_name(map.table(t.name)))
          .field("columns", renamed)
          .info();
  }
}

void sync_sequences(pg::Connection& source, pg::Connection& dest, const SourceSchema& schema,
                    const task::NameMap& map) {
  DdlWriter w(schema, map, quoting_of(dest));
  std::size_t changed = 0;
  for (const auto& s : schema.sequences) {
    std::string src_name = source.identifier(s.name.schema) + "." + source.identifier(s.name.name);
    std::string dst_name = w.qualified_in_mapped_schema(s.name);
    if (!relation_exists(dest, dst_name)) {
      // A table that existed before the task (--conflict ignore) may name
      // its identity sequence otherwise.
      log::Event("schema_skipped")
          .field("kind", "sequence")
          .field("sequence", dst_name)
          .field("reason", "no such sequence on the destination")
          .warn();
      continue;
    }
    auto src = source.exec("SELECT last_value, is_called FROM " + src_name);
    auto dst = dest.exec("SELECT last_value, is_called FROM " + dst_name);
    auto next = [&](const pg::Result& r) {
      std::int64_t last = std::stoll(std::string(r.value(0, 0)));
      bool called = r.value(0, 1) == "t";
      // Compared in the direction of the increment, without overflow.
      return std::pair<std::int64_t, bool>(last, called);
    };
    auto [src_last, src_called] = next(src);
    auto [dst_last, dst_called] = next(dst);
    bool up = s.increment > 0;
    auto before = [&](std::int64_t a, bool a_called, std::int64_t b, bool b_called) {
      if (a != b) return up ? a < b : a > b;
      return !a_called && b_called;
    };
    if (!before(dst_last, dst_called, src_last, src_called)) continue;
    std::string last = std::to_string(src_last);
    run(dest, "SELECT pg_catalog.setval(" + dest.literal(dst_name) + "::regclass, " + last + ", " +
                  (src_called ? "true" : "false") + ")",
        "value of sequence " + dst_name);
    ++changed;
    log::Event("sequence_synced").field("sequence", dst_name).field("last_value", last).flag("is_called", src_called).debug();
  }
  log::Event("sequences_synced").field("sequences", schema.sequences.size()).field("changed", changed).info();
}

}  // namespace pgdts::schema
