#include "model/etl_plugin_options.h"

namespace pgdts::model {

std::vector<std::pair<std::string, std::string>> plugin_options(
    const std::vector<RowFilter>& filters, const std::vector<ColumnTransform>& transforms) {
  std::vector<std::pair<std::string, std::string>> options;
  for (const auto& f : filters) options.emplace_back("row_filter", plugin_option(f));
  for (const auto& t : transforms) options.emplace_back("transform", plugin_option(t));
  return options;
}

}  // namespace pgdts::model
