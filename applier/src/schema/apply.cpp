// Running schema sync's DDL on the destination, idempotently: every object is
// looked up first and left alone when it exists, so a resumed task (or
// --conflict ignore) calls these again safely. Also the sequence values.
#include <set>

#include "error.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "pg/transaction.h"
#include "pg/literals.h"
#include "schema/ddl.h"
#include "schema/schema_sync.h"
#include "schema/search_path.h"

namespace pgdts::schema {
namespace {

using model::TableName;

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
  pg::Transaction txn(dest);
  for (const auto& s : sqls) run(dest, s, what);
  txn.commit();
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
                                       const model::NameMap& map) {
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

namespace {

// Mapped names of the task's schemas that the destination has already:
// pgdts neither created them nor changes their owner (public, or a schema
// made by hand before the task).
std::set<std::string> existing_schemas(pg::Connection& dest, const SourceSchema& schema,
                                       const model::NameMap& map) {
  std::vector<std::string> mapped;
  for (const auto& s : schema.schemas) mapped.push_back(map.schema(s));
  std::string list = pg::text_array(mapped);
  auto res = dest.exec("SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY ($1::text[])",
                       {list.c_str()});
  std::set<std::string> out;
  for (int r = 0; r < res.rows(); ++r) out.emplace(res.value(r, 0));
  return out;
}

// The roles that are to own what create_pre_data creates (an owner of a
// schema the destination has is not needed there).
std::set<std::string> owning_roles(const SourceSchema& schema, const model::NameMap& map,
                                   const Ownership& ownership, const std::set<std::string>& existing) {
  std::set<std::string> out;
  auto add = [&](const std::string& source_owner) {
    if (auto role = ownership.role_for(source_owner)) out.insert(*role);
  };
  for (const auto& [name, access] : schema.schema_access)
    if (!existing.count(map.schema(name))) add(access.owner);
  for (const auto& t : schema.types) add(t.owner);
  for (const auto& s : schema.sequences) add(s.access.owner);
  for (const auto& t : schema.tables) add(t.access.owner);
  return out;
}

// The roles the source's grants name (empty when grants are not copied).
std::set<std::string> grantees(const SourceSchema& schema, const Ownership& ownership) {
  std::set<std::string> out;
  if (!ownership.keep_owners) return out;
  auto add = [&](const Access& access) {
    for (const auto& g : access.grants)
      if (!g.grantee.empty()) out.insert(g.grantee);
  };
  for (const auto& [name, access] : schema.schema_access) add(access);
  for (const auto& s : schema.sequences) add(s.access);
  for (const auto& t : schema.tables) add(t.access);
  return out;
}

// Which of `names` are roles on the destination, in one query.
std::set<std::string> destination_roles(pg::Connection& dest, const std::set<std::string>& names) {
  std::string list = pg::text_array({names.begin(), names.end()});
  auto res = dest.exec("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY ($1::text[])",
                       {list.c_str()});
  std::set<std::string> out;
  for (int r = 0; r < res.rows(); ++r) out.emplace(res.value(r, 0));
  return out;
}

// The policy with the destination's roles; throws, before anything is
// created, when a role that is to own an object is not one of them.
AccessPolicy access_policy(pg::Connection& dest, const SourceSchema& schema, const model::NameMap& map,
                           const Ownership& ownership, const std::set<std::string>& existing) {
  std::set<std::string> owners = owning_roles(schema, map, ownership, existing);
  std::set<std::string> wanted = grantees(schema, ownership);
  wanted.insert(owners.begin(), owners.end());
  AccessPolicy policy{ownership, destination_roles(dest, wanted)};
  std::vector<std::string> missing;
  for (const auto& role : owners)
    if (!policy.roles.count(role)) missing.push_back(dest.identifier(role));
  if (missing.empty()) return policy;
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
  if (!ownership.keep_owners)
    throw Error("schema sync: --owner-role " + names + " does not exist on the destination; " +
                "CREATE ROLE it there, or name another one");
  throw Error(std::string("schema sync: ") + (missing.size() == 1 ? "role " : "roles ") + names +
              (missing.size() == 1 ? ", which owns" : ", which own") +
              " objects of the task on the source, " + (missing.size() == 1 ? "does" : "do") +
              " not exist on the destination; create " + (missing.size() == 1 ? "it" : "them") +
              " there (pg_dumpall --roles-only on the source, then psql on the destination), "
              "or sync with --no-owner");
}

void log_skipped_grants(const std::vector<SkippedGrant>& skipped) {
  for (const auto& g : skipped)
    log::Event("schema_skipped")
        .field("kind", "grant")
        .field("object", g.object)
        .field("grantee", g.grantee)
        .field("reason", "no such role on the destination")
        .warn();
}

}  // namespace

void create_pre_data(pg::Connection& dest, const SourceSchema& schema, const model::NameMap& map,
                     const Ownership& ownership) {
  check_column_collisions(schema, map);
  std::set<std::string> existing = existing_schemas(dest, schema, map);
  AccessPolicy policy = access_policy(dest, schema, map, ownership, existing);
  DdlWriter w(schema, map, quoting_of(dest));
  SearchPath path(dest);
  std::vector<SkippedGrant> skipped;

  for (const auto& s : schema.schemas) {
    std::string mapped = map.schema(s);
    if (existing.count(mapped)) continue;
    std::vector<std::string> sqls{w.create_schema(s)};
    for (auto& a : w.schema_access(s, policy, &skipped)) sqls.push_back(std::move(a));
    run_all(dest, sqls, "schema " + mapped);
    log::Event("schema_created").field("kind", "schema").field("schema", mapped).info();
  }
  for (const auto& t : schema.types) {
    std::string name = w.qualified_in_mapped_schema(t.name);
    if (type_exists(dest, name)) continue;
    path.set(w.search_path(t.name.schema));
    std::vector<std::string> sqls = w.create_type(t);
    for (auto& s : w.type_access(t, policy)) sqls.push_back(std::move(s));
    run_all(dest, sqls, "type " + name);
    log::Event("schema_created").field("kind", kind_name(t.kind)).field("type", name).info();
  }
  for (const auto& s : schema.sequences) {
    if (s.identity) continue;  // created with its column
    std::string name = w.qualified_in_mapped_schema(s.name);
    if (relation_exists(dest, name)) continue;
    std::vector<std::string> sqls{w.create_sequence(s)};
    for (auto& a : w.sequence_access(s, policy, &skipped)) sqls.push_back(std::move(a));
    run_all(dest, sqls, "sequence " + name);
    log::Event("schema_created").field("kind", "sequence").field("sequence", name).info();
  }
  for (const auto& t : schema.tables) {
    std::string name = w.qualified_table(t.name);
    if (relation_exists(dest, name)) {
      log::Event("schema_exists").field("table", model::display_name(map.table(t.name))).debug();
      continue;
    }
    path.set(w.search_path(t.name.schema));
    std::vector<std::string> sqls = w.create_table(t);
    for (auto& s : w.owned_by(t)) sqls.push_back(std::move(s));
    // Last: the owner change carries the sequences linked above along.
    for (auto& s : w.table_access(t, policy, &skipped)) sqls.push_back(std::move(s));
    run_all(dest, sqls, "table " + model::display_name(map.table(t.name)));
    std::size_t checks = 0;
    for (const auto& k : t.constraints) checks += k.type == 'c';
    log::Event e("schema_created");
    e.field("kind", t.relkind == 'p' ? "partitioned_table" : "table")
        .field("table", model::display_name(map.table(t.name)))
        .field("columns", t.columns.size())
        .field("checks", checks);
    if (t.partition_parent) e.field("partition_of", model::display_name(map.table(*t.partition_parent)));
    e.info();
  }
  log_skipped_grants(skipped);
}

std::vector<DeferredForeignKey> create_post_data(pg::Connection& dest, const SourceSchema& schema,
                                                 const model::NameMap& map, bool defer_fk_validation) {
  DdlWriter w(schema, map, quoting_of(dest));
  SearchPath path(dest);
  std::vector<DeferredForeignKey> deferred;

  auto apply = [&](const Table& t, const std::vector<Statement>& stmts, std::size_t& constraints,
                   std::size_t& indexes) {
    std::string name = w.qualified_table(t.name);
    std::string display = model::display_name(map.table(t.name));
    for (const auto& s : stmts) {
      bool defer = defer_fk_validation && s.kind == Statement::Kind::foreign_key &&
                   !s.sql.ends_with(" NOT VALID");
      bool exists = (s.kind == Statement::Kind::constraint || s.kind == Statement::Kind::foreign_key) &&
                    constraint_exists(dest, name, s.object);
      if (defer && t.relkind == 'p') {
        // Created valid later, or already (keys on partitioned tables are
        // never created NOT VALID).
        if (!exists) deferred.push_back({name, dest.identifier(s.object), s.sql});
        continue;
      }
      if (defer) deferred.push_back({name, dest.identifier(s.object), ""});
      if (exists) continue;
      run(dest, defer ? s.sql + " NOT VALID" : s.sql,
          (s.object.empty() ? std::string("replica identity") : s.object) + " of table " + display);
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
          .field("table", model::display_name(map.table(t.name)))
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
          .field("table", model::display_name(map.table(t.name)))
          .field("constraint", fk)
          .field("references", model::display_name(ref))
          .field("reason", "the referenced table is not part of the task")
          .warn();
    if (constraints)
      log::Event("schema_created")
          .field("kind", "foreign_keys")
          .field("table", model::display_name(map.table(t.name)))
          .field("constraints", constraints)
          .info();
  }
  for (const auto& t : schema.tables) {
    std::string name = w.qualified_table(t.name);
    std::size_t renamed = 0;
    for (const auto& r : w.column_renames(t)) {
      if (!column_exists(dest, name, r.from)) continue;  // renamed by an earlier run
      run(dest, w.rename_column(t, r), "column rename " + r.from + " -> " + r.to + " of table " +
                                           model::display_name(map.table(t.name)));
      ++renamed;
    }
    if (renamed)
      log::Event("schema_created")
          .field("kind", "column_renames")
          .field("table", model::display_name(map.table(t.name)))
          .field("columns", renamed)
          .info();
  }
  return deferred;
}

std::vector<SequencePair> task_sequences(const SourceSchema& schema, const model::NameMap& map) {
  std::vector<SequencePair> out;
  out.reserve(schema.sequences.size());
  for (const auto& s : schema.sequences) out.push_back({s.name, {map.schema(s.name.schema), s.name.name}});
  return out;
}

std::optional<SequenceValue> sequence_target(const SequenceValue& dest, const SequenceValue& source,
                                             const SequenceBounds& bounds, std::int64_t margin,
                                             const std::string& name) {
  // 128 bits: a margin times an increment may pass the range of bigint.
  using Wide = __int128;
  Wide step = bounds.increment == 0 ? 1 : bounds.increment;
  Wide last = Wide(source.last_value) + Wide(margin) * step;
  if (last > bounds.max || last < bounds.min) {
    std::string value = std::to_string(source.last_value);
    if (margin != 0) value += " plus " + std::to_string(margin) + " increments";
    bool above = last > bounds.max;
    throw Error("sequence " + name + ": the source's value " + value + " lies " +
                (above ? "above its MAXVALUE " + std::to_string(bounds.max)
                       : "below its MINVALUE " + std::to_string(bounds.min)) +
                " on the destination; " +
                (margin != 0 ? "use a smaller --sequence-margin or " : std::string()) +
                "widen the sequence there (ALTER SEQUENCE " + name + (above ? " MAXVALUE" : " MINVALUE") +
                " ...)");
  }
  // Compared by the value nextval() would hand out next, in the direction of
  // the increment.
  auto next = [step](Wide l, bool called) { return called ? l + step : l; };
  Wide now = next(dest.last_value, dest.is_called);
  Wide wanted = next(last, source.is_called);
  if (step > 0 ? now >= wanted : now <= wanted) return std::nullopt;
  return SequenceValue{static_cast<std::int64_t>(last), source.is_called};
}

namespace {

// last_value and is_called of each relation, by position, in one query.
std::vector<SequenceValue> read_sequence_values(pg::Connection& conn,
                                                const std::vector<std::string>& qualified) {
  std::vector<SequenceValue> out(qualified.size());
  if (qualified.empty()) return out;
  std::string sql;
  for (std::size_t i = 0; i < qualified.size(); ++i) {
    if (i) sql += " UNION ALL ";
    sql += "SELECT " + std::to_string(i) + ", last_value, is_called FROM " + qualified[i];
  }
  pg::Result r = conn.exec(sql);
  for (int row = 0; row < r.rows(); ++row)
    out[static_cast<std::size_t>(pg::to_int64(r.value(row, 0)))] = {pg::to_int64(r.value(row, 1)),
                                                                    r.value(row, 2) == "t"};
  return out;
}

}  // namespace

std::vector<SequenceMove> advance_sequences(pg::Connection& source, pg::Connection& dest,
                                            const std::vector<SequencePair>& sequences,
                                            std::int64_t margin) {
  std::vector<SequenceMove> moves(sequences.size());
  if (sequences.empty()) return moves;
  std::vector<std::string> src_names, dst_names;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    moves[i].sequence = sequences[i];
    src_names.push_back(source.identifier(sequences[i].source.schema) + "." +
                        source.identifier(sequences[i].source.name));
    dst_names.push_back(dest.identifier(sequences[i].dest.schema) + "." +
                        dest.identifier(sequences[i].dest.name));
  }
  std::vector<SequenceValue> src = read_sequence_values(source, src_names);
  for (std::size_t i = 0; i < moves.size(); ++i) moves[i].source = src[i];

  // Which exist on the destination (a table that existed before the task,
  // with --conflict ignore, may name its identity sequence otherwise; a
  // source DDL may not be replayed yet), with their own bounds.
  std::string names_array = pg::text_array(dst_names);
  pg::Result found = dest.exec(
      "SELECT v.i - 1, q.seqincrement, q.seqmin, q.seqmax FROM pg_catalog.unnest($1::text[]) "
      "WITH ORDINALITY v(name, i) JOIN pg_catalog.pg_sequence q "
      "ON q.seqrelid = pg_catalog.to_regclass(v.name) ORDER BY 1",
      {names_array.c_str()});
  std::vector<std::size_t> present;
  std::vector<SequenceBounds> bounds(sequences.size());
  for (int row = 0; row < found.rows(); ++row) {
    auto i = static_cast<std::size_t>(pg::to_int64(found.value(row, 0)));
    moves[i].found = true;
    bounds[i] = {pg::to_int64(found.value(row, 1)), pg::to_int64(found.value(row, 2)),
                 pg::to_int64(found.value(row, 3))};
    present.push_back(i);
  }
  std::vector<std::string> present_names;
  for (auto i : present) present_names.push_back(dst_names[i]);
  std::vector<SequenceValue> dst = read_sequence_values(dest, present_names);

  // Every target first: one out of bounds sets none.
  std::vector<std::string> set_names, set_values, set_called;
  for (std::size_t k = 0; k < present.size(); ++k) {
    SequenceMove& m = moves[present[k]];
    m.before = m.after = dst[k];
    std::optional<SequenceValue> target = sequence_target(
        m.before, m.source, bounds[present[k]], margin, model::display_name(m.sequence.dest));
    if (!target) continue;
    m.after = *target;
    m.changed = true;
    set_names.push_back(dst_names[present[k]]);
    set_values.push_back(std::to_string(target->last_value));
    set_called.push_back(target->is_called ? "t" : "f");
  }
  if (set_names.empty()) return moves;
  std::string a = pg::text_array(set_names), b = pg::text_array(set_values),
              c = pg::text_array(set_called);
  // setval is not transactional; one statement sets them all or, failing
  // at one, stops there (all were checked against their bounds above).
  dest.exec(
      "SELECT pg_catalog.setval(v.name::pg_catalog.regclass, v.value, v.called) "
      "FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::int8[]), "
      "pg_catalog.unnest($3::bool[])) v(name, value, called)",
      {a.c_str(), b.c_str(), c.c_str()});
  return moves;
}

void sync_sequences(pg::Connection& source, pg::Connection& dest, const SourceSchema& schema,
                    const model::NameMap& map) {
  std::vector<SequenceMove> moves = advance_sequences(source, dest, task_sequences(schema, map), 0);
  std::size_t changed = 0;
  for (const auto& m : moves) {
    std::string name = model::display_name(m.sequence.dest);
    if (!m.found) {
      log::Event("schema_skipped")
          .field("kind", "sequence")
          .field("sequence", name)
          .field("reason", "no such sequence on the destination")
          .warn();
      continue;
    }
    if (!m.changed) continue;
    ++changed;
    log::Event("sequence_synced")
        .field("sequence", name)
        .field("last_value", std::to_string(m.after.last_value))
        .flag("is_called", m.after.is_called)
        .debug();
  }
  log::Event("sequences_synced").field("sequences", moves.size()).field("changed", changed).info();
}

}  // namespace pgdts::schema
