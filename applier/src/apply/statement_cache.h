// Prepared statements of one destination session, one per shape of change:
// (relation definition, operation, columns sent, how each old-row column is
// matched). Most tables need one statement per operation; a NULL in a
// REPLICA IDENTITY FULL old row, or an unchanged TOAST value, makes another
// shape.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pgdts::apply {

struct Statement {
  std::string name;  // of the prepared statement
  std::string sql;
  std::string what;  // "UPDATE of public.t", for messages
  int nparams = 0;
};

// A statement's key starts with its relation's version and a letter for the
// operation; the columns' codes follow.
inline void append_version(std::string& key, std::uint64_t version, char op) {
  char buf[sizeof version];
  std::memcpy(buf, &version, sizeof version);
  key.append(buf, sizeof buf);
  key += op;
}

class StatementCache {
 public:
  // nullptr when no statement has this key yet.
  const Statement* find(std::string_view key) const;
  // Adds a statement under key and names it; the caller prepares it.
  // Statements live as long as the cache: pipelined commands point at them.
  const Statement& add(std::string_view key, std::string sql, std::string what, int nparams);
  std::size_t size() const { return statements_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<Statement>, Hash, std::equal_to<>> statements_;
  std::uint64_t counter_ = 0;
};

}  // namespace pgdts::apply
