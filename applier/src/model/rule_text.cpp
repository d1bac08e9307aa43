#include "model/rule_text.h"

#include "error.h"
#include "model/selection.h"

namespace pgdts::model {
namespace {

std::string trimmed(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

RuleText split_rule(const std::string& text, const std::string& option, std::size_t parts,
                    const std::string& name_form) {
  bool in_quotes = false;
  std::size_t colon = std::string::npos;
  for (std::size_t i = 0; i < text.size() && colon == std::string::npos; ++i) {
    if (text[i] == '"') in_quotes = !in_quotes;
    else if (text[i] == ':' && !in_quotes) colon = i;
  }
  std::string prefix = option + " \"" + text + "\": ";
  if (colon == std::string::npos) throw UsageError(prefix + "write it as " + name_form + ": SQL");
  RuleText rule{model::split_dotted(trimmed(text.substr(0, colon)), option),
                trimmed(text.substr(colon + 1))};
  if (rule.name.size() != parts)
    throw UsageError(prefix + "name it as " + name_form + " before the ':'");
  if (rule.sql.empty()) throw UsageError(prefix + "the SQL after the ':' is empty");
  return rule;
}

std::string parenthesized(const std::string& sql) { return "(\n" + sql + "\n)"; }

}  // namespace pgdts::model
