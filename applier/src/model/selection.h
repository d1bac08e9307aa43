// Which source tables a task moves (--schemas, --tables, --exclude) and what
// they are called on the destination (--map, --case). Pure logic: the same
// answers for schema sync, full sync, change replay, DDL replay and verify.
//
// Names on the command line are exact (no case folding); a component may be
// double-quoted to hold dots, commas, '=' or quotes ("" for a quote). In
// --map and --exclude a '*' is a wildcard, quoted or not.
//
// --map rules, one per option or comma-separated in a config file:
//   old=new                    schema old is called new
//   s.t=new                    table s.t is called new (in s's mapped schema)
//   s.t.c=new                  column c of table s.t is called new
//   *=src_*                    bulk: a '*' in the last component of the left
//   s.*=app_*                  side matches any text, which replaces the '*'
//   s.*.*=*_x                  of the right side; earlier components may be
//                              '*' (any schema or table)
// One-by-one rules win over bulk rules; among bulk rules the first given
// that matches wins. The case policy (--case lower|upper) spells every name
// that no one-by-one rule names; a one-by-one rule's target is used as written.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgdts::model {

struct TableName {
  std::string schema;
  std::string name;
  auto operator<=>(const TableName&) const = default;
};

// "schema"."table" with identifier quoting where needed, for messages.
std::string display_name(const TableName& table);

enum class CasePolicy { keep, lower, upper };

// Splits a dotted name, honouring double quotes. Throws UsageError naming
// option when a component is empty or a quote is not closed.
std::vector<std::string> split_dotted(const std::string& text, const std::string& option);

class NameMap {
 public:
  NameMap() = default;
  // rules as given to --map. Throws UsageError.
  static NameMap parse(const std::vector<std::string>& rules, CasePolicy policy);

  std::string schema(const std::string& schema) const;
  TableName table(const TableName& source) const;
  std::string column(const TableName& table, const std::string& column) const;

  // Maps nothing: every name stays as it is.
  bool is_identity() const { return exact_.empty() && bulk_.empty() && policy_ == CasePolicy::keep; }
  CasePolicy policy() const { return policy_; }

 private:
  struct BulkRule {
    std::vector<std::string> from;  // 1 to 3 components; '*' patterns
    std::string to;                 // may hold one '*'
  };
  std::string mapped(const std::vector<std::string>& path) const;
  std::string spelled(std::string name) const;

  std::map<std::vector<std::string>, std::string> exact_;
  std::vector<BulkRule> bulk_;
  CasePolicy policy_ = CasePolicy::keep;
};

// The objects a task selects. Without --schemas and --tables every user
// schema is selected (the caller leaves out system schemas and pgdts' own).
class Selection {
 public:
  Selection() = default;
  // Each entry may be a comma list. Throws UsageError.
  static Selection parse(const std::vector<std::string>& schemas,
                         const std::vector<std::string>& tables,
                         const std::vector<std::string>& exclude);
  // From "--schemas=...", "--tables=...", "--exclude=..." tokens, as a task
  // stores its object options (other tokens are ignored). Throws UsageError.
  static Selection from_args(const std::vector<std::string>& object_args);

  // Whether a table of the source belongs to the task (before partitions are
  // considered: a partition follows its root, see the caller).
  bool includes(const TableName& table) const;
  // Whether tables created later in this schema join the task.
  bool includes_schema(const std::string& schema) const;
  // No --schemas and no --tables: every user schema.
  bool selects_everything() const { return schemas_.empty() && tables_.empty(); }
  bool picks_tables_only() const { return schemas_.empty() && !tables_.empty(); }
  // The schemas of --schemas, as given.
  const std::vector<std::string>& schemas() const { return schemas_; }
  // Whether an --exclude rule names the table or its schema.
  bool excluded(const TableName& table) const;

 private:

  std::vector<std::string> schemas_;
  std::vector<TableName> tables_;
  // schema-level (name empty) or table-level excludes; '*' patterns allowed
  std::vector<TableName> exclude_;
};

// Whether text matches a pattern where '*' stands for any run of characters.
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace pgdts::model
