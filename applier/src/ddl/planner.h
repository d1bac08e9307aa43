// DDL replay: what to do on the destination with one captured DDL command
// (a Ddl record: the command's own text, the search_path and the objects it
// touched on the source).
//
// The statement is parsed with PostgreSQL's own parser (libpg_query). It is
// replayed when its objects belong to the task, on the source's names:
//   - a table (CREATE, ALTER, RENAME, DROP, CREATE INDEX on it, a sequence
//     OWNED BY it) is in the task when the selection includes it, it was
//     found selected at start, or it is a partition created later of a
//     table in the task; a new table in a selected schema is included by
//     the selection itself, so it joins the task;
//   - DROP TABLE of several tables keeps those in the task;
//   - a table renamed out of the selection is renamed on the destination
//     too (then left alone); one renamed into it is skipped, with a warning:
//     the destination has no copy of it;
//   - DROP INDEX follows the index's schema when the whole schema is
//     selected, else the destination: replayed when it has the index;
//   - other objects (views, functions, types...) follow their schema, when
//     whole schemas are selected; privileges, ownership, extensions and
//     objects outside any schema are never replayed (roles differ between
//     clusters; the destination account owns what it creates).
// Names are then mapped (NameMap, a function of source names): schemas and
// tables in RangeVars and qualified names, column names where the parse
// tree names a column of a known table (column definitions and references,
// constraint and index keys, RENAME COLUMN, ALTER COLUMN), and the
// search_path. Unqualified names stay unqualified: the destination resolves
// them through the mapped search_path as the source did through its own.
// A statement that needs no change is replayed as the source ran it,
// byte for byte; a changed one is deparsed by libpg_query.
//
// CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction block: it is
// replayed alone (Action::replay_alone), made idempotent (IF NOT EXISTS
// with the name the source chose; IF EXISTS) because a crash between it and
// the origin's advance replays it once more.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pgdts.pb.h"
#include "task/selection.h"

namespace pgdts::ddl {

struct Plan {
  enum class Action {
    skip,          // not for the destination: see reason
    replay,        // run sql in the destination transaction
    replay_alone,  // run sql outside any transaction block (CONCURRENTLY)
  };
  Action action = Action::skip;
  std::string reason;  // skip: why (for the log)
  bool warn = false;   // skip: the destination now differs from the source
  std::string sql;     // the destination statement
  // The destination's search_path for it: the source's, schemas mapped.
  std::vector<std::string> search_path;
  std::string what;  // "ALTER TABLE public.t", for logs and errors
  // replay_alone of CREATE INDEX CONCURRENTLY: the index, schema-qualified
  // and quoted, as the destination names it (an interrupted earlier run
  // may have left it invalid: drop it first).
  std::string index;
};

// Answers the planner needs from the destination (a stub in unit tests).
struct DestinationLookup {
  // Whether the destination has an index (a sequence) of this name in this
  // schema.
  std::function<bool(const std::string& schema, const std::string& index)> index_exists;
  std::function<bool(const std::string& schema, const std::string& sequence)> sequence_exists;
};

class Planner {
 public:
  // start_tables: source tables found selected at start (partitions
  // included). All three must outlive the planner.
  Planner(const task::Selection& selection, const task::NameMap& names,
          const std::set<task::TableName>& start_tables, DestinationLookup lookup = {});

  // The stream described a source table (its RELATION record): unqualified
  // names resolve to it through the search_path.
  void saw_table(const task::TableName& source);
  // Whether a table joined the task through DDL (a partition of a table in
  // it, created or attached later).
  bool joined(const task::TableName& source) const { return joined_.count(source) > 0; }
  bool in_task(const task::TableName& source) const;
  // A sequence the task has: owned by a table of the task.
  bool owns_sequence(const task::TableName& source) const;

  // What to do with one DDL record. Throws Error when it must not be
  // replayed and must not be skipped either: its text is unknown, or
  // unparsable.
  Plan plan(const pgdts::Ddl& record, std::uint64_t lsn);

 private:
  friend class Rewriter;

  const task::Selection& selection_;
  const task::NameMap& names_;
  const std::set<task::TableName>& start_tables_;
  DestinationLookup lookup_;
  std::set<task::TableName> known_;   // source tables, by what the stream said
  std::set<task::TableName> joined_;  // partitions that joined through DDL
  std::set<task::TableName> owned_sequences_;  // sequences owned by task tables
};

// Components of a dotted, possibly quoted name ("public"."T" -> public, T),
// as object identities and search_path spell them. For an identity of the
// form "x on s.t" (constraints, triggers), the part after " on ".
std::vector<std::string> split_identity(const std::string& identity);

// "a", "$user" -> {"a", "$user"}: the schemas of a search_path setting.
std::vector<std::string> split_search_path(const std::string& path);

}  // namespace pgdts::ddl
