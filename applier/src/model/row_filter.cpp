#include "model/row_filter.h"

#include "error.h"
#include "model/rule_text.h"
#include "pg/literals.h"

namespace pgdts::model {

RowFilter parse_row_filter(const std::string& text) {
  RuleText rule = split_rule(text, "--filter", 2, "schema.table");
  return {{rule.name[0], rule.name[1]}, rule.sql, text};
}

std::vector<RowFilter> parse_row_filters(const std::vector<std::string>& texts) {
  std::vector<RowFilter> filters;
  for (const auto& text : texts) {
    RowFilter f = parse_row_filter(text);
    if (find_filter(filters, f.table))
      throw UsageError("--filter: table " + model::display_name(f.table) +
                       " has two filters; combine their conditions with AND or OR in one");
    filters.push_back(std::move(f));
  }
  return filters;
}

const RowFilter* find_filter(const std::vector<RowFilter>& filters, const model::TableName& table) {
  for (const auto& f : filters)
    if (f.table == table) return &f;
  return nullptr;
}

const RowFilter* nearest_filter(const std::vector<RowFilter>& filters,
                                const std::vector<model::TableName>& names) {
  for (const auto& name : names)
    if (const RowFilter* f = find_filter(filters, name)) return f;
  return nullptr;
}

std::string where_condition(const RowFilter& filter) { return parenthesized(filter.condition); }

std::string plugin_option(const RowFilter& filter) {
  return pg::quote_identifier(filter.table.schema) + "." + pg::quote_identifier(filter.table.name) +
         " WHERE " + where_condition(filter);
}

}  // namespace pgdts::model
