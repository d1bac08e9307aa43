#include "schema/objects.h"

#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "logging/log.h"
#include "pg/literals.h"
#include "pg/transaction.h"
#include "rights/run_as.h"

namespace pgdts::schema {
namespace {

// The selected schemas that are selected whole, and hold anything.
std::vector<std::string> whole_schemas(const SourceSchema& schema, const model::Selection& selection) {
  std::vector<std::string> out;
  for (const std::string& s : schema.schemas)
    if (selection.includes_schema(s)) out.push_back(s);
  return out;
}

// Functions and procedures, not those of an extension (it brings its own).
void read_routines(pg::Connection& source, const std::string& schemas, std::vector<SchemaObject>& out) {
  pg::Result r = source.exec(
      "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,"
      " p.oid::pg_catalog.regprocedure::text, pg_catalog.pg_get_userbyid(p.proowner),"
      " pg_catalog.pg_get_functiondef(p.oid)"
      " FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
      " WHERE n.nspname = ANY ($1::text[]) AND p.prokind IN ('f', 'p')"
      "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass"
      "                   AND d.objid = p.oid AND d.deptype = 'e')"
      " ORDER BY p.oid",
      {schemas.c_str()});
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({std::string(r.value(i, 0)), std::string(r.value(i, 1)), std::string(r.value(i, 2)),
                   std::string(r.value(i, 3)), std::string(r.value(i, 1))});
}

// Views and materialized views, each after the views it reads (a view
// replaced later may read one created after it).
void read_views(pg::Connection& source, const std::string& schemas, std::vector<SchemaObject>& out) {
  pg::Result r = source.exec(
      "SELECT c.oid, c.relkind, c.oid::pg_catalog.regclass::text, pg_catalog.pg_get_userbyid(c.relowner),"
      " pg_catalog.pg_get_viewdef(c.oid, true),"
      " (SELECT pg_catalog.string_agg(DISTINCT d.refobjid::text, ',')"
      "  FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d"
      "    ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = w.oid"
      "   AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> c.oid"
      "  WHERE w.ev_class = c.oid)"
      " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('v', 'm')"
      "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass"
      "                   AND d.objid = c.oid AND d.deptype = 'e')"
      " ORDER BY c.oid",
      {schemas.c_str()});
  struct View {
    SchemaObject object;
    std::vector<std::string> reads;
  };
  std::map<std::string, View> views;  // by oid text
  std::vector<std::string> order;
  for (int i = 0; i < r.rows(); ++i) {
    bool materialized = r.value(i, 1) == "m";
    std::string name(r.value(i, 2)), definition(r.value(i, 4));
    while (!definition.empty() && (definition.back() == ';' || definition.back() == '\n'))
      definition.pop_back();
    View v;
    v.object = {materialized ? "materialized view" : "view", name, std::string(r.value(i, 3)),
                std::string(materialized ? "CREATE MATERIALIZED VIEW " : "CREATE VIEW ") + name +
                    " AS " + definition + (materialized ? " WITH NO DATA" : ""),
                name};
    std::string reads = r.is_null(i, 5) ? "" : std::string(r.value(i, 5));
    for (std::size_t at = 0; at < reads.size();) {
      std::size_t comma = reads.find(',', at);
      if (comma == std::string::npos) comma = reads.size();
      v.reads.push_back(reads.substr(at, comma - at));
      at = comma + 1;
    }
    std::string oid(r.value(i, 0));
    order.push_back(oid);
    views.emplace(oid, std::move(v));
  }
  std::set<std::string> done, visiting;
  std::function<void(const std::string&)> visit = [&](const std::string& oid) {
    auto it = views.find(oid);
    if (it == views.end() || done.count(oid) || !visiting.insert(oid).second) return;
    for (const std::string& read : it->second.reads) visit(read);
    done.insert(oid);
    out.push_back(it->second.object);
  };
  for (const std::string& oid : order) visit(oid);
}

// Triggers of the schemas' tables, not those a constraint or a partitioned
// parent made.
void read_triggers(pg::Connection& source, const std::string& schemas, std::vector<SchemaObject>& out) {
  pg::Result r = source.exec(
      "SELECT pg_catalog.quote_ident(t.tgname) || ' ON ' || c.oid::pg_catalog.regclass::text,"
      " pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.pg_get_triggerdef(t.oid, false)"
      " FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = ANY ($1::text[]) AND NOT t.tgisinternal AND t.tgparentid = 0"
      " ORDER BY t.oid",
      {schemas.c_str()});
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({"trigger", std::string(r.value(i, 0)), std::string(r.value(i, 1)),
                   std::string(r.value(i, 2)), std::string(r.value(i, 0))});
}

// Comments on the schemas' tables, columns, views, routines and triggers.
void read_comments(pg::Connection& source, const std::string& schemas, std::vector<SchemaObject>& out) {
  pg::Result r = source.exec(
      "SELECT o.type, o.identity, pg_catalog.pg_get_userbyid(CASE d.classoid"
      "   WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT proowner FROM pg_catalog.pg_proc WHERE oid = d.objoid)"
      "   WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT c.relowner FROM pg_catalog.pg_trigger t"
      "     JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objoid)"
      "   ELSE (SELECT relowner FROM pg_catalog.pg_class WHERE oid = d.objoid) END),"
      " d.description"
      " FROM pg_catalog.pg_description d,"
      " LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o"
      " WHERE d.classoid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_proc'::regclass,"
      "                      'pg_catalog.pg_trigger'::regclass)"
      "   AND o.schema = ANY ($1::text[])"
      "   AND o.type IN ('table', 'table column', 'view', 'view column', 'materialized view',"
      "                  'function', 'procedure', 'trigger')"
      " ORDER BY d.classoid, d.objoid, d.objsubid",
      {schemas.c_str()});
  for (int i = 0; i < r.rows(); ++i) {
    std::string type(r.value(i, 0)), identity(r.value(i, 1));
    std::string keyword = type == "table column" || type == "view column" ? "COLUMN" : type;
    for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.push_back({"comment", type + " " + identity, std::string(r.value(i, 2)),
                   "COMMENT ON " + keyword + " " + identity + " IS " +
                       source.literal(std::string(r.value(i, 3))),
                   ""});
  }
}

bool exists_on(pg::Connection& dest, const SchemaObject& o) {
  if (o.exists_as.empty()) return false;
  const char* sql = nullptr;
  if (o.kind == "function" || o.kind == "procedure")
    sql = "SELECT pg_catalog.to_regprocedure($1) IS NOT NULL";
  else if (o.kind == "trigger")
    sql = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE"
          " pg_catalog.quote_ident(t.tgname) || ' ON ' || t.tgrelid::pg_catalog.regclass::text = $1)";
  else
    sql = "SELECT pg_catalog.to_regclass($1) IS NOT NULL";
  return dest.exec(sql, {o.exists_as.c_str()}).value(0, 0) == "t";
}

// The role an object is created by (nullptr: pgdts' connection, with
// --no-owner and no --owner-role), its run_as function ready: run_as keeps
// the object's code from ever running as pgdts.
const rights::RoleFacts* creator(pg::Connection& dest, const SchemaObject& o, const Ownership& ownership,
                                 std::map<std::string, rights::RoleFacts>& roles) {
  std::optional<std::string> owner = ownership.role_for(o.owner);
  if (!owner) return nullptr;
  auto it = roles.find(*owner);
  if (it == roles.end()) {
    rights::RoleFacts role = rights::read_role(dest, *owner);
    if (!role.exists) throw Error("role \"" + *owner + "\", its owner, does not exist on the destination");
    rights::provide_run_as(dest, role);
    it = roles.emplace(*owner, role).first;
  }
  return &it->second;
}

// settings: rights::session_settings(dest), read once (the calls compare
// with it after each statement).
void create_as(pg::Connection& dest, const SchemaObject& o, const rights::RoleFacts* role,
               const std::string& settings) {
  if (!role) {
    dest.exec("SET LOCAL check_function_bodies = off");
    dest.exec(o.create_sql);
    return;
  }
  // Bodies are checked when they run, not now: one may call a function
  // created after it.
  std::string check_bodies = "{check_function_bodies,off}";
  dest.exec(rights::run_as_call(*role), {o.create_sql.c_str(), nullptr, check_bodies.c_str(),
                                        settings.c_str(), role->name.c_str()});
}

}  // namespace

std::vector<SchemaObject> read_schema_objects(pg::Connection& source, const SourceSchema& schema,
                                              const model::Selection& selection) {
  std::vector<std::string> whole = whole_schemas(schema, selection);
  std::vector<SchemaObject> out;
  if (whole.empty()) return out;
  std::string schemas = pg::text_array(whole);
  pg::Transaction txn(source, pg::kBeginSnapshot);
  // Every name a definition prints is then schema-qualified.
  source.exec("SET LOCAL search_path = pg_catalog");
  read_routines(source, schemas, out);
  read_views(source, schemas, out);
  read_triggers(source, schemas, out);
  read_comments(source, schemas, out);
  txn.commit();
  return out;
}

void create_schema_objects(pg::Connection& dest, const std::vector<SchemaObject>& objects,
                           const model::NameMap& map, const Ownership& ownership) {
  if (objects.empty()) return;
  if (!map.is_identity()) {
    log::Event("schema_objects_not_created")
        .field("objects", objects.size())
        .field("reason", "--map or --case renames names their definitions use")
        .warn();
    return;
  }
  std::map<std::string, rights::RoleFacts> roles;
  std::string settings = rights::session_settings(dest);
  std::size_t created = 0;
  for (const SchemaObject& o : objects) {
    try {
      if (exists_on(dest, o)) continue;
      const rights::RoleFacts* role = creator(dest, o, ownership, roles);
      pg::Transaction txn(dest);
      create_as(dest, o, role, settings);
      txn.commit();
      ++created;
    } catch (const pg::ConnectionError&) {
      throw;
    } catch (const Error& e) {
      log::Event("schema_object_not_created")
          .field("kind", o.kind)
          .field("object", o.identity)
          .field("error", pg::one_line(e.what()))
          .warn();
    }
  }
  log::Event("schema_objects_created").field("objects", created).info();
}

}  // namespace pgdts::schema
