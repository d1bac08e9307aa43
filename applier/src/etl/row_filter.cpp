#include "etl/row_filter.h"

#include "error.h"

namespace pgdts::etl {
namespace {

std::string trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace

RowFilter parse_row_filter(const std::string& text) {
  bool in_quotes = false;
  std::size_t colon = std::string::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') in_quotes = !in_quotes;
    else if (text[i] == ':' && !in_quotes) {
      colon = i;
      break;
    }
  }
  if (colon == std::string::npos)
    throw UsageError("--filter \"" + text + "\": write it as schema.table: condition");
  std::string name = trimmed(text.substr(0, colon));
  std::vector<std::string> parts = task::split_dotted(name, "--filter");
  if (parts.size() != 2)
    throw UsageError("--filter \"" + text + "\": name the table as schema.table before the ':'");
  RowFilter f{{parts[0], parts[1]}, trimmed(text.substr(colon + 1)), text};
  if (f.condition.empty())
    throw UsageError("--filter \"" + text + "\": the condition after the ':' is empty");
  return f;
}

std::vector<RowFilter> parse_row_filters(const std::vector<std::string>& texts) {
  std::vector<RowFilter> filters;
  for (const auto& text : texts) {
    RowFilter f = parse_row_filter(text);
    if (find_filter(filters, f.table))
      throw UsageError("--filter: table " + task::display_name(f.table) +
                       " has two filters; combine their conditions with AND or OR in one");
    filters.push_back(std::move(f));
  }
  return filters;
}

const RowFilter* find_filter(const std::vector<RowFilter>& filters, const task::TableName& table) {
  for (const auto& f : filters)
    if (f.table == table) return &f;
  return nullptr;
}

std::string where_condition(const RowFilter& filter) { return "(\n" + filter.condition + "\n)"; }

std::string plugin_option(const RowFilter& filter) {
  return quoted(filter.table.schema) + "." + quoted(filter.table.name) + " WHERE " +
         where_condition(filter);
}

}  // namespace pgdts::etl
