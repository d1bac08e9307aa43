#include "ddl/planner.h"

#include <algorithm>
#include <cctype>

#include "ddl/parser.h"
#include "ddl/rewriter.h"
#include "error.h"
#include "pg/lsn.h"
#include "pg/literals.h"

namespace pgdts::ddl {

using model::TableName;
namespace pb = google::protobuf;

namespace {

// The object lists of DROP and GRANT: removes the objects keep() says are
// outside the task (keep also maps the names of those it keeps).
template <class Keep>
void keep_objects(Rewriter& rw, pb::RepeatedPtrField<pg_query::Node>* objects, Keep keep) {
  for (int i = 0; i < objects->size();) {
    if (keep((*objects)[i])) {
      ++i;
    } else {
      objects->DeleteSubrange(i, 1);
      rw.changed = true;
    }
  }
}

Plan skipped(std::string reason, bool warn = false) {
  Plan p;
  p.action = Plan::Action::skip;
  p.reason = std::move(reason);
  p.warn = warn;
  return p;
}

std::string shown(const TableName& t) { return model::display_name(t); }

// ALTER TABLE subcommands that name a column of the table.
bool names_a_column(pg_query::AlterTableType t) {
  switch (t) {
    case pg_query::AT_ColumnDefault:
    case pg_query::AT_CookedColumnDefault:
    case pg_query::AT_DropNotNull:
    case pg_query::AT_SetNotNull:
    case pg_query::AT_DropExpression:
    case pg_query::AT_CheckNotNull:
    case pg_query::AT_SetStatistics:
    case pg_query::AT_SetOptions:
    case pg_query::AT_ResetOptions:
    case pg_query::AT_SetStorage:
    case pg_query::AT_SetCompression:
    case pg_query::AT_DropColumn:
    case pg_query::AT_DropColumnRecurse:
    case pg_query::AT_AlterColumnType:
    case pg_query::AT_AddIdentity:
    case pg_query::AT_SetIdentity:
    case pg_query::AT_DropIdentity:
      return true;
    default:
      return false;
  }
}

// The ALTER TABLE subcommands replayed on a table: its columns, constraints,
// keys, storage options, inheritance and partitions. Not replayed: triggers
// and rules (pgdts does not create them: enabling one could make it fire on
// replayed rows), row security (policies are not replayed either),
// tablespaces and access methods (the destination's own), foreign-data
// options. Ownership when owners follow the source. Every subcommand on a
// column (names_a_column) is.
bool replayed_on_table(pg_query::AlterTableType t, bool keep_owners) {
  if (names_a_column(t)) return true;
  switch (t) {
    case pg_query::AT_AddColumn:
    case pg_query::AT_AddColumnRecurse:
    case pg_query::AT_AddIndex:
    case pg_query::AT_AddConstraint:
    case pg_query::AT_AddConstraintRecurse:
    case pg_query::AT_AlterConstraint:
    case pg_query::AT_ValidateConstraint:
    case pg_query::AT_ValidateConstraintRecurse:
    case pg_query::AT_AddIndexConstraint:
    case pg_query::AT_DropConstraint:
    case pg_query::AT_DropConstraintRecurse:
    case pg_query::AT_ClusterOn:
    case pg_query::AT_DropCluster:
    case pg_query::AT_SetLogged:
    case pg_query::AT_SetUnLogged:
    case pg_query::AT_SetRelOptions:
    case pg_query::AT_ResetRelOptions:
    case pg_query::AT_ReplaceRelOptions:
    case pg_query::AT_AddInherit:
    case pg_query::AT_DropInherit:
    case pg_query::AT_ReplicaIdentity:
    case pg_query::AT_AttachPartition:
    case pg_query::AT_DetachPartition:
    case pg_query::AT_DetachPartitionFinalize:
      return true;
    case pg_query::AT_ChangeOwner:
      return keep_owners;
    default:
      return false;
  }
}

// ALTER INDEX, ALTER SEQUENCE, ALTER VIEW (the ALTER TABLE forms on them).
bool replayed_on_relation(pg_query::ObjectType kind, pg_query::AlterTableType t, bool keep_owners) {
  if (t == pg_query::AT_ChangeOwner) return keep_owners;
  switch (kind) {
    case pg_query::OBJECT_INDEX:
      return t == pg_query::AT_SetRelOptions || t == pg_query::AT_ResetRelOptions ||
             t == pg_query::AT_AttachPartition || t == pg_query::AT_SetStatistics;
    case pg_query::OBJECT_SEQUENCE:
      return t == pg_query::AT_SetLogged || t == pg_query::AT_SetUnLogged;
    case pg_query::OBJECT_VIEW:
      return t == pg_query::AT_ColumnDefault || t == pg_query::AT_SetRelOptions ||
             t == pg_query::AT_ResetRelOptions || t == pg_query::AT_ReplaceRelOptions;
    default:
      return false;
  }
}

// Kinds of object other than tables, indexes and sequences that are
// replayed when their schema is selected as a whole.
bool replayed_schema_object(pg_query::ObjectType kind) {
  switch (kind) {
    case pg_query::OBJECT_VIEW:
    case pg_query::OBJECT_FUNCTION:
    case pg_query::OBJECT_PROCEDURE:
    case pg_query::OBJECT_ROUTINE:
    case pg_query::OBJECT_AGGREGATE:
    case pg_query::OBJECT_TYPE:
    case pg_query::OBJECT_DOMAIN:
    case pg_query::OBJECT_DOMCONSTRAINT:
    case pg_query::OBJECT_COLLATION:
    case pg_query::OBJECT_OPERATOR:
    case pg_query::OBJECT_STATISTIC_EXT:
      return true;
    default:
      return false;
  }
}

// The settings that change how a statement's text parses or what its
// constants mean, which replay adopts from the source: constants of dates,
// times and intervals (DateStyle, IntervalStyle, TimeZone), money
// (lc_monetary), arrays (array_nulls), XML (xmloption), "x = NULL"
// (transform_null_equals), "\'" in escape strings (backslash_quote).
// Anything else a record names is ignored: it is the source's input.
const char* adopted_setting(const std::string& name) {
  static const char* const kNames[] = {"DateStyle", "IntervalStyle", "TimeZone", "lc_monetary",
                                       "array_nulls", "xmloption", "transform_null_equals",
                                       "backslash_quote", "timezone_abbreviations"};
  for (const char* n : kNames) {
    std::string_view v(n);
    if (v.size() == name.size() &&
        std::equal(v.begin(), v.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return n;
  }
  return nullptr;
}

// A name list node of an object: ObjectWithArgs (routines, operators,
// aggregates), TypeName (types, domains), List (others).
pb::RepeatedPtrField<pg_query::Node>* name_list(pg_query::Node& obj) {
  if (obj.has_object_with_args()) return obj.mutable_object_with_args()->mutable_objname();
  if (obj.has_type_name()) return obj.mutable_type_name()->mutable_names();
  if (obj.has_list()) return obj.mutable_list()->mutable_items();
  return nullptr;
}

}  // namespace

struct Planner::Command {
  const pgdts::Ddl& record;
  Rewriter& rw;
  pg_query::Node& node;
  Plan& plan;
};

Planner::Planner(const model::Selection& selection, const model::NameMap& names,
                 const std::set<TableName>& start_tables, DestinationLookup lookup,
                 PlannerOptions options)
    : selection_(selection),
      names_(names),
      start_tables_(start_tables),
      lookup_(std::move(lookup)),
      options_(options) {}

void Planner::saw_table(const TableName& source) { known_.insert(source); }

bool Planner::in_task(const TableName& source) const {
  return selection_.includes(source) || start_tables_.count(source) > 0 || joined_.count(source) > 0;
}

bool Planner::owns_sequence(const TableName& source) const {
  return owned_sequences_.count(source) > 0;
}

bool Planner::index_in_task(const TableName& o) const {
  return selection_.includes_schema(o.schema) ||
         (lookup_.index_exists && lookup_.index_exists(names_.schema(o.schema), o.name));
}

bool Planner::sequence_in_task(const TableName& o) const {
  return selection_.includes_schema(o.schema) || owns_sequence(o) ||
         (lookup_.sequence_exists && lookup_.sequence_exists(names_.schema(o.schema), o.name));
}

bool Planner::schema_object_in_task(const std::string& schema) const {
  return !schema.empty() && !is_system_schema(schema) && selection_.includes_schema(schema);
}

Plan Planner::plan(const pgdts::Ddl& record, std::uint64_t lsn) {
  std::string objects;
  for (const auto& id : record.object_identities()) {
    if (!objects.empty()) objects += ", ";
    objects += id;
  }
  std::string what = record.command_tag() + (objects.empty() ? "" : " " + objects);

  if (!record.statement_exact())
    throw Error("DDL " + what + " at source LSN " + pg::format_lsn(lsn) +
                " was captured without its text (it was the first DDL of a session that had not "
                "loaded pgdts, inside a function, procedure or DO block): pgdts cannot replay it. "
                "Run the command on the destination by hand, then move the task past this "
                "transaction, and add pgdts to session_preload_libraries on the source");

  // Text the source ran but that cannot be classified is skipped, never a
  // reason to stop: any source user could send it.
  pg_query::ParseResult tree;
  try {
    tree = parse(record.statement());
  } catch (const Error& e) {
    return skipped(std::string("it cannot be parsed: ") + e.what(), true);
  }
  if (tree.stmts_size() != 1 || !tree.stmts(0).has_stmt())
    return skipped("its text holds " + std::to_string(tree.stmts_size()) +
                       " statements where one was expected",
                   true);

  KnownTables known{start_tables_, known_, joined_};
  Rewriter rw(names_, known, record);
  pg_query::Node& node = *tree.mutable_stmts(0)->mutable_stmt();
  Plan plan;
  plan.action = Plan::Action::replay;
  plan.what = what;
  Command c{record, rw, node, plan};

  // SELECT ... INTO t is CREATE TABLE t AS SELECT ...
  if (node.has_select_stmt() && node.select_stmt().has_into_clause()) {
    pg_query::SelectStmt select = node.select_stmt();
    pg_query::IntoClause into = select.into_clause();
    select.clear_into_clause();
    pg_query::CreateTableAsStmt ctas;
    *ctas.mutable_query()->mutable_select_stmt() = std::move(select);
    *ctas.mutable_into() = std::move(into);
    ctas.set_objtype(pg_query::OBJECT_TABLE);
    *node.mutable_create_table_as_stmt() = std::move(ctas);
    rw.changed = true;
  }

  Outcome outcome;
  switch (node.node_case()) {
    case pg_query::Node::kCreateStmt: outcome = plan_create_table(c); break;
    case pg_query::Node::kCreateTableAsStmt: outcome = plan_create_table_as(c); break;
    case pg_query::Node::kAlterTableStmt: outcome = plan_alter_table(c); break;
    case pg_query::Node::kRenameStmt: outcome = plan_rename(c); break;
    case pg_query::Node::kIndexStmt: outcome = plan_create_index(c); break;
    case pg_query::Node::kDropStmt: outcome = plan_drop(c); break;
    case pg_query::Node::kCreateSeqStmt:
    case pg_query::Node::kAlterSeqStmt: outcome = plan_sequence(c); break;
    case pg_query::Node::kCreateSchemaStmt: outcome = plan_create_schema(c); break;
    case pg_query::Node::kCommentStmt: outcome = plan_comment(c); break;
    case pg_query::Node::kGrantStmt: outcome = plan_grant(c); break;
    case pg_query::Node::kAlterDefaultPrivilegesStmt: outcome = plan_default_privileges(c); break;
    case pg_query::Node::kAlterOwnerStmt: outcome = plan_alter_owner(c); break;
    case pg_query::Node::kViewStmt: {
      auto& vs = *node.mutable_view_stmt();
      if (vs.view().relpersistence() == "t") return skipped("temporary view");
      std::string schema = rw.resolve(vs.view()).schema;
      rw.map_schema(vs.mutable_view());  // a view's own name is not a table's
      outcome = plan_schema_object(c, schema);
      break;
    }
    case pg_query::Node::kCreateFunctionStmt: {
      auto* name = node.mutable_create_function_stmt()->mutable_funcname();
      std::string schema = rw.object_schema(strings_of(*name));
      outcome = plan_schema_object(c, schema);
      if (!outcome) rw.qualify(name, schema);
      break;
    }
    case pg_query::Node::kAlterFunctionStmt: {
      auto* name = node.mutable_alter_function_stmt()->mutable_func()->mutable_objname();
      std::string schema = rw.object_schema(strings_of(*name));
      outcome = plan_schema_object(c, schema);
      if (!outcome) rw.qualify(name, schema);
      break;
    }
    case pg_query::Node::kCompositeTypeStmt: {
      auto& ct = *node.mutable_composite_type_stmt();
      std::string schema = rw.resolve(ct.typevar()).schema;
      rw.map_schema(ct.mutable_typevar());
      outcome = plan_schema_object(c, schema);
      break;
    }
    case pg_query::Node::kCreateEnumStmt:
    case pg_query::Node::kCreateRangeStmt:
    case pg_query::Node::kAlterEnumStmt:
    case pg_query::Node::kCreateDomainStmt:
    case pg_query::Node::kAlterDomainStmt: {
      pb::RepeatedPtrField<pg_query::Node>* name =
          node.has_create_enum_stmt()    ? node.mutable_create_enum_stmt()->mutable_type_name()
          : node.has_create_range_stmt() ? node.mutable_create_range_stmt()->mutable_type_name()
          : node.has_alter_enum_stmt()   ? node.mutable_alter_enum_stmt()->mutable_type_name()
          : node.has_create_domain_stmt()
              ? node.mutable_create_domain_stmt()->mutable_domainname()
              : node.mutable_alter_domain_stmt()->mutable_type_name();
      std::string schema = rw.object_schema(strings_of(*name));
      outcome = plan_schema_object(c, schema);
      if (!outcome) rw.qualify(name, schema);
      break;
    }
    case pg_query::Node::kDefineStmt: {
      auto& ds = *node.mutable_define_stmt();
      if (ds.kind() != pg_query::OBJECT_AGGREGATE && ds.kind() != pg_query::OBJECT_OPERATOR &&
          ds.kind() != pg_query::OBJECT_COLLATION && ds.kind() != pg_query::OBJECT_TYPE)
        return skipped("objects of this kind are not replayed");
      std::string schema = rw.object_schema(strings_of(ds.defnames()));
      outcome = plan_schema_object(c, schema);
      if (!outcome) rw.qualify(ds.mutable_defnames(), schema);
      break;
    }
    case pg_query::Node::kCreateStatsStmt: {
      auto& cs = *node.mutable_create_stats_stmt();
      if (cs.relations_size() != 1 || !cs.relations(0).has_range_var())
        return skipped("statistics over other than one table are not replayed");
      TableName t = rw.resolve(cs.relations(0).range_var());
      if (!in_task(t)) return skipped("table " + shown(t) + " is not in the task");
      rw.map_table(cs.mutable_relations(0)->mutable_range_var(), t);
      if (cs.defnames_size() > 0) rw.qualify(cs.mutable_defnames(), rw.object_schema(strings_of(cs.defnames())));
      rw.walk(&cs, &t);
      break;
    }
    case pg_query::Node::kTruncateStmt:
      return skipped("TRUNCATE travels as a change of its own");
    default:
      // Triggers, rules, policies, foreign tables, servers and user
      // mappings, extensions, event triggers, publications, subscriptions,
      // materialized views, casts, languages, operator classes, role
      // memberships, text search objects...: pgdts does not create them.
      return skipped("statements of this kind are not replayed (docs/ddl-replay.md lists those that are)");
  }
  if (outcome) return *outcome;

  plan.search_path = rw.mapped_search_path();
  plan.role = record.role();
  plan.role_superuser = record.role_superuser();
  // Records of a plugin that records settings also record the flag.
  plan.role_superuser_known = record.settings_size() > 0;
  for (const auto& s : record.settings())
    if (const char* name = adopted_setting(s.name())) plan.settings.emplace_back(name, s.value());
  try {
    plan.sql = rw.changed ? deparse(tree) : record.statement();
    // libpg_query's deparser drops what it cannot write (a type modifier
    // that is an expression became "key()", found by fuzzing): what it
    // wrote must read back, or the destination would stop on it.
    if (rw.changed) parse(plan.sql);
  } catch (const Error& e) {
    return skipped(std::string("its rewritten form cannot be written out: ") + e.what(), true);
  }
  return plan;
}

Planner::Outcome Planner::plan_create_table(Command& c) {
  auto& cs = *c.node.mutable_create_stmt();
  if (cs.relation().relpersistence() == "t") return skipped("temporary table");
  TableName t = c.rw.resolve(cs.relation());
  bool in = in_task(t);
  if (!in && cs.has_partbound() && cs.inh_relations_size() > 0 &&
      cs.inh_relations(0).has_range_var() && in_task(c.rw.resolve(cs.inh_relations(0).range_var()))) {
    joined_.insert(t);  // a partition of a table in the task
    in = true;
  }
  if (!in) return skipped("table " + shown(t) + " is not in the task");
  if (cs.has_of_typename()) return skipped("typed tables are not replayed", true);
  known_.insert(t);
  c.rw.map_table(cs.mutable_relation(), t);
  c.rw.walk(&cs, &t);
  return std::nullopt;
}

Planner::Outcome Planner::plan_create_table_as(Command& c) {
  auto& ctas = *c.node.mutable_create_table_as_stmt();
  if (ctas.objtype() == pg_query::OBJECT_MATVIEW) return skipped("materialized views are not replayed");
  if (ctas.into().rel().relpersistence() == "t") return skipped("temporary table");
  TableName t = c.rw.resolve(ctas.into().rel());
  if (!in_task(t)) return skipped("table " + shown(t) + " is not in the task");
  known_.insert(t);
  // Its rows follow in the stream as INSERTs.
  if (!ctas.into().skip_data()) {
    ctas.mutable_into()->set_skip_data(true);
    c.rw.changed = true;
  }
  c.rw.map_table(ctas.mutable_into()->mutable_rel(), t);
  c.rw.walk(&ctas, nullptr);
  return std::nullopt;
}

Planner::Outcome Planner::plan_alter_table(Command& c) {
  auto& at = *c.node.mutable_alter_table_stmt();
  if (at.objtype() != pg_query::OBJECT_TABLE) return plan_alter_relation_of_schema(c);
  TableName t = c.rw.resolve(at.relation());
  if (!in_task(t)) return skipped("table " + shown(t) + " is not in the task");
  auto* cmds = at.mutable_cmds();
  std::string dropped;
  for (int i = 0; i < cmds->size();) {
    auto& cmd = *(*cmds)[i].mutable_alter_table_cmd();
    if (!replayed_on_table(cmd.subtype(), options_.keep_owners)) {
      dropped += (dropped.empty() ? "" : ", ") + pg_query::AlterTableType_Name(cmd.subtype());
      cmds->DeleteSubrange(i, 1);
      c.rw.changed = true;
      continue;
    }
    if (cmd.subtype() == pg_query::AT_AttachPartition && cmd.has_def() &&
        cmd.def().has_partition_cmd()) {
      TableName child = c.rw.resolve(cmd.def().partition_cmd().name());
      if (!in_task(child)) joined_.insert(child);
    }
    if (names_a_column(cmd.subtype())) c.rw.map_column(t, cmd.mutable_name());
    ++i;
  }
  if (cmds->empty()) return skipped("none of its subcommands is replayed (" + dropped + ")");
  c.rw.map_table(at.mutable_relation(), t);
  c.rw.walk(&at, &t);
  return std::nullopt;
}

// ALTER INDEX, ALTER SEQUENCE, ALTER VIEW and the like.
Planner::Outcome Planner::plan_alter_relation_of_schema(Command& c) {
  auto& at = *c.node.mutable_alter_table_stmt();
  TableName o = c.rw.resolve(at.relation());
  bool in = false;
  switch (at.objtype()) {
    case pg_query::OBJECT_INDEX: in = index_in_task(o); break;
    case pg_query::OBJECT_SEQUENCE: in = sequence_in_task(o); break;
    case pg_query::OBJECT_VIEW: in = schema_object_in_task(o.schema); break;
    default: return skipped("objects of this kind are not replayed");
  }
  if (!in) return skipped(shown(o) + " does not belong to the task");
  auto* cmds = at.mutable_cmds();
  for (int i = 0; i < cmds->size();) {
    if (!replayed_on_relation(at.objtype(), (*cmds)[i].alter_table_cmd().subtype(), options_.keep_owners)) {
      cmds->DeleteSubrange(i, 1);
      c.rw.changed = true;
      continue;
    }
    ++i;
  }
  if (cmds->empty()) return skipped("none of its subcommands is replayed");
  c.rw.map_schema(at.mutable_relation());
  c.rw.walk(&at, nullptr);
  return std::nullopt;
}

Planner::Outcome Planner::plan_rename(Command& c) {
  auto& rs = *c.node.mutable_rename_stmt();
  switch (rs.rename_type()) {
    case pg_query::OBJECT_TABLE: {
      TableName from = c.rw.resolve(rs.relation());
      TableName to{from.schema, rs.newname()};
      bool in_from = in_task(from), in_to = selection_.includes(to);
      if (!in_from && !in_to) return skipped("table " + shown(from) + " is not in the task");
      if (!in_from)
        return skipped("table " + shown(from) + " was renamed into the task as " + shown(to) +
                           ", but the destination has no copy of it: copy it (schema and full "
                           "sync) to have it replicated",
                       true);
      c.rw.map_table(rs.mutable_relation(), from);
      c.rw.set(rs.mutable_newname(), names_.table(to).name);
      known_.erase(from);
      known_.insert(to);
      if (joined_.erase(from)) joined_.insert(to);
      return std::nullopt;
    }
    case pg_query::OBJECT_COLUMN:
    case pg_query::OBJECT_TABCONSTRAINT: {
      if (!rs.has_relation()) return skipped("objects of this kind are not replayed");
      TableName t = c.rw.resolve(rs.relation());
      if (rs.relation_type() == pg_query::OBJECT_VIEW) {
        if (!schema_object_in_task(t.schema)) return skipped(shown(t) + " does not belong to the task");
        c.rw.map_schema(rs.mutable_relation());
        return std::nullopt;
      }
      if (rs.relation_type() != pg_query::OBJECT_TABLE &&
          rs.relation_type() != pg_query::OBJECT_TYPE_UNDEFINED)
        return skipped("objects of this kind are not replayed");
      if (!in_task(t)) return skipped("table " + shown(t) + " is not in the task");
      if (rs.rename_type() == pg_query::OBJECT_COLUMN) {
        c.rw.set(rs.mutable_subname(), c.rw.column(t, rs.subname()));
        c.rw.set(rs.mutable_newname(), c.rw.column(t, rs.newname()));
      }
      c.rw.map_table(rs.mutable_relation(), t);
      return std::nullopt;
    }
    case pg_query::OBJECT_INDEX:
    case pg_query::OBJECT_SEQUENCE: {
      TableName o = c.rw.resolve(rs.relation());
      bool in = rs.rename_type() == pg_query::OBJECT_SEQUENCE ? sequence_in_task(o) : index_in_task(o);
      if (!in) return skipped(shown(o) + " does not belong to the task");
      if (owned_sequences_.erase(o)) owned_sequences_.insert({o.schema, rs.newname()});
      c.rw.map_schema(rs.mutable_relation());
      return std::nullopt;
    }
    case pg_query::OBJECT_VIEW: {
      TableName o = c.rw.resolve(rs.relation());
      if (!schema_object_in_task(o.schema)) return skipped(shown(o) + " does not belong to the task");
      c.rw.map_schema(rs.mutable_relation());
      return std::nullopt;
    }
    case pg_query::OBJECT_SCHEMA:
      return skipped("schema renames are not replayed: rename the schema on the destination and "
                     "map it (--map)",
                     selection_.includes_schema(rs.subname()));
    default: {
      if (!replayed_schema_object(rs.rename_type()) || !rs.has_object())
        return skipped("objects of this kind are not replayed");
      pb::RepeatedPtrField<pg_query::Node>* name = name_list(*rs.mutable_object());
      if (!name) return skipped("objects of this kind are not replayed");
      std::string schema = c.rw.object_schema(strings_of(*name));
      if (Outcome o = plan_schema_object(c, schema)) return o;
      c.rw.qualify(name, schema);
      return std::nullopt;
    }
  }
}

Planner::Outcome Planner::plan_create_index(Command& c) {
  auto& is = *c.node.mutable_index_stmt();
  TableName t = c.rw.resolve(is.relation());
  if (!in_task(t)) return skipped("table " + shown(t) + " is not in the task");
  if (!is.table_space().empty()) {  // the destination's own tablespaces
    is.clear_table_space();
    c.rw.changed = true;
  }
  if (is.idxname().empty()) {
    // the name the source chose: the destination's index is then named
    // alike, and a repeated CONCURRENTLY run finds it
    std::string name = c.rw.created_name();
    if (!name.empty()) c.rw.set(is.mutable_idxname(), name);
  }
  c.rw.map_table(is.mutable_relation(), t);
  c.rw.walk(&is, &t);
  if (is.concurrent()) {
    c.plan.action = Plan::Action::replay_alone;
    if (!is.idxname().empty()) {
      if (!is.if_not_exists()) {
        is.set_if_not_exists(true);
        c.rw.changed = true;
      }
      c.plan.index = pg::quote_identifier(names_.schema(t.schema)) + "." +
                     pg::quote_identifier(is.idxname());
    }
  }
  return std::nullopt;
}

// Every kind of DROP: each object it names is kept only when it is in the
// task, and written qualified with its mapped schema.
bool Planner::keep_schema(Command& c, pg_query::Node& obj) {
  std::string schema = obj.has_string() ? obj.string().sval() : "";
  if (!schema_object_in_task(schema)) return false;
  c.rw.set(obj.mutable_string()->mutable_sval(), names_.schema(schema));
  return true;
}

bool Planner::keep_schema_object(Command& c, pg_query::Node& obj) {
  pb::RepeatedPtrField<pg_query::Node>* name = name_list(obj);
  if (!name) return false;
  std::string schema = c.rw.object_schema(strings_of(*name));
  if (!schema_object_in_task(schema)) return false;
  c.rw.qualify(name, schema);
  return true;
}

Planner::Outcome Planner::plan_drop(Command& c) {
  auto& ds = *c.node.mutable_drop_stmt();
  pg_query::ObjectType kind = ds.remove_type();
  bool relation = kind == pg_query::OBJECT_TABLE || kind == pg_query::OBJECT_INDEX ||
                  kind == pg_query::OBJECT_SEQUENCE;
  if (!relation && kind != pg_query::OBJECT_SCHEMA && !replayed_schema_object(kind))
    return skipped("objects of this kind are not replayed");
  auto* objects = ds.mutable_objects();
  keep_objects(c.rw, objects, [&](pg_query::Node& obj) {
    if (kind == pg_query::OBJECT_SCHEMA) return keep_schema(c, obj);
    if (!relation || !obj.has_list()) return keep_schema_object(c, obj);
    auto* comps = obj.mutable_list()->mutable_items();
    TableName o = c.rw.resolve(strings_of(*comps));
    if (kind == pg_query::OBJECT_TABLE) {
      if (!in_task(o)) return false;
      c.rw.map_table(comps, o);
      known_.erase(o);
      joined_.erase(o);
      return true;
    }
    if (!(kind == pg_query::OBJECT_INDEX ? index_in_task(o) : sequence_in_task(o))) return false;
    c.rw.qualify(comps, o.schema);
    owned_sequences_.erase(o);
    return true;
  });
  if (objects->empty()) return skipped("no object it drops is in the task");
  if (ds.concurrent()) {
    c.plan.action = Plan::Action::replay_alone;
    if (!ds.missing_ok()) {
      ds.set_missing_ok(true);  // a repeated run finds it gone
      c.rw.changed = true;
    }
  }
  return std::nullopt;
}

Planner::Outcome Planner::plan_sequence(Command& c) {
  bool create = c.node.has_create_seq_stmt();
  pg_query::RangeVar* seq = create ? c.node.mutable_create_seq_stmt()->mutable_sequence()
                                   : c.node.mutable_alter_seq_stmt()->mutable_sequence();
  auto* options = create ? c.node.mutable_create_seq_stmt()->mutable_options()
                         : c.node.mutable_alter_seq_stmt()->mutable_options();
  if (seq->relpersistence() == "t") return skipped("temporary sequence");
  TableName s = c.rw.resolve(*seq);
  bool in = selection_.includes_schema(s.schema) || (!create && sequence_in_task(s));
  for (auto& opt : *options) {
    if (!opt.has_def_elem() || opt.def_elem().defname() != "owned_by" ||
        !opt.def_elem().has_arg() || !opt.def_elem().arg().has_list())
      continue;
    auto* comps = opt.mutable_def_elem()->mutable_arg()->mutable_list()->mutable_items();
    std::vector<std::string> parts = strings_of(*comps);
    if (parts.size() < 2) continue;  // OWNED BY NONE
    std::string col = parts.back();
    parts.pop_back();
    TableName t = c.rw.resolve(parts);
    if (in_task(t)) {
      in = true;
      owned_sequences_.insert(s);
      std::string mapped_col = c.rw.column(t, col);
      comps->RemoveLast();
      c.rw.map_table(comps, t);
      comps->Add()->mutable_string()->set_sval(mapped_col);
      if (mapped_col != col) c.rw.changed = true;
    }
    c.rw.skip_below(&opt);
  }
  if (!in) return skipped("sequence " + shown(s) + " does not belong to the task");
  c.rw.map_schema(seq);
  c.rw.walk(&c.node, nullptr);
  return std::nullopt;
}

Planner::Outcome Planner::plan_create_schema(Command& c) {
  auto& cs = *c.node.mutable_create_schema_stmt();
  if (cs.schemaname().empty() || !selection_.includes_schema(cs.schemaname()))
    return skipped("schema is not selected");
  if (cs.has_authrole() && !options_.keep_owners) {
    cs.clear_authrole();
    c.rw.changed = true;
  }
  // CREATE SCHEMA s CREATE TABLE ... CREATE TRIGGER ... GRANT ...: its own
  // elements go through the same list as statements of their own.
  auto* elts = cs.mutable_schema_elts();
  for (int i = 0; i < elts->size();) {
    const pg_query::Node& e = (*elts)[i];
    if (e.has_create_stmt() || e.has_index_stmt() || e.has_create_seq_stmt() || e.has_view_stmt()) {
      ++i;
      continue;
    }
    elts->DeleteSubrange(i, 1);
    c.rw.changed = true;
  }
  c.rw.set(cs.mutable_schemaname(), names_.schema(cs.schemaname()));
  c.rw.walk(&cs, nullptr);
  return std::nullopt;
}

Planner::Outcome Planner::plan_comment(Command& c) {
  auto& cs = *c.node.mutable_comment_stmt();
  if (!cs.has_object()) return skipped("objects of this kind are not replayed");
  pg_query::Node& obj = *cs.mutable_object();
  switch (cs.objtype()) {
    case pg_query::OBJECT_TABLE:
    case pg_query::OBJECT_COLUMN: {
      if (!obj.has_list()) return skipped("objects of this kind are not replayed");
      auto* comps = obj.mutable_list()->mutable_items();
      std::vector<std::string> parts = strings_of(*comps);
      std::string col;
      if (cs.objtype() == pg_query::OBJECT_COLUMN) {
        if (parts.size() < 2) return skipped("objects of this kind are not replayed");
        col = parts.back();
        parts.pop_back();
        comps->RemoveLast();
      }
      TableName t = c.rw.resolve(parts);
      if (!in_task(t)) return skipped("table " + shown(t) + " is not in the task");
      c.rw.map_table(comps, t);
      if (!col.empty()) {
        std::string mapped = c.rw.column(t, col);
        comps->Add()->mutable_string()->set_sval(mapped);
        if (mapped != col) c.rw.changed = true;
      }
      return std::nullopt;
    }
    case pg_query::OBJECT_INDEX:
    case pg_query::OBJECT_SEQUENCE: {
      if (!obj.has_list()) return skipped("objects of this kind are not replayed");
      auto* comps = obj.mutable_list()->mutable_items();
      TableName o = c.rw.resolve(strings_of(*comps));
      bool in = cs.objtype() == pg_query::OBJECT_INDEX ? index_in_task(o) : sequence_in_task(o);
      if (!in) return skipped(shown(o) + " does not belong to the task");
      c.rw.qualify(comps, o.schema);
      return std::nullopt;
    }
    case pg_query::OBJECT_SCHEMA: {
      std::string schema = obj.has_string() ? obj.string().sval() : "";
      if (!schema_object_in_task(schema)) return skipped("schema is not selected as a whole");
      c.rw.set(obj.mutable_string()->mutable_sval(), names_.schema(schema));
      return std::nullopt;
    }
    default: {
      if (!replayed_schema_object(cs.objtype())) return skipped("objects of this kind are not replayed");
      pb::RepeatedPtrField<pg_query::Node>* name = name_list(obj);
      if (!name) return skipped("objects of this kind are not replayed");
      std::string schema = c.rw.object_schema(strings_of(*name));
      if (Outcome o = plan_schema_object(c, schema)) return o;
      c.rw.qualify(name, schema);
      return std::nullopt;
    }
  }
}

// GRANT and REVOKE on objects of the task follow the source when owners do
// (roles are the same on both sides then); with --no-owner they are not
// replayed. Role memberships (GRANT role TO role) are global: never.
Planner::Outcome Planner::plan_grant(Command& c) {
  if (!options_.keep_owners)
    return skipped("privileges are not replayed with --no-owner");
  auto& gs = *c.node.mutable_grant_stmt();
  auto* objects = gs.mutable_objects();
  bool all_in_schema = gs.targtype() == pg_query::ACL_TARGET_ALL_IN_SCHEMA;
  if (gs.targtype() != pg_query::ACL_TARGET_OBJECT && !all_in_schema)
    return skipped("privileges of this kind are not replayed");
  keep_objects(c.rw, objects, [&](pg_query::Node& obj) {
    if (all_in_schema || gs.objtype() == pg_query::OBJECT_SCHEMA) return keep_schema(c, obj);
    if (!obj.has_range_var())
      return replayed_schema_object(gs.objtype()) && keep_schema_object(c, obj);
    // tables, sequences, views
    TableName o = c.rw.resolve(obj.range_var());
    bool keep = gs.objtype() == pg_query::OBJECT_SEQUENCE ? sequence_in_task(o)
                                                         : in_task(o) || schema_object_in_task(o.schema);
    if (!keep) return false;
    if (in_task(o)) {
      c.rw.map_table(obj.mutable_range_var(), o);
      // column privileges name the table's columns
      for (auto& p : *gs.mutable_privileges())
        if (p.has_access_priv()) c.rw.map_columns(o, p.mutable_access_priv()->mutable_cols());
    } else {
      c.rw.map_schema(obj.mutable_range_var());
    }
    return true;
  });
  if (objects->empty()) return skipped("no object it grants on is in the task");
  return std::nullopt;
}

// Only IN SCHEMA, for schemas of the task: without it the defaults apply to
// everything the role creates, in and out of the task.
Planner::Outcome Planner::plan_default_privileges(Command& c) {
  if (!options_.keep_owners)
    return skipped("privileges are not replayed with --no-owner");
  auto& ap = *c.node.mutable_alter_default_privileges_stmt();
  bool in_schema = false;
  for (auto& opt : *ap.mutable_options()) {
    if (!opt.has_def_elem() || opt.def_elem().defname() != "schemas") continue;
    in_schema = true;
    auto* schemas = opt.mutable_def_elem()->mutable_arg()->mutable_list()->mutable_items();
    for (int i = 0; i < schemas->size();) {
      std::string s = (*schemas)[i].has_string() ? (*schemas)[i].string().sval() : "";
      if (schema_object_in_task(s)) {
        c.rw.set((*schemas)[i].mutable_string()->mutable_sval(), names_.schema(s));
        ++i;
      } else {
        schemas->DeleteSubrange(i, 1);
        c.rw.changed = true;
      }
    }
    if (schemas->empty()) return skipped("none of its schemas is selected as a whole");
  }
  if (!in_schema)
    return skipped("default privileges without IN SCHEMA reach objects outside the task");
  return std::nullopt;
}

Planner::Outcome Planner::plan_alter_owner(Command& c) {
  if (!options_.keep_owners) return skipped("ownership is not replayed with --no-owner");
  auto& ao = *c.node.mutable_alter_owner_stmt();
  if (ao.object_type() == pg_query::OBJECT_SCHEMA) {
    std::string schema = ao.has_object() && ao.object().has_string() ? ao.object().string().sval() : "";
    if (!schema_object_in_task(schema)) return skipped("schema is not selected as a whole");
    c.rw.set(ao.mutable_object()->mutable_string()->mutable_sval(), names_.schema(schema));
    return std::nullopt;
  }
  if (!replayed_schema_object(ao.object_type()) || !ao.has_object())
    return skipped("objects of this kind are not replayed");
  pb::RepeatedPtrField<pg_query::Node>* name = name_list(*ao.mutable_object());
  if (!name) return skipped("objects of this kind are not replayed");
  std::string schema = c.rw.object_schema(strings_of(*name));
  if (Outcome o = plan_schema_object(c, schema)) return o;
  c.rw.qualify(name, schema);
  return std::nullopt;
}

Planner::Outcome Planner::plan_schema_object(Command& c, const std::string& schema) {
  if (schema.empty() || schema == "pg_temp" || is_system_schema(schema))
    return skipped("it is not about a table or an object in a schema of the task");
  if (!selection_.includes_schema(schema)) return skipped("schema " + schema + " is not selected as a whole");
  c.rw.walk(&c.node, nullptr);
  return std::nullopt;
}

}  // namespace pgdts::ddl
