// DDL replay: what to do on the destination with one captured DDL command
// (a Ddl record: the command's own text, the settings and search_path it
// ran under, the role that ran it and the objects it touched on the source).
//
// The source is untrusted input: any role there that may create objects in
// a synced schema decides what text arrives here. So what is replayed is a
// fixed list of statement kinds and object kinds (docs/ddl-replay.md); the
// rest is skipped (`ddl_skipped`), never a reason to stop. A statement the
// destination should not run because pgdts does not create its objects
// (triggers, rules, policies, foreign tables and servers, extensions, event
// triggers, publications...) is skipped; an ALTER TABLE keeps only its
// subcommands on the list. Multi-object DROP, GRANT and COMMENT keep only
// the objects in the task.
//
// Which objects are in the task is decided on source names:
//   - a table (CREATE, ALTER, RENAME, DROP, CREATE INDEX on it, a sequence
//     OWNED BY it) is in the task when the selection includes it, it was
//     found selected at start, or it is a partition created later of a
//     table in the task; a new table in a selected schema is included by
//     the selection itself, so it joins the task;
//   - a table renamed out of the selection is renamed on the destination
//     too (then left alone); one renamed into it is skipped, with a warning:
//     the destination has no copy of it;
//   - DROP INDEX follows the index's schema when the whole schema is
//     selected, else the destination: replayed when it has the index;
//   - other objects (views, functions, types...) follow their schema, when
//     whole schemas are selected.
// Names are then mapped (NameMap, a function of source names, see
// rewriter.h): relation names the source resolved are written qualified, so
// the destination never resolves them through a search_path again.
//
// The plan says as whom and under which settings it runs: the role that ran
// it on the source (it owned the object, or will own what it creates), and
// the settings that change how the text parses. The applier runs it with
// that role's rights (docs/security.md).
//
// CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction block: it is
// replayed alone (Action::replay_alone), made idempotent (IF NOT EXISTS
// with the name the source chose; IF EXISTS) because a crash between it and
// the origin's advance replays it once more.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pgdts.pb.h"
#include "model/selection.h"

namespace pg_query {
class Node;
}

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
  // The role to run it as: the one that ran it on the source (empty: the
  // record named none, the session's own role). role_superuser: that role
  // was a superuser on the source; known when the record says (plugins
  // from format 0.2 on).
  std::string role;
  bool role_superuser = false;
  bool role_superuser_known = false;
  // Settings to run it under, as the source ran it (name, value): only the
  // ones that change how text parses or what its constants mean.
  std::vector<std::pair<std::string, std::string>> settings;
};

struct PlannerOptions {
  // Ownership and privileges follow the source (ALTER ... OWNER, GRANT,
  // REVOKE, ALTER DEFAULT PRIVILEGES IN SCHEMA, CREATE SCHEMA AUTHORIZATION
  // are replayed); false with --no-owner: they are dropped.
  bool keep_owners = true;
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
  Planner(const model::Selection& selection, const model::NameMap& names,
          const std::set<model::TableName>& start_tables, DestinationLookup lookup = {},
          PlannerOptions options = {});

  // The stream described a source table (its RELATION record): unqualified
  // names resolve to it through the search_path.
  void saw_table(const model::TableName& source);
  // Whether a table joined the task through DDL (a partition of a table in
  // it, created or attached later).
  bool joined(const model::TableName& source) const { return joined_.count(source) > 0; }
  bool in_task(const model::TableName& source) const;
  // A sequence the task has: owned by a table of the task.
  bool owns_sequence(const model::TableName& source) const;

  // What to do with one DDL record. Throws Error when it must not be
  // replayed and must not be skipped either: its text is unknown.
  Plan plan(const pgdts::Ddl& record, std::uint64_t lsn);

 private:
  // One statement being planned. Each plan_* function below decides one
  // statement kind: nullopt to replay it (names rewritten), or a skip.
  struct Command;
  using Outcome = std::optional<Plan>;
  Outcome plan_create_table(Command& c);
  Outcome plan_create_table_as(Command& c);
  Outcome plan_alter_table(Command& c);
  Outcome plan_alter_relation_of_schema(Command& c);
  Outcome plan_rename(Command& c);
  Outcome plan_create_index(Command& c);
  Outcome plan_drop(Command& c);
  Outcome plan_sequence(Command& c);
  Outcome plan_create_schema(Command& c);
  Outcome plan_comment(Command& c);
  Outcome plan_grant(Command& c);
  Outcome plan_default_privileges(Command& c);
  Outcome plan_alter_owner(Command& c);
  Outcome plan_schema_object(Command& c, const std::string& schema);
  // Whether a relation (index, sequence) belongs to the task.
  bool index_in_task(const model::TableName& index) const;
  bool sequence_in_task(const model::TableName& sequence) const;
  // Whether an object of another kind belongs to the task: its schema is
  // selected as a whole.
  bool schema_object_in_task(const std::string& schema) const;
  // A schema named by a String node / an object by a qualified name list:
  // in the task (and its name mapped), or not.
  bool keep_schema(Command& c, pg_query::Node& obj);
  bool keep_schema_object(Command& c, pg_query::Node& obj);

  const model::Selection& selection_;
  const model::NameMap& names_;
  const std::set<model::TableName>& start_tables_;
  DestinationLookup lookup_;
  PlannerOptions options_;
  std::set<model::TableName> known_;   // source tables, by what the stream said
  std::set<model::TableName> joined_;  // partitions that joined through DDL
  std::set<model::TableName> owned_sequences_;  // sequences owned by task tables
};

// Components of a dotted, possibly quoted name ("public"."T" -> public, T),
// as object identities and search_path spell them. For an identity of the
// form "x on s.t" (constraints, triggers), the part after " on ".
std::vector<std::string> split_identity(const std::string& identity);

// "a", "$user" -> {"a", "$user"}: the schemas of a search_path setting.
std::vector<std::string> split_search_path(const std::string& path);

}  // namespace pgdts::ddl
