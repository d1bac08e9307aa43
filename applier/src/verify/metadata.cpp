// Catalog comparison of verify (see metadata.h).
#include "verify/metadata.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "pg/connection.h"
#include "pg/literals.h"
#include "verify/tables.h"

namespace pgdts::verify {
namespace {

using schema::Column;
using schema::Constraint;
using schema::Index;
using schema::Table;
using model::TableName;

bool identifier_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool identifier_char(unsigned char c) { return identifier_start(c) || std::isdigit(c) || c == '$'; }

struct Token {
  enum Kind { identifier, space, other } kind;
  std::string text;  // identifiers: the name, unquoted
};

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      std::string name;
      while (j < s.size()) {
        if (s[j] == static_cast<char>(c)) {
          if (j + 1 < s.size() && s[j + 1] == static_cast<char>(c)) {
            name += s[j];
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        name += s[j++];
      }
      if (c == '"') out.push_back({Token::identifier, name});
      else out.push_back({Token::other, std::string(s.substr(i, j - i))});
      i = j;
    } else if (identifier_start(c)) {
      std::size_t j = i;
      while (j < s.size() && identifier_char(s[j])) ++j;
      out.push_back({Token::identifier, std::string(s.substr(i, j - i))});
      i = j;
    } else if (std::isspace(c)) {
      std::size_t j = i;
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back({Token::space, " "});
      i = j;
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      out.push_back({Token::other, "::"});
      i += 2;
    } else {
      out.push_back({Token::other, std::string(1, static_cast<char>(c))});
      ++i;
    }
  }
  return out;
}

// Source column name -> destination name, for the columns --map renames.
std::map<std::string, std::string> renames_of(const schema::SourceSchema& schema, const Table& table,
                                              const model::NameMap& names) {
  const Table& root = mapping_root(schema, table);
  std::map<std::string, std::string> out;
  for (const auto& c : table.columns) {
    std::string mapped = names.column(root.name, c.name);
    if (mapped != c.name) out[c.name] = mapped;
  }
  return out;
}

std::string mapped(const std::map<std::string, std::string>& renames, const std::string& column) {
  auto it = renames.find(column);
  return it == renames.end() ? column : it->second;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + pg::quote_identifier(i);
  return out;
}

// The type a destination column should have: a copied user type in its
// mapped schema, any other type as the source prints it.
std::string expected_type(const schema::TypeUse& type, const model::NameMap& names) {
  if (!type.user_type) return type.sql;
  return pg::quote_identifier(names.schema(type.user_type->schema)) + "." + pg::quote_identifier(type.user_type->name) + (type.array ? "[]" : "");
}

std::string actual_type(const schema::TypeUse& type) {
  if (!type.user_type) return type.sql;
  return pg::quote_identifier(type.user_type->schema) + "." + pg::quote_identifier(type.user_type->name) + (type.array ? "[]" : "");
}

std::string shown(const std::optional<std::string>& s) { return s ? *s : "none"; }

class Comparer {
 public:
  Comparer(const schema::SourceSchema& source, const schema::SourceSchema& target, const model::NameMap& names)
      : source_(source), target_(target), names_(names) {}

  std::vector<MetadataDifference> run() {
    for (const auto& t : source_.tables) {
      TableName dest_name = names_.table(t.name);
      const Table* d = target_.find(dest_name);
      object_ = "table " + model::display_name(t.name);
      if (!d) {
        if (t.relkind == 'p') add("missing on the destination (" + model::display_name(dest_name) + ")");
        continue;
      }
      auto renames = renames_of(source_, t, names_);
      columns(t, *d, renames);
      constraints(t, *d, renames);
      indexes(t, *d, renames);
    }
    return std::move(out_);
  }

 private:
  void add(std::string message) { out_.push_back({object_, std::move(message)}); }

  void columns(const Table& s, const Table& d, const std::map<std::string, std::string>& renames) {
    std::set<std::string> matched;
    for (const auto& c : s.columns) {
      std::string name = mapped(renames, c.name);
      auto it = std::find_if(d.columns.begin(), d.columns.end(), [&](const Column& x) { return x.name == name; });
      std::string label = "column " + pg::quote_identifier(c.name) + (name == c.name ? "" : " (" + pg::quote_identifier(name) + ")");
      if (it == d.columns.end()) {
        add(label + " missing on the destination");
        continue;
      }
      matched.insert(name);
      std::string want = expected_type(c.type, names_), got = actual_type(it->type);
      if (want != got) add(label + ": type " + got + " on the destination, " + c.type.sql + " on the source");
      if (c.not_null != it->not_null)
        add(label + ": " + (c.not_null ? "NOT NULL on the source only" : "NOT NULL on the destination only"));
      auto norm = [&](const std::optional<std::string>& e, const std::map<std::string, std::string>& r) {
        return e ? std::optional<std::string>(normalized_expression(*e, r)) : std::nullopt;
      };
      if (norm(c.default_expr, renames) != norm(it->default_expr, {}))
        add(label + ": " + (c.generated ? "generation expression" : "default") + " " + shown(it->default_expr) +
            " on the destination, " + shown(c.default_expr) + " on the source");
      if (c.identity != it->identity || c.generated != it->generated)
        add(label + ": identity or generated column on one side only");
      if (c.collation != it->collation)
        add(label + ": collation " + shown(it->collation) + " on the destination, " + shown(c.collation) +
            " on the source");
    }
    for (const auto& c : d.columns)
      if (!matched.count(c.name)) add("column " + pg::quote_identifier(c.name) + " only on the destination");
  }

  // A constraint as what it does, in destination names.
  std::string constraint_key(const Constraint& k, const std::map<std::string, std::string>& renames,
                             bool from_source) const {
    if (k.type != 'f') return std::string(1, k.type) + " " + normalized_expression(k.definition, renames);
    std::vector<std::string> cols, ref_cols;
    for (const auto& c : k.columns) cols.push_back(mapped(renames, c));
    TableName ref = k.referenced;
    if (from_source) {
      const Table* rt = source_.find(k.referenced);
      auto ref_renames = rt ? renames_of(source_, *rt, names_) : std::map<std::string, std::string>{};
      for (const auto& c : k.referenced_columns) ref_cols.push_back(mapped(ref_renames, c));
      ref = names_.table(k.referenced);
    } else {
      ref_cols = k.referenced_columns;
    }
    return "FOREIGN KEY (" + joined(cols) + ") REFERENCES " + pg::quote_identifier(ref.schema) + "." + pg::quote_identifier(ref.name) + " (" +
           joined(ref_cols) + ") " + k.on_update + k.on_delete + k.match + (k.deferrable ? " deferrable" : "") +
           (k.deferred ? " deferred" : "") + (k.validated ? "" : " not valid");
  }

  void constraints(const Table& s, const Table& d, const std::map<std::string, std::string>& renames) {
    std::multimap<std::string, const Constraint*> want, have;
    for (const auto& k : s.constraints) {
      // Schema sync leaves out foreign keys to tables outside the task.
      if (k.type == 'f' && !source_.find(k.referenced)) continue;
      want.emplace(constraint_key(k, renames, true), &k);
    }
    for (const auto& k : d.constraints) have.emplace(constraint_key(k, {}, false), &k);
    report_unmatched("constraint", want, have, [](const Constraint& k) { return k.definition; });
  }

  void indexes(const Table& s, const Table& d, const std::map<std::string, std::string>& renames) {
    std::multimap<std::string, const Index*> want, have;
    for (const auto& i : s.indexes)
      want.emplace(std::string(i.unique ? "unique " : "") + normalized_expression(i.method_and_keys, renames), &i);
    for (const auto& i : d.indexes)
      have.emplace(std::string(i.unique ? "unique " : "") + normalized_expression(i.method_and_keys, {}), &i);
    report_unmatched("index", want, have, [](const Index& i) { return i.method_and_keys; });
  }

  template <class T, class Describe>
  void report_unmatched(const char* kind, std::multimap<std::string, const T*>& want,
                        std::multimap<std::string, const T*>& have, Describe describe) {
    for (auto it = want.begin(); it != want.end();) {
      auto match = have.find(it->first);
      if (match != have.end()) {
        have.erase(match);
        it = want.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [key, obj] : want)
      add(std::string(kind) + " " + pg::quote_identifier(obj->name) + " (" + describe(*obj) + ") missing on the destination");
    for (const auto& [key, obj] : have)
      add(std::string(kind) + " " + pg::quote_identifier(obj->name) + " (" + describe(*obj) + ") only on the destination");
  }

  const schema::SourceSchema& source_;
  const schema::SourceSchema& target_;
  const model::NameMap& names_;
  std::string object_;
  std::vector<MetadataDifference> out_;
};

// last_value and is_called; nullopt when the relation does not exist.
std::optional<std::pair<std::int64_t, bool>> sequence_value(pg::Connection& conn, const TableName& name) {
  std::string qualified = conn.identifier(name.schema) + "." + conn.identifier(name.name);
  auto exists = conn.exec("SELECT pg_catalog.to_regclass($1) IS NOT NULL", {qualified.c_str()});
  if (exists.value(0, 0) != "t") return std::nullopt;
  auto r = conn.exec("SELECT last_value, is_called FROM " + qualified);
  return std::make_pair(pg::to_int64(r.value(0, 0)), r.value(0, 1) == "t");
}

}  // namespace

std::string normalized_expression(std::string_view text, const std::map<std::string, std::string>& renames) {
  std::vector<Token> tokens = tokenize(text);
  std::string out;
  std::string prev;  // the last token that is not white space
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind != Token::identifier) {
      out += t.text;
      if (t.kind != Token::space) prev = t.text;
      continue;
    }
    std::size_t j = i + 1;
    while (j < tokens.size() && tokens[j].kind == Token::space) ++j;
    bool before_call_or_dot = j < tokens.size() && tokens[j].kind == Token::other &&
                              (tokens[j].text == "(" || tokens[j].text == ".");
    std::string name = t.text;
    if (prev != "." && prev != "::" && !before_call_or_dot) name = mapped(renames, name);
    out += pg::quote_identifier(name);
    prev = "\"";
  }
  return out;
}

model::Selection mapped_selection(const schema::SourceSchema& source, const model::NameMap& names) {
  auto q = [](const std::string& n) { return pg::quote_identifier(n); };
  std::vector<std::string> schemas, tables;
  for (const auto& s : source.schemas) schemas.push_back(q(names.schema(s)));
  for (const auto& t : source.tables) {
    TableName d = names.table(t.name);
    tables.push_back(q(d.schema) + "." + q(d.name));
  }
  return model::Selection::parse(schemas, tables, {});
}

std::vector<MetadataDifference> compare_metadata(const schema::SourceSchema& source,
                                                 const schema::SourceSchema& target,
                                                 const model::NameMap& names) {
  return Comparer(source, target, names).run();
}

std::vector<SequenceResult> compare_sequences(pg::Connection& source, pg::Connection& target,
                                              const schema::SourceSchema& schema, const model::NameMap& names) {
  std::vector<SequenceResult> out;
  for (const auto& s : schema.sequences) {
    SequenceResult r;
    r.source = s.name;
    r.target = {names.schema(s.name.schema), s.name.name};
    auto src = sequence_value(source, r.source);
    auto dst = sequence_value(target, r.target);
    if (src && src->second) r.source_value = src->first;
    if (dst && dst->second) r.target_value = dst->first;
    if (!dst) {
      r.status = SequenceStatus::missing;
    } else if (src) {
      // Behind: the destination would hand out a value the source already
      // did. Compared in the direction of the increment.
      bool up = s.increment > 0;
      auto [sl, sc] = *src;
      auto [dl, dc] = *dst;
      bool behind = dl != sl ? (up ? dl < sl : dl > sl) : (!dc && sc);
      if (behind) r.status = SequenceStatus::behind;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace pgdts::verify
