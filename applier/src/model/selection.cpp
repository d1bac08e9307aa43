#include "model/selection.h"

#include <algorithm>
#include <cctype>

#include "error.h"
#include "pg/literals.h"

namespace pgdts::model {
namespace {

// Splits on a separator outside double quotes, keeping the quotes.
std::vector<std::string> split_outside_quotes(const std::string& text, char separator) {
  std::vector<std::string> parts(1);
  bool in_quotes = false;
  for (char c : text) {
    if (c == '"') in_quotes = !in_quotes;
    if (c == separator && !in_quotes) {
      parts.emplace_back();
      continue;
    }
    parts.back() += c;
  }
  return parts;
}

std::string trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> comma_items(const std::vector<std::string>& entries,
                                     const std::string& option) {
  std::vector<std::string> items;
  for (const auto& entry : entries)
    for (auto& item : split_outside_quotes(entry, ',')) {
      item = trimmed(item);
      if (item.empty()) throw UsageError(option + " \"" + entry + "\" has an empty entry");
      items.push_back(item);
    }
  return items;
}

std::string folded(std::string name, CasePolicy policy) {
  if (policy == CasePolicy::lower)
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (policy == CasePolicy::upper)
    for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// What '*' matched when pattern (one '*') matches text.
std::optional<std::string> star_match(const std::string& pattern, const std::string& text) {
  auto star = pattern.find('*');
  if (star == std::string::npos)
    return pattern == text ? std::optional<std::string>("") : std::nullopt;
  std::string prefix = pattern.substr(0, star), suffix = pattern.substr(star + 1);
  if (text.size() < prefix.size() + suffix.size()) return std::nullopt;
  if (text.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  if (text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  return text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
}

}  // namespace

std::string display_name(const TableName& table) {
  return pg::quote_identifier_if_needed(table.schema) + "." + pg::quote_identifier_if_needed(table.name);
}

std::vector<std::string> split_dotted(const std::string& text, const std::string& option) {
  std::vector<std::string> parts;
  std::string current;
  bool in_quotes = false, was_quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        current += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        current += c;
      }
    } else if (c == '"') {
      in_quotes = was_quoted = true;
    } else if (c == '.') {
      if (current.empty() && !was_quoted)
        throw UsageError(option + " \"" + text + "\" has an empty name");
      parts.push_back(current);
      current.clear();
      was_quoted = false;
    } else {
      current += c;
    }
  }
  if (in_quotes) throw UsageError(option + " \"" + text + "\" has an unclosed double quote");
  if (current.empty() && !was_quoted)
    throw UsageError(option + " \"" + text + "\" has an empty name");
  parts.push_back(current);
  return parts;
}

bool glob_match(const std::string& pattern, const std::string& text) {
  // Iterative wildcard match with backtracking to the last '*'.
  std::size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

NameMap NameMap::parse(const std::vector<std::string>& rules, CasePolicy policy) {
  NameMap m;
  m.policy_ = policy;
  for (const auto& rule : comma_items(rules, "--map")) {
    auto sides = split_outside_quotes(rule, '=');
    if (sides.size() != 2)
      throw UsageError("--map \"" + rule + "\" must be OLD=NEW (a schema, schema.table or "
                       "schema.table.column on the left, the new name on the right)");
    std::vector<std::string> from = split_dotted(trimmed(sides[0]), "--map");
    std::vector<std::string> to = split_dotted(trimmed(sides[1]), "--map");
    if (from.size() > 3)
      throw UsageError("--map \"" + rule + "\": the left side has " + std::to_string(from.size()) +
                       " parts; use schema, schema.table or schema.table.column");
    if (to.size() != 1)
      throw UsageError("--map \"" + rule + "\": the right side is a single new name (a table "
                       "stays in its schema's mapped schema; map the schema to move it)");
    bool bulk = std::any_of(from.begin(), from.end(),
                            [](const std::string& p) { return p.find('*') != std::string::npos; });
    if (!bulk) {
      if (to[0].find('*') != std::string::npos)
        throw UsageError("--map \"" + rule + "\": '*' on the right needs one on the left");
      if (!m.exact_.emplace(from, to[0]).second)
        throw UsageError("--map names \"" + sides[0] + "\" twice");
      continue;
    }
    for (std::size_t i = 0; i + 1 < from.size(); ++i)
      if (from[i] != "*" && from[i].find('*') != std::string::npos)
        throw UsageError("--map \"" + rule + "\": only the last part may be a pattern; an "
                         "earlier part is a name or '*'");
    if (std::count(from.back().begin(), from.back().end(), '*') > 1 ||
        std::count(to[0].begin(), to[0].end(), '*') > 1)
      throw UsageError("--map \"" + rule + "\": use at most one '*' per side");
    m.bulk_.push_back({from, to[0]});
  }
  return m;
}

std::string NameMap::mapped(const std::vector<std::string>& path) const {
  if (auto it = exact_.find(path); it != exact_.end()) return it->second;
  for (const auto& rule : bulk_) {
    if (rule.from.size() != path.size()) continue;
    bool prefix_matches = true;
    for (std::size_t i = 0; i + 1 < path.size(); ++i)
      if (rule.from[i] != "*" && rule.from[i] != path[i]) prefix_matches = false;
    if (!prefix_matches) continue;
    auto matched = star_match(rule.from.back(), path.back());
    if (!matched) continue;
    std::string out = rule.to;
    if (auto star = out.find('*'); star != std::string::npos) out.replace(star, 1, *matched);
    return spelled(out);
  }
  return spelled(path.back());
}

std::string NameMap::spelled(std::string name) const { return folded(std::move(name), policy_); }

std::string NameMap::schema(const std::string& schema) const { return mapped({schema}); }

TableName NameMap::table(const TableName& source) const {
  return {schema(source.schema), mapped({source.schema, source.name})};
}

std::string NameMap::column(const TableName& table, const std::string& column) const {
  return mapped({table.schema, table.name, column});
}

Selection Selection::from_args(const std::vector<std::string>& object_args) {
  std::vector<std::string> schemas, tables, exclude;
  for (const std::string& arg : object_args) {
    auto value_of = [&](const char* option) -> std::optional<std::string> {
      std::string prefix = std::string("--") + option + "=";
      if (arg.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
      return arg.substr(prefix.size());
    };
    if (auto v = value_of("schemas")) schemas.push_back(*v);
    else if (auto v = value_of("tables")) tables.push_back(*v);
    else if (auto v = value_of("exclude")) exclude.push_back(*v);
  }
  return parse(schemas, tables, exclude);
}

Selection Selection::parse(const std::vector<std::string>& schemas,
                           const std::vector<std::string>& tables,
                           const std::vector<std::string>& exclude) {
  Selection s;
  for (const auto& item : comma_items(schemas, "--schemas")) {
    auto parts = split_dotted(item, "--schemas");
    if (parts.size() != 1)
      throw UsageError("--schemas \"" + item + "\" is not a schema name; put tables in --tables");
    s.schemas_.push_back(parts[0]);
  }
  for (const auto& item : comma_items(tables, "--tables")) {
    auto parts = split_dotted(item, "--tables");
    if (parts.size() != 2)
      throw UsageError("--tables \"" + item + "\" must be schema.table");
    s.tables_.push_back({parts[0], parts[1]});
  }
  for (const auto& item : comma_items(exclude, "--exclude")) {
    auto parts = split_dotted(item, "--exclude");
    if (parts.size() > 2)
      throw UsageError("--exclude \"" + item + "\" must be a schema or schema.table");
    s.exclude_.push_back({parts[0], parts.size() == 2 ? parts[1] : std::string()});
  }
  return s;
}

bool Selection::excluded(const TableName& table) const {
  for (const auto& e : exclude_) {
    if (!glob_match(e.schema, table.schema)) continue;
    if (e.name.empty() || glob_match(e.name, table.name)) return true;
  }
  return false;
}

bool Selection::includes(const TableName& table) const {
  if (excluded(table)) return false;
  if (selects_everything()) return true;
  if (std::find(schemas_.begin(), schemas_.end(), table.schema) != schemas_.end()) return true;
  return std::find(tables_.begin(), tables_.end(), table) != tables_.end();
}

bool Selection::includes_schema(const std::string& schema) const {
  for (const auto& e : exclude_)
    if (e.name.empty() && glob_match(e.schema, schema)) return false;
  if (selects_everything()) return true;
  return std::find(schemas_.begin(), schemas_.end(), schema) != schemas_.end();
}

}  // namespace pgdts::model
