#include "model/transform.h"

#include <algorithm>

#include <algorithm>

#include "error.h"
#include "model/rule_text.h"
#include "pg/literals.h"

namespace pgdts::model {

ColumnTransform parse_transform(const std::string& text) {
  RuleText rule = split_rule(text, "--transform", 3, "schema.table.column");
  return {{rule.name[0], rule.name[1]}, rule.name[2], rule.sql, text};
}

std::vector<ColumnTransform> parse_transforms(const std::vector<std::string>& texts) {
  std::vector<ColumnTransform> out;
  for (const auto& text : texts) {
    ColumnTransform t = parse_transform(text);
    if (find_transform(out, t.table, t.column))
      throw UsageError("--transform: column " + t.column + " of " + model::display_name(t.table) +
                       " has two expressions; give it one");
    out.push_back(std::move(t));
  }
  return out;
}

const ColumnTransform* find_transform(const std::vector<ColumnTransform>& transforms,
                                      const model::TableName& table, const std::string& column) {
  for (const auto& t : transforms)
    if (t.table == table && t.column == column) return &t;
  return nullptr;
}

const ColumnTransform* nearest_transform(const std::vector<ColumnTransform>& transforms,
                                         const std::vector<model::TableName>& names,
                                         const std::string& column) {
  for (const auto& name : names)
    if (const ColumnTransform* t = find_transform(transforms, name, column)) return t;
  return nullptr;
}

bool any_transform(const std::vector<ColumnTransform>& transforms,
                   const std::vector<model::TableName>& names) {
  for (const auto& t : transforms)
    if (std::find(names.begin(), names.end(), t.table) != names.end()) return true;
  return false;
}

std::string select_expression(const ColumnTransform& t) { return parenthesized(t.expression); }

std::string plugin_option(const ColumnTransform& t) {
  return select_expression(t) + " AS " + pg::quote_identifier(t.column) + " FROM " +
         pg::quote_identifier(t.table.schema) + "." + pg::quote_identifier(t.table.name);
}

}  // namespace pgdts::model
