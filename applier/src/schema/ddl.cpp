// Destination DDL text from the schema model (see ddl.h).
#include "schema/ddl.h"

#include <algorithm>
#include <map>
#include <set>

#include "error.h"

namespace pgdts::schema {
namespace {

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

const char* fk_action(char c) {
  switch (c) {
    case 'r': return "RESTRICT";
    case 'c': return "CASCADE";
    case 'n': return "SET NULL";
    case 'd': return "SET DEFAULT";
    default: return "NO ACTION";
  }
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The privileges GRANT takes, as aclexplode spells them: text from the
// source becomes a keyword of a statement only when it is one of these.
bool known_privilege(std::string_view p) {
  static constexpr std::string_view known[] = {"SELECT",     "INSERT",  "UPDATE", "DELETE", "TRUNCATE",
                                               "REFERENCES", "TRIGGER", "USAGE",  "CREATE", "MAINTAIN"};
  return std::find(std::begin(known), std::end(known), p) != std::end(known);
}

}  // namespace

const Table* SourceSchema::find(const model::TableName& name) const {
  for (const auto& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

std::string DdlWriter::qualified_table(const model::TableName& source) const {
  model::TableName m = map_.table(source);
  return q_.identifier(m.schema) + "." + q_.identifier(m.name);
}

std::string DdlWriter::qualified_in_mapped_schema(const model::TableName& source) const {
  return q_.identifier(map_.schema(source.schema)) + "." + q_.identifier(source.name);
}

std::string DdlWriter::type_sql(const TypeUse& type) const {
  if (!type.user_type) return type.sql;
  return qualified_in_mapped_schema(*type.user_type) + (type.array ? "[]" : "");
}

std::vector<std::string> expression_path(const std::vector<std::string>& path_schemas,
                                         const std::string& own) {
  std::vector<std::string> out{own};
  for (const auto& s : path_schemas)
    if (s != own) out.push_back(s);
  return out;
}

std::string DdlWriter::search_path(const std::string& source_schema) const {
  std::string out = "pg_catalog";
  for (const auto& s : expression_path(schema_.path_schemas, source_schema))
    out += ", " + q_.identifier(map_.schema(s));
  return out + ", public";
}

std::string DdlWriter::create_schema(const std::string& source_schema) const {
  return "CREATE SCHEMA IF NOT EXISTS " + q_.identifier(map_.schema(source_schema));
}

std::vector<std::string> DdlWriter::create_type(const UserType& type) const {
  std::string name = qualified_in_mapped_schema(type.name);
  std::vector<std::string> out;
  if (type.kind == 'e') {
    std::vector<std::string> labels;
    for (const auto& l : type.labels) labels.push_back(q_.literal(l));
    out.push_back("CREATE TYPE " + name + " AS ENUM (" + join(labels, ", ") + ")");
  } else if (type.kind == 'd') {
    std::string sql = "CREATE DOMAIN " + name + " AS " + type_sql(type.base);
    if (type.collation) sql += " COLLATE " + *type.collation;
    if (type.default_expr) sql += " DEFAULT " + *type.default_expr;
    if (type.not_null) sql += " NOT NULL";
    out.push_back(sql);
    for (const auto& c : type.checks)
      out.push_back("ALTER DOMAIN " + name + " ADD CONSTRAINT " + q_.identifier(c.name) + " " +
                    c.definition);
  } else {
    std::vector<std::string> attrs;
    for (const auto& a : type.attributes) {
      std::string s = q_.identifier(a.name) + " " + type_sql(a.type);
      if (a.collation) s += " COLLATE " + *a.collation;
      attrs.push_back(s);
    }
    out.push_back("CREATE TYPE " + name + " AS (" + join(attrs, ", ") + ")");
  }
  return out;
}

std::string DdlWriter::sequence_options(const Sequence& s) const {
  return "AS " + s.type_sql + " START WITH " + std::to_string(s.start) + " INCREMENT BY " +
         std::to_string(s.increment) + " MINVALUE " + std::to_string(s.min) + " MAXVALUE " +
         std::to_string(s.max) + " CACHE " + std::to_string(s.cache) + (s.cycle ? " CYCLE" : " NO CYCLE");
}

std::string DdlWriter::create_sequence(const Sequence& s) const {
  return "CREATE SEQUENCE IF NOT EXISTS " + qualified_in_mapped_schema(s.name) + " " + sequence_options(s);
}

std::vector<std::string> DdlWriter::create_table(const Table& table) const {
  std::string name = qualified_table(table.name);
  std::vector<std::string> out;
  const Table* parent = table.partition_parent ? schema_.find(*table.partition_parent) : nullptr;
  std::vector<const Constraint*> later_checks;

  if (parent) {
    std::string sql = "CREATE TABLE " + name + " PARTITION OF " + qualified_table(parent->name) + " " +
                      table.partition_bound.value_or("DEFAULT");
    if (table.partition_key) sql += " PARTITION BY " + *table.partition_key;
    out.push_back(sql);
    // What the partition has beyond its parent's definition.
    for (const auto& c : table.columns) {
      auto pc = std::find_if(parent->columns.begin(), parent->columns.end(),
                             [&](const Column& p) { return p.name == c.name; });
      bool parent_has = pc != parent->columns.end();
      if (c.default_expr && !c.generated && !c.identity &&
          (!parent_has || pc->default_expr != c.default_expr))
        out.push_back("ALTER TABLE " + name + " ALTER COLUMN " + q_.identifier(c.name) +
                      " SET DEFAULT " + *c.default_expr);
      if (c.not_null && (!parent_has || !pc->not_null))
        out.push_back("ALTER TABLE " + name + " ALTER COLUMN " + q_.identifier(c.name) + " SET NOT NULL");
    }
    for (const auto& k : table.constraints)
      if (k.type == 'c') later_checks.push_back(&k);
  } else {
    std::vector<std::string> items;
    for (const auto& c : table.columns) {
      std::string s = q_.identifier(c.name) + " " + type_sql(c.type);
      if (c.collation) s += " COLLATE " + *c.collation;
      if (c.generated && c.default_expr) {
        s += " GENERATED ALWAYS AS (" + *c.default_expr + ") STORED";
      } else if (c.identity) {
        s += c.identity == 'a' ? " GENERATED ALWAYS AS IDENTITY" : " GENERATED BY DEFAULT AS IDENTITY";
        for (const auto& seq : schema_.sequences)
          if (c.identity_sequence && seq.name == *c.identity_sequence)
            // The sequence's type is the column's: no AS here.
            s += " (SEQUENCE NAME " + qualified_in_mapped_schema(seq.name) + " " +
                 sequence_options(seq).substr(4 + seq.type_sql.size()) + ")";
      } else if (c.default_expr) {
        if (c.default_sequence)
          s += " DEFAULT nextval(" +
               q_.literal(qualified_in_mapped_schema(*c.default_sequence)) + "::regclass)";
        else
          s += " DEFAULT " + *c.default_expr;
      }
      if (c.not_null) s += " NOT NULL";
      items.push_back(s);
    }
    for (const auto& k : table.constraints) {
      if (k.type != 'c') continue;
      if (ends_with(k.definition, " NOT VALID"))
        later_checks.push_back(&k);
      else
        items.push_back("CONSTRAINT " + q_.identifier(k.name) + " " + k.definition);
    }
    std::string sql = std::string("CREATE ") + (table.unlogged ? "UNLOGGED " : "") + "TABLE " + name +
                      " (" + join(items, ", ") + ")";
    if (table.partition_key) sql += " PARTITION BY " + *table.partition_key;
    if (table.reloptions && table.relkind == 'r') sql += " WITH (" + *table.reloptions + ")";
    out.push_back(sql);
  }
  for (const Constraint* k : later_checks)
    out.push_back("ALTER TABLE " + name + " ADD CONSTRAINT " + q_.identifier(k->name) + " " + k->definition);
  return out;
}

std::vector<std::string> DdlWriter::owned_by(const Table& table) const {
  std::vector<std::string> out;
  for (const auto& s : schema_.sequences)
    if (!s.identity && s.owner_table && *s.owner_table == table.name)
      out.push_back("ALTER SEQUENCE " + qualified_in_mapped_schema(s.name) + " OWNED BY " +
                    qualified_table(table.name) + "." + q_.identifier(s.owner_column));
  return out;
}

std::vector<std::string> DdlWriter::grants(const std::string& kind, const std::string& object,
                                           const Access& access, const AccessPolicy& policy,
                                           std::vector<SkippedGrant>* skipped) const {
  std::vector<std::string> out;
  // With --no-owner one role owns everything: the source's grants between
  // its roles mean nothing there.
  if (!policy.ownership.keep_owners) return out;
  // One GRANT per grantee and grant option.
  std::map<std::pair<std::string, bool>, std::vector<std::string>> by_grantee;
  std::set<std::string> missing;
  for (const auto& g : access.grants) {
    if (!known_privilege(g.privilege))
      throw Error(kind + " " + object + ": the source grants privilege \"" + g.privilege +
                  "\", which schema sync does not know");
    if (!g.grantee.empty() && !policy.roles.count(g.grantee)) {
      if (missing.insert(g.grantee).second && skipped) skipped->push_back({kind + " " + object, g.grantee});
      continue;
    }
    by_grantee[{g.grantee, g.grantable}].push_back(g.privilege);
  }
  for (const auto& [grantee, privileges] : by_grantee) {
    std::string sql = "GRANT " + join(privileges, ", ") + " ON " + kind + " " + object + " TO " +
                      (grantee.first.empty() ? std::string("PUBLIC") : q_.identifier(grantee.first));
    if (grantee.second) sql += " WITH GRANT OPTION";
    out.push_back(std::move(sql));
  }
  return out;
}

std::vector<std::string> DdlWriter::access(const std::string& kind, const std::string& object,
                                           const Access& access, const AccessPolicy& policy,
                                           std::vector<SkippedGrant>* skipped) const {
  std::vector<std::string> out;
  if (auto role = policy.ownership.role_for(access.owner))
    out.push_back("ALTER " + kind + " " + object + " OWNER TO " + q_.identifier(*role));
  // After the owner change: a superuser's GRANT is recorded as the owner's.
  for (auto& g : grants(kind, object, access, policy, skipped)) out.push_back(std::move(g));
  return out;
}

std::vector<std::string> DdlWriter::schema_access(const std::string& source_schema, const AccessPolicy& policy,
                                                  std::vector<SkippedGrant>* skipped) const {
  auto found = schema_.schema_access.find(source_schema);
  if (found == schema_.schema_access.end()) return {};
  return access("SCHEMA", q_.identifier(map_.schema(source_schema)), found->second, policy, skipped);
}

std::vector<std::string> DdlWriter::type_access(const UserType& type, const AccessPolicy& policy) const {
  return access(type.kind == 'd' ? "DOMAIN" : "TYPE", qualified_in_mapped_schema(type.name),
                Access{type.owner, {}}, policy, nullptr);
}

std::vector<std::string> DdlWriter::sequence_access(const Sequence& seq, const AccessPolicy& policy,
                                                    std::vector<SkippedGrant>* skipped) const {
  // PostgreSQL refuses to change the owner of a sequence linked to a table.
  if (seq.owner_table) return {};
  return access("SEQUENCE", qualified_in_mapped_schema(seq.name), seq.access, policy, skipped);
}

std::vector<std::string> DdlWriter::table_access(const Table& table, const AccessPolicy& policy,
                                                 std::vector<SkippedGrant>* skipped) const {
  // The owner change carries the table's indexes and the sequences linked
  // to it (OWNED BY, identity) along.
  std::vector<std::string> out = access("TABLE", qualified_table(table.name), table.access, policy, skipped);
  for (const auto& s : schema_.sequences)
    if (s.owner_table && *s.owner_table == table.name)
      for (auto& g : grants("SEQUENCE", qualified_in_mapped_schema(s.name), s.access, policy, skipped))
        out.push_back(std::move(g));
  return out;
}

std::vector<Statement> DdlWriter::keys_and_indexes(const Table& table) const {
  std::string name = qualified_table(table.name);
  std::vector<Statement> out;
  for (const auto& k : table.constraints)
    if (k.type == 'p' || k.type == 'u' || k.type == 'x')
      out.push_back({Statement::Kind::constraint, k.name,
                     "ALTER TABLE " + name + " ADD CONSTRAINT " + q_.identifier(k.name) + " " + k.definition});
  for (const auto& i : table.indexes)
    out.push_back({Statement::Kind::index, i.name,
                   std::string("CREATE ") + (i.unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " +
                       q_.identifier(i.name) + " ON " + name + " USING " + i.method_and_keys});
  if (table.replica_identity == 'f')
    out.push_back({Statement::Kind::replica_identity, "", "ALTER TABLE " + name + " REPLICA IDENTITY FULL"});
  else if (table.replica_identity == 'n')
    out.push_back({Statement::Kind::replica_identity, "", "ALTER TABLE " + name + " REPLICA IDENTITY NOTHING"});
  else if (table.replica_identity == 'i' && table.replica_identity_index)
    out.push_back({Statement::Kind::replica_identity, "",
                   "ALTER TABLE " + name + " REPLICA IDENTITY USING INDEX " +
                       q_.identifier(*table.replica_identity_index)});
  return out;
}

std::vector<Statement> DdlWriter::foreign_keys(
    const Table& table, std::vector<std::pair<std::string, model::TableName>>* skipped) const {
  std::vector<Statement> out;
  for (const auto& k : table.constraints) {
    if (k.type != 'f') continue;
    if (!schema_.find(k.referenced)) {
      if (skipped) skipped->emplace_back(k.name, k.referenced);
      continue;
    }
    std::vector<std::string> cols, refcols;
    for (const auto& c : k.columns) cols.push_back(q_.identifier(c));
    for (const auto& c : k.referenced_columns) refcols.push_back(q_.identifier(c));
    std::string sql = "ALTER TABLE " + qualified_table(table.name) + " ADD CONSTRAINT " + q_.identifier(k.name) +
                      " FOREIGN KEY (" + join(cols, ", ") + ") REFERENCES " + qualified_table(k.referenced) +
                      " (" + join(refcols, ", ") + ")";
    if (k.match == 'f') sql += " MATCH FULL";
    sql += std::string(" ON UPDATE ") + fk_action(k.on_update) + " ON DELETE " + fk_action(k.on_delete);
    if (k.deferrable) sql += k.deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE";
    if (!k.validated) sql += " NOT VALID";
    out.push_back({Statement::Kind::foreign_key, k.name, sql});
  }
  return out;
}

std::vector<DdlWriter::Rename> DdlWriter::column_renames(const Table& table) const {
  if (table.partition_parent) return {};  // a partition's columns follow its parent
  std::map<std::string, std::string> target_of;  // mapped name -> source name
  std::set<std::string> sources;
  std::vector<Rename> direct;
  for (const auto& c : table.columns) {
    std::string to = map_.column(table.name, c.name);
    auto [it, fresh] = target_of.emplace(to, c.name);
    if (!fresh)
      throw Error("table " + model::display_name(table.name) + ": columns \"" + it->second + "\" and \"" +
                  c.name + "\" would both be called \"" + to +
                  "\" on the destination; change the --map/--case rules");
    sources.insert(c.name);
    if (to != c.name) direct.push_back({c.name, to});
  }
  bool permutes = std::any_of(direct.begin(), direct.end(),
                              [&](const Rename& r) { return sources.count(r.to) != 0; });
  if (!permutes) return direct;
  // Some new name is another column's old name: step through temporary names.
  std::vector<Rename> out, second;
  for (std::size_t i = 0; i < direct.size(); ++i) {
    std::string tmp = "pgdts_rename_" + std::to_string(i);
    out.push_back({direct[i].from, tmp});
    second.push_back({tmp, direct[i].to});
  }
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

std::string DdlWriter::rename_column(const Table& table, const Rename& r) const {
  return "ALTER TABLE " + qualified_table(table.name) + " RENAME COLUMN " + q_.identifier(r.from) + " TO " +
         q_.identifier(r.to);
}

void check_column_collisions(const SourceSchema& schema, const model::NameMap& map) {
  Quoting q{[](std::string_view s) { return std::string(s); }, [](std::string_view s) { return std::string(s); }};
  DdlWriter w(schema, map, q);
  for (const auto& t : schema.tables) w.column_renames(t);
}

}  // namespace pgdts::schema
