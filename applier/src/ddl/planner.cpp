#include "ddl/planner.h"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include "apply/statement_sql.h"
#include "ddl/parser.h"
#include "error.h"
#include "pg/lsn.h"

namespace pgdts::ddl {

using task::TableName;
namespace pb = google::protobuf;

std::vector<std::string> split_identity(const std::string& identity) {
  std::string_view s = identity;
  // "name on schema.table": a constraint, trigger, policy or rule
  if (auto on = s.rfind(" on "); on != std::string_view::npos && s.find('"') == std::string_view::npos)
    s = s.substr(on + 4);
  else if (on != std::string_view::npos) {
    // quotes may hold " on ": find the last " on " outside quotes
    bool in_quotes = false;
    std::size_t last = std::string_view::npos;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '"') in_quotes = !in_quotes;
      if (!in_quotes && s.substr(i, 4) == " on ") last = i;
    }
    if (last != std::string_view::npos) s = s.substr(last + 4);
  }
  std::vector<std::string> parts(1);
  bool in_quotes = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      if (in_quotes && i + 1 < s.size() && s[i + 1] == '"') {
        parts.back() += '"';
        ++i;
      } else {
        in_quotes = !in_quotes;
      }
      continue;
    }
    if (c == '.' && !in_quotes) {
      parts.emplace_back();
      continue;
    }
    parts.back() += c;
  }
  return parts;
}

std::vector<std::string> split_search_path(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  bool in_quotes = false, quoted = false;
  auto flush = [&] {
    // unquoted names are folded to lower case, as PostgreSQL does
    if (!quoted)
      std::transform(cur.begin(), cur.end(), cur.begin(),
                     [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
    if (!cur.empty() || quoted) out.push_back(cur);
    cur.clear();
    quoted = false;
  };
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '"') {
      if (in_quotes && i + 1 < path.size() && path[i + 1] == '"') {
        cur += '"';
        ++i;
      } else {
        in_quotes = !in_quotes;
        quoted = true;
      }
      continue;
    }
    if (!in_quotes && c == ',') {
      flush();
      continue;
    }
    if (!in_quotes && (c == ' ' || c == '\t' || c == '\n')) continue;
    cur += c;
  }
  flush();
  return out;
}

namespace {

bool is_system_schema(const std::string& s) {
  return s == "pg_catalog" || s == "information_schema" || s.rfind("pg_temp", 0) == 0 ||
         s.rfind("pg_toast", 0) == 0;
}

std::vector<std::string> strings_of(const pb::RepeatedPtrField<pg_query::Node>& items) {
  std::vector<std::string> out;
  for (const auto& n : items)
    if (n.has_string()) out.push_back(n.string().sval());
  return out;
}

}  // namespace

// Rewrites one statement's names, source to destination, and resolves the
// source tables it names.
class Rewriter {
 public:
  Rewriter(Planner& planner, const pgdts::Ddl& record)
      : p_(planner), names_(planner.names_), record_(record) {
    path_ = split_search_path(record.search_path());
    for (auto& s : path_)
      if (s == "$user") s = record.role();
    for (const auto& id : record.object_identities()) identities_.push_back(split_identity(id));
  }

  bool changed = false;

  // The source schema an unqualified relation name stands for.
  std::string resolve_schema(const std::string& relname) const {
    for (const auto& id : identities_)
      if (id.size() == 2 && id[1] == relname) return id[0];
    for (const auto& s : path_) {
      TableName t{s, relname};
      if (p_.known_.count(t) || p_.start_tables_.count(t) || p_.joined_.count(t)) return s;
    }
    if (!record_.schema().empty() && record_.schema() != "pg_temp") return record_.schema();
    for (const auto& s : path_)
      if (!is_system_schema(s)) return s;
    return "public";
  }

  TableName resolve(const pg_query::RangeVar& rv) const {
    if (!rv.schemaname().empty()) return {rv.schemaname(), rv.relname()};
    return {resolve_schema(rv.relname()), rv.relname()};
  }

  // A qualified name list (schema.name or name) of a relation.
  TableName resolve(const std::vector<std::string>& comps) const {
    if (comps.size() >= 2) return {comps[comps.size() - 2], comps.back()};
    return {resolve_schema(comps.empty() ? "" : comps.back()), comps.empty() ? "" : comps.back()};
  }

  void set(std::string* field, const std::string& value) {
    if (*field != value) {
      *field = value;
      changed = true;
    }
  }

  std::string column(const TableName& table, const std::string& name) {
    if (name.empty()) return name;
    return names_.column(table, name);
  }
  void map_column(const TableName& table, std::string* name) { set(name, column(table, *name)); }
  void map_columns(const TableName& table, pb::RepeatedPtrField<pg_query::Node>* items) {
    for (auto& n : *items)
      if (n.has_string()) map_column(table, n.mutable_string()->mutable_sval());
  }

  // A RangeVar naming the source table t.
  void map_table(pg_query::RangeVar* rv, const TableName& t) {
    TableName d = names_.table(t);
    if (!rv->schemaname().empty()) set(rv->mutable_schemaname(), d.schema);
    set(rv->mutable_relname(), d.name);
    done_.insert(rv);
  }
  // A RangeVar naming an index or a sequence: only its schema is mapped.
  void map_schema(pg_query::RangeVar* rv) {
    if (!rv->schemaname().empty()) set(rv->mutable_schemaname(), names_.schema(rv->schemaname()));
    done_.insert(rv);
  }
  // A name list of a relation (DROP TABLE's objects, OWNED BY).
  void map_table(pb::RepeatedPtrField<pg_query::Node>* comps, const TableName& t) {
    TableName d = names_.table(t);
    int n = comps->size();
    if (n >= 1 && (*comps)[n - 1].has_string())
      set((*comps)[n - 1].mutable_string()->mutable_sval(), d.name);
    if (n >= 2 && (*comps)[n - 2].has_string())
      set((*comps)[n - 2].mutable_string()->mutable_sval(), d.schema);
  }
  // A qualified name list of another object: its schema, when given.
  void map_schema(pb::RepeatedPtrField<pg_query::Node>* comps) {
    int n = comps->size();
    if (n >= 2 && (*comps)[n - 2].has_string()) {
      std::string* s = (*comps)[n - 2].mutable_string()->mutable_sval();
      if (!is_system_schema(*s)) set(s, names_.schema(*s));
    }
  }

  // Maps every name below m: tables in RangeVars, schemas of qualified
  // type and function names, and, with a table, the column names of it.
  void walk(pb::Message* m, const TableName* table) {
    if (done_.count(m)) return;
    if (auto* rv = dynamic_cast<pg_query::RangeVar*>(m)) {
      if (rv->relpersistence() != "t") map_table(rv, resolve(*rv));
      return;
    }
    if (auto* cr = dynamic_cast<pg_query::ColumnRef*>(m)) {
      if (table && cr->fields_size() == 1 && cr->fields(0).has_string())
        map_column(*table, cr->mutable_fields(0)->mutable_string()->mutable_sval());
      return;
    }
    if (auto* tn = dynamic_cast<pg_query::TypeName*>(m)) {
      map_schema(tn->mutable_names());
      return;
    }
    if (auto* fc = dynamic_cast<pg_query::FuncCall*>(m)) {
      map_schema(fc->mutable_funcname());
    } else if (auto* cd = dynamic_cast<pg_query::ColumnDef*>(m)) {
      if (table) map_column(*table, cd->mutable_colname());
    } else if (auto* ie = dynamic_cast<pg_query::IndexElem*>(m)) {
      if (table) map_column(*table, ie->mutable_name());
    } else if (auto* pe = dynamic_cast<pg_query::PartitionElem*>(m)) {
      if (table) map_column(*table, pe->mutable_name());
    } else if (auto* c = dynamic_cast<pg_query::Constraint*>(m)) {
      if (table) {
        map_columns(*table, c->mutable_keys());
        map_columns(*table, c->mutable_including());
        map_columns(*table, c->mutable_fk_attrs());
      }
      if (c->has_pktable()) {
        TableName pk = resolve(c->pktable());
        map_table(c->mutable_pktable(), pk);
        map_columns(pk, c->mutable_pk_attrs());
      }
    }
    const pb::Reflection* r = m->GetReflection();
    const pb::Descriptor* d = m->GetDescriptor();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      if (f->is_repeated()) {
        int n = r->FieldSize(*m, f);
        for (int k = 0; k < n; ++k) walk(r->MutableRepeatedMessage(m, f, k), table);
      } else if (r->HasField(*m, f)) {
        walk(r->MutableMessage(m, f), table);
      }
    }
  }

  void skip_below(const pb::Message* m) { done_.insert(m); }

  std::vector<std::string> mapped_search_path() const {
    std::vector<std::string> out;
    for (const auto& s : split_search_path(record_.search_path()))
      out.push_back(s == "$user" || is_system_schema(s) ? s : names_.schema(s));
    return out;
  }

  // The name the source gave the object the command created (an index
  // created without a name), from the record's identities.
  std::string created_name() const {
    for (const auto& id : identities_)
      if (id.size() == 2) return id[1];
    return {};
  }

 private:
  Planner& p_;
  const task::NameMap& names_;
  const pgdts::Ddl& record_;
  std::vector<std::string> path_;
  std::vector<std::vector<std::string>> identities_;
  std::unordered_set<const pb::Message*> done_;
};

Planner::Planner(const task::Selection& selection, const task::NameMap& names,
                 const std::set<TableName>& start_tables, DestinationLookup lookup)
    : selection_(selection), names_(names), start_tables_(start_tables), lookup_(std::move(lookup)) {}

void Planner::saw_table(const TableName& source) { known_.insert(source); }

bool Planner::owns_sequence(const TableName& s) const {
  // owned by a task table: seen in an OWNED BY, or the destination has it
  // (schema sync created it with its table; a replayed DDL did)
  return owned_sequences_.count(s) > 0 ||
         (lookup_.sequence_exists && lookup_.sequence_exists(names_.schema(s.schema), s.name));
}

bool Planner::in_task(const TableName& t) const {
  return selection_.includes(t) || start_tables_.count(t) > 0 || joined_.count(t) > 0;
}

namespace {

using Action = Plan::Action;

Plan skip(std::string reason, bool warn = false) {
  Plan p;
  p.action = Action::skip;
  p.reason = std::move(reason);
  p.warn = warn;
  return p;
}

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
    case pg_query::AT_AlterColumnGenericOptions:
    case pg_query::AT_AddIdentity:
    case pg_query::AT_SetIdentity:
    case pg_query::AT_DropIdentity:
      return true;
    default:
      return false;
  }
}

std::string shown(const TableName& t) { return task::display_name(t); }

}  // namespace

Plan Planner::plan(const pgdts::Ddl& record, std::uint64_t lsn) {
  std::string objects;
  for (const auto& id : record.object_identities()) {
    if (!objects.empty()) objects += ", ";
    objects += id;
  }
  std::string what = record.command_tag() + (objects.empty() ? "" : " " + objects);
  auto fail = [&](const std::string& why) {
    return Error("DDL " + what + " at source LSN " + pg::format_lsn(lsn) + " " + why);
  };

  if (!record.statement_exact())
    throw fail(
        "was captured without its text (it was the first DDL of a session that had not loaded "
        "pgdts, inside a function, procedure or DO block): pgdts cannot replay it. Run the command "
        "on the destination by hand, then move the task past this transaction, and add pgdts to "
        "session_preload_libraries on the source");

  pg_query::ParseResult tree;
  try {
    tree = parse(record.statement());
  } catch (const Error& e) {
    throw fail(std::string(e.what()) + "; statement: " + record.statement());
  }
  if (tree.stmts_size() != 1 || !tree.stmts(0).has_stmt())
    throw fail("holds " + std::to_string(tree.stmts_size()) +
               " statements where one was expected; statement: " + record.statement());

  Rewriter rw(*this, record);
  pg_query::Node& node = *tree.mutable_stmts(0)->mutable_stmt();
  Plan plan;
  plan.action = Action::replay;
  plan.what = what;

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

  // Other objects follow their schema: a skip, or nothing (then replayed).
  auto generic = [&](const std::string& schema) -> std::optional<Plan> {
    if (schema.empty() || schema == "pg_temp")
      return skip("it is not about a table or an object in a schema of the task");
    if (!selection_.includes_schema(schema))
      return skip("schema " + schema + " is not selected as a whole");
    rw.walk(&node, nullptr);
    return std::nullopt;
  };

  switch (node.node_case()) {
    case pg_query::Node::kCreateStmt: {
      auto& cs = *node.mutable_create_stmt();
      if (cs.relation().relpersistence() == "t") return skip("temporary table");
      TableName t = rw.resolve(cs.relation());
      bool in = in_task(t);
      if (!in && cs.has_partbound() && cs.inh_relations_size() > 0 &&
          cs.inh_relations(0).has_range_var() && in_task(rw.resolve(cs.inh_relations(0).range_var()))) {
        joined_.insert(t);  // a partition of a table in the task
        in = true;
      }
      if (!in) return skip("table " + shown(t) + " is not in the task");
      known_.insert(t);
      rw.map_table(cs.mutable_relation(), t);
      rw.walk(&cs, &t);
      break;
    }
    case pg_query::Node::kCreateTableAsStmt: {
      auto& ctas = *node.mutable_create_table_as_stmt();
      if (ctas.objtype() == pg_query::OBJECT_MATVIEW)
        return skip("materialized views are not replayed");
      if (ctas.into().rel().relpersistence() == "t") return skip("temporary table");
      TableName t = rw.resolve(ctas.into().rel());
      if (!in_task(t)) return skip("table " + shown(t) + " is not in the task");
      known_.insert(t);
      // Its rows follow in the stream as INSERTs.
      if (!ctas.into().skip_data()) {
        ctas.mutable_into()->set_skip_data(true);
        rw.changed = true;
      }
      rw.map_table(ctas.mutable_into()->mutable_rel(), t);
      rw.walk(&ctas, nullptr);
      break;
    }
    case pg_query::Node::kAlterTableStmt: {
      auto& at = *node.mutable_alter_table_stmt();
      switch (at.objtype()) {
        case pg_query::OBJECT_TABLE: {
          TableName t = rw.resolve(at.relation());
          if (!in_task(t)) return skip("table " + shown(t) + " is not in the task");
          auto* cmds = at.mutable_cmds();
          for (int i = 0; i < cmds->size();) {
            auto& cmd = *(*cmds)[i].mutable_alter_table_cmd();
            if (cmd.subtype() == pg_query::AT_ChangeOwner) {  // roles differ between clusters
              cmds->DeleteSubrange(i, 1);
              rw.changed = true;
              continue;
            }
            if (cmd.subtype() == pg_query::AT_AttachPartition && cmd.has_def() &&
                cmd.def().has_partition_cmd()) {
              TableName child = rw.resolve(cmd.def().partition_cmd().name());
              if (!in_task(child)) joined_.insert(child);
            }
            if (names_a_column(cmd.subtype())) rw.map_column(t, cmd.mutable_name());
            ++i;
          }
          if (cmds->empty()) return skip("ownership is not replayed");
          rw.map_table(at.mutable_relation(), t);
          rw.walk(&at, &t);
          break;
        }
        case pg_query::OBJECT_INDEX:
        case pg_query::OBJECT_SEQUENCE: {
          TableName o = rw.resolve(at.relation());
          bool in = selection_.includes_schema(o.schema) ||
                    (at.objtype() == pg_query::OBJECT_SEQUENCE ? owns_sequence(o)
                     : lookup_.index_exists &&
                           lookup_.index_exists(names_.schema(o.schema), o.name));
          if (!in) return skip(shown(o) + " does not belong to the task");
          rw.map_schema(at.mutable_relation());
          rw.walk(&at, nullptr);
          break;
        }
        case pg_query::OBJECT_FOREIGN_TABLE:
          return skip("foreign tables are not replayed");
        default:
          if (auto p = generic(rw.resolve(at.relation()).schema)) return *p;
      }
      break;
    }
    case pg_query::Node::kRenameStmt: {
      auto& rs = *node.mutable_rename_stmt();
      switch (rs.rename_type()) {
        case pg_query::OBJECT_TABLE: {
          TableName from = rw.resolve(rs.relation());
          TableName to{from.schema, rs.newname()};
          bool in_from = in_task(from), in_to = selection_.includes(to);
          if (!in_from && !in_to) return skip("table " + shown(from) + " is not in the task");
          if (!in_from)
            return skip("table " + shown(from) + " was renamed into the task as " + shown(to) +
                            ", but the destination has no copy of it: copy it (schema and full "
                            "sync) to have it replicated",
                        true);
          rw.map_table(rs.mutable_relation(), from);
          rw.set(rs.mutable_newname(), names_.table(to).name);
          known_.erase(from);
          known_.insert(to);
          if (joined_.erase(from)) joined_.insert(to);
          break;
        }
        case pg_query::OBJECT_COLUMN:
        case pg_query::OBJECT_TABCONSTRAINT:
        case pg_query::OBJECT_TRIGGER:
        case pg_query::OBJECT_POLICY:
        case pg_query::OBJECT_RULE: {
          if (!rs.has_relation()) {
            if (auto p = generic(record.schema())) return *p;
            break;
          }
          TableName t = rw.resolve(rs.relation());
          if (rs.relation_type() != pg_query::OBJECT_TABLE &&
              rs.relation_type() != pg_query::OBJECT_TYPE_UNDEFINED) {
            if (auto p = generic(t.schema)) return *p;
            break;
          }
          if (!in_task(t)) return skip("table " + shown(t) + " is not in the task");
          if (rs.rename_type() == pg_query::OBJECT_COLUMN) {
            rw.set(rs.mutable_subname(), rw.column(t, rs.subname()));
            rw.set(rs.mutable_newname(), rw.column(t, rs.newname()));
          }
          rw.map_table(rs.mutable_relation(), t);
          break;
        }
        case pg_query::OBJECT_INDEX:
        case pg_query::OBJECT_SEQUENCE: {
          TableName o = rw.resolve(rs.relation());
          bool in = selection_.includes_schema(o.schema) ||
                    (rs.rename_type() == pg_query::OBJECT_SEQUENCE
                         ? owns_sequence(o)
                         : lookup_.index_exists &&
                               lookup_.index_exists(names_.schema(o.schema), o.name));
          if (!in) return skip(shown(o) + " does not belong to the task");
          if (owned_sequences_.erase(o)) owned_sequences_.insert({o.schema, rs.newname()});
          rw.map_schema(rs.mutable_relation());
          break;
        }
        case pg_query::OBJECT_SCHEMA:
          return skip("schema renames are not replayed: rename the schema on the destination and "
                      "map it (--map)",
                      selection_.includes_schema(rs.subname()));
        default:
          if (auto p = generic(record.schema())) return *p;
      }
      break;
    }
    case pg_query::Node::kIndexStmt: {
      auto& is = *node.mutable_index_stmt();
      TableName t = rw.resolve(is.relation());
      if (!in_task(t)) return skip("table " + shown(t) + " is not in the task");
      if (is.idxname().empty()) {
        // the name the source chose: the destination's index is then
        // named alike, and a repeated CONCURRENTLY run finds it
        std::string name = rw.created_name();
        if (!name.empty()) rw.set(is.mutable_idxname(), name);
      }
      rw.map_table(is.mutable_relation(), t);
      rw.walk(&is, &t);
      if (is.concurrent()) {
        plan.action = Action::replay_alone;
        if (!is.idxname().empty()) {
          if (!is.if_not_exists()) {
            is.set_if_not_exists(true);
            rw.changed = true;
          }
          plan.index = apply::quote_identifier(names_.schema(t.schema)) + "." +
                       apply::quote_identifier(is.idxname());
        }
      }
      break;
    }
    case pg_query::Node::kDropStmt: {
      auto& ds = *node.mutable_drop_stmt();
      auto* objects = ds.mutable_objects();
      std::string kind;
      switch (ds.remove_type()) {
        case pg_query::OBJECT_TABLE:
        case pg_query::OBJECT_INDEX:
        case pg_query::OBJECT_SEQUENCE:
        case pg_query::OBJECT_SCHEMA:
          break;
        case pg_query::OBJECT_FOREIGN_TABLE:
        case pg_query::OBJECT_EXTENSION:
        case pg_query::OBJECT_EVENT_TRIGGER:
          return skip("its objects are not replayed");
        default:
          if (auto p = generic(record.schema())) return *p;
          objects = nullptr;
      }
      if (!objects) break;
      for (int i = 0; i < objects->size();) {
        auto& obj = (*objects)[i];
        if (!obj.has_list()) {  // DROP SCHEMA s: a String
          if (ds.remove_type() == pg_query::OBJECT_SCHEMA && obj.has_string()) {
            kind = "schema";
            if (!selection_.includes_schema(obj.string().sval())) {
              objects->DeleteSubrange(i, 1);
              rw.changed = true;
              continue;
            }
            rw.set(obj.mutable_string()->mutable_sval(), names_.schema(obj.string().sval()));
          }
          ++i;
          continue;
        }
        auto* comps = obj.mutable_list()->mutable_items();
        TableName o = rw.resolve(strings_of(*comps));
        bool keep = false;
        switch (ds.remove_type()) {
          case pg_query::OBJECT_TABLE:
            kind = "table";
            keep = in_task(o);
            if (keep) {
              rw.map_table(comps, o);
              known_.erase(o);
              joined_.erase(o);
            }
            break;
          case pg_query::OBJECT_INDEX:
            kind = "index";
            keep = selection_.includes_schema(o.schema) ||
                   (lookup_.index_exists && lookup_.index_exists(names_.schema(o.schema), o.name));
            if (keep) rw.map_schema(comps);
            break;
          case pg_query::OBJECT_SEQUENCE:
            kind = "sequence";
            keep = selection_.includes_schema(o.schema) || owns_sequence(o);
            if (keep) {
              rw.map_schema(comps);
              owned_sequences_.erase(o);
            }
            break;
          case pg_query::OBJECT_SCHEMA:
            kind = "schema";
            keep = selection_.includes_schema(comps->empty() ? "" : comps->Get(0).string().sval());
            if (keep && !comps->empty())
              rw.set((*comps)[0].mutable_string()->mutable_sval(),
                     names_.schema((*comps)[0].string().sval()));
            break;
          default:
            break;
        }
        if (keep) {
          ++i;
        } else {
          objects->DeleteSubrange(i, 1);
          rw.changed = true;
        }
      }
      if (objects->empty()) return skip("no " + (kind.empty() ? "object" : kind) + " it drops is in the task");
      if (ds.concurrent()) {
        plan.action = Action::replay_alone;
        if (!ds.missing_ok()) {
          ds.set_missing_ok(true);  // a repeated run finds it gone
          rw.changed = true;
        }
      }
      break;
    }
    case pg_query::Node::kCreateSeqStmt:
    case pg_query::Node::kAlterSeqStmt: {
      bool create = node.has_create_seq_stmt();
      pg_query::RangeVar* seq = create ? node.mutable_create_seq_stmt()->mutable_sequence()
                                       : node.mutable_alter_seq_stmt()->mutable_sequence();
      auto* options = create ? node.mutable_create_seq_stmt()->mutable_options()
                             : node.mutable_alter_seq_stmt()->mutable_options();
      if (seq->relpersistence() == "t") return skip("temporary sequence");
      TableName s = rw.resolve(*seq);
      bool in = selection_.includes_schema(s.schema) || (!create && owns_sequence(s));
      for (auto& opt : *options) {
        if (!opt.has_def_elem() || opt.def_elem().defname() != "owned_by" ||
            !opt.def_elem().has_arg() || !opt.def_elem().arg().has_list())
          continue;
        auto* comps = opt.mutable_def_elem()->mutable_arg()->mutable_list()->mutable_items();
        std::vector<std::string> parts = strings_of(*comps);
        if (parts.size() < 2) continue;  // OWNED BY NONE
        std::string col = parts.back();
        parts.pop_back();
        TableName t = rw.resolve(parts);
        if (in_task(t)) {
          in = true;
          owned_sequences_.insert(s);
          std::string mapped_col = rw.column(t, col);
          comps->RemoveLast();
          rw.map_table(comps, t);
          comps->Add()->mutable_string()->set_sval(mapped_col);
          if (mapped_col != col) rw.changed = true;
        }
        rw.skip_below(&opt);
      }
      if (!in) return skip("sequence " + shown(s) + " does not belong to the task");
      rw.map_schema(seq);
      rw.walk(&node, nullptr);
      break;
    }
    case pg_query::Node::kCreateSchemaStmt: {
      auto& cs = *node.mutable_create_schema_stmt();
      if (cs.schemaname().empty() || !selection_.includes_schema(cs.schemaname()))
        return skip("schema is not selected");
      if (cs.has_authrole()) {  // roles differ between clusters
        cs.clear_authrole();
        rw.changed = true;
      }
      rw.set(cs.mutable_schemaname(), names_.schema(cs.schemaname()));
      rw.walk(&cs, nullptr);
      break;
    }
    case pg_query::Node::kTruncateStmt:
      return skip("TRUNCATE travels as a change of its own");
    case pg_query::Node::kGrantStmt:
    case pg_query::Node::kGrantRoleStmt:
    case pg_query::Node::kAlterDefaultPrivilegesStmt:
    case pg_query::Node::kAlterOwnerStmt:
      return skip("privileges and ownership are not replayed (roles differ between clusters)");
    case pg_query::Node::kCreateExtensionStmt:
    case pg_query::Node::kAlterExtensionStmt:
    case pg_query::Node::kAlterExtensionContentsStmt:
      return skip("extensions are not replayed: install them on the destination");
    case pg_query::Node::kCreateEventTrigStmt:
    case pg_query::Node::kAlterEventTrigStmt:
    case pg_query::Node::kRefreshMatViewStmt:
    case pg_query::Node::kCreatePublicationStmt:
    case pg_query::Node::kAlterPublicationStmt:
    case pg_query::Node::kCreateSubscriptionStmt:
    case pg_query::Node::kAlterSubscriptionStmt:
    case pg_query::Node::kDropSubscriptionStmt:
      return skip("not replayed");
    default:
      if (auto p = generic(record.schema())) return *p;
      break;
  }

  plan.search_path = rw.mapped_search_path();
  try {
    plan.sql = rw.changed ? deparse(tree) : record.statement();
  } catch (const Error& e) {
    throw fail(std::string(e.what()) + "; statement: " + record.statement());
  }
  return plan;
}

}  // namespace pgdts::ddl
