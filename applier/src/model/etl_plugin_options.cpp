#include "model/etl_plugin_options.h"

#include <algorithm>

namespace pgdts::model {

std::vector<std::pair<std::string, std::string>> plugin_options(
    const std::vector<RowFilter>& filters, const std::vector<ColumnTransform>& transforms) {
  std::vector<std::pair<std::string, std::string>> options;
  for (const auto& f : filters) options.emplace_back("row_filter", plugin_option(f));
  for (const auto& t : transforms) options.emplace_back("transform", plugin_option(t));
  return options;
}

std::vector<TableName> ruled_tables(const std::vector<RowFilter>& filters,
                                    const std::vector<ColumnTransform>& transforms) {
  std::vector<TableName> tables;
  auto add = [&](const TableName& t) {
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
  };
  for (const auto& f : filters) add(f.table);
  for (const auto& t : transforms) add(t.table);
  return tables;
}

}  // namespace pgdts::model
