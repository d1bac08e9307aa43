#include "ddl/rewriter.h"

#include <algorithm>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include "ddl/planner.h"

namespace pgdts::ddl {

using model::TableName;
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
    // a routine's identity ends in its argument types: "s.f(integer)"
    if (c == '(' && !in_quotes) break;
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

Rewriter::Rewriter(const model::NameMap& names, const KnownTables& known, const pgdts::Ddl& record)
    : names_(names), known_(known), record_(record) {
  path_ = split_search_path(record.search_path());
  for (auto& s : path_)
    if (s == "$user") s = record.role();
  for (const auto& id : record.object_identities()) identities_.push_back(split_identity(id));
}

std::string Rewriter::resolve_schema(const std::string& relname, bool* sure) const {
  *sure = true;
  for (const auto& r : record_.resolved())
    if (r.name() == relname && !r.schema().empty()) return r.schema();
  for (const auto& id : identities_)
    if (id.size() == 2 && id[1] == relname) return id[0];
  for (const auto& s : path_)
    if (known_.contains({s, relname})) return s;
  *sure = false;
  if (!record_.schema().empty() && record_.schema() != "pg_temp") return record_.schema();
  for (const auto& s : path_)
    if (!is_system_schema(s)) return s;
  return "public";
}

TableName Rewriter::resolve(const pg_query::RangeVar& rv) const {
  if (!rv.schemaname().empty()) return {rv.schemaname(), rv.relname()};
  bool sure;
  return {resolve_schema(rv.relname(), &sure), rv.relname()};
}

TableName Rewriter::resolve(const std::vector<std::string>& comps) const {
  if (comps.size() >= 2) return {comps[comps.size() - 2], comps.back()};
  std::string name = comps.empty() ? "" : comps.back();
  bool sure;
  return {resolve_schema(name, &sure), name};
}

std::string Rewriter::object_schema(const std::vector<std::string>& comps) const {
  if (comps.size() >= 2) return comps[comps.size() - 2];
  std::string name = comps.empty() ? "" : comps.back();
  for (const auto& id : identities_)
    if (id.size() >= 2 && id.back() == name) return id[id.size() - 2];
  return record_.schema();
}

void Rewriter::set(std::string* field, const std::string& value) {
  if (*field != value) {
    *field = value;
    changed = true;
  }
}

std::string Rewriter::column(const TableName& table, const std::string& name) const {
  if (name.empty()) return name;
  return names_.column(table, name);
}

void Rewriter::map_column(const TableName& table, std::string* name) { set(name, column(table, *name)); }

void Rewriter::map_columns(const TableName& table, pb::RepeatedPtrField<pg_query::Node>* items) {
  for (auto& n : *items)
    if (n.has_string()) map_column(table, n.mutable_string()->mutable_sval());
}

void Rewriter::map_table(pg_query::RangeVar* rv, const TableName& t) {
  TableName d = names_.table(t);
  bool sure = !rv->schemaname().empty();
  if (!sure) resolve_schema(rv->relname(), &sure);
  if (sure) set(rv->mutable_schemaname(), d.schema);
  set(rv->mutable_relname(), d.name);
  done_.insert(rv);
}

void Rewriter::map_schema(pg_query::RangeVar* rv) {
  bool sure = !rv->schemaname().empty();
  std::string schema = sure ? rv->schemaname() : resolve_schema(rv->relname(), &sure);
  if (sure && !is_system_schema(schema)) set(rv->mutable_schemaname(), names_.schema(schema));
  done_.insert(rv);
}

void Rewriter::map_table(pb::RepeatedPtrField<pg_query::Node>* comps, const TableName& t) {
  TableName d = names_.table(t);
  int n = comps->size();
  if (n >= 1 && (*comps)[n - 1].has_string())
    set((*comps)[n - 1].mutable_string()->mutable_sval(), d.name);
  if (n >= 2 && (*comps)[n - 2].has_string())
    set((*comps)[n - 2].mutable_string()->mutable_sval(), d.schema);
  else if (n == 1) {
    bool sure;
    resolve_schema(t.name, &sure);
    if (sure) {
      pg_query::Node schema;
      schema.mutable_string()->set_sval(d.schema);
      comps->Add(std::move(schema));
      std::rotate(comps->begin(), comps->end() - 1, comps->end());
      changed = true;
    }
  }
}

void Rewriter::qualify(pb::RepeatedPtrField<pg_query::Node>* comps, const std::string& source_schema) {
  if (source_schema.empty() || is_system_schema(source_schema)) return;
  std::string mapped = names_.schema(source_schema);
  int n = comps->size();
  if (n >= 2 && (*comps)[n - 2].has_string()) {
    set((*comps)[n - 2].mutable_string()->mutable_sval(), mapped);
    return;
  }
  if (n != 1) return;
  pg_query::Node schema;
  schema.mutable_string()->set_sval(mapped);
  comps->Add(std::move(schema));
  std::rotate(comps->begin(), comps->end() - 1, comps->end());
  changed = true;
}

void Rewriter::walk(pb::Message* m, const TableName* table) {
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
    auto* comps = tn->mutable_names();
    int n = comps->size();
    if (n >= 2 && (*comps)[n - 2].has_string()) {
      std::string* s = (*comps)[n - 2].mutable_string()->mutable_sval();
      if (!is_system_schema(*s)) set(s, names_.schema(*s));
    }
    return;
  }
  if (auto* fc = dynamic_cast<pg_query::FuncCall*>(m)) {
    auto* comps = fc->mutable_funcname();
    int n = comps->size();
    if (n >= 2 && (*comps)[n - 2].has_string()) {
      std::string* s = (*comps)[n - 2].mutable_string()->mutable_sval();
      if (!is_system_schema(*s)) set(s, names_.schema(*s));
    }
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

std::vector<std::string> Rewriter::mapped_search_path() const {
  std::vector<std::string> out;
  for (const auto& s : split_search_path(record_.search_path()))
    if (s != "pg_temp") out.push_back(s == "$user" || is_system_schema(s) ? s : names_.schema(s));
  // Temporary objects shadow nothing a replayed statement names.
  out.push_back("pg_temp");
  return out;
}

std::string Rewriter::created_name() const {
  for (const auto& id : identities_)
    if (id.size() == 2) return id[1];
  return {};
}

}  // namespace pgdts::ddl
