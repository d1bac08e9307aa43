// What the source must offer before a task can stream from it: the facts
// read in one query, and the problems found in them, each with how to fix
// it. `pgdts precheck` (task/precheck.h) reports every problem as a line;
// check_source, the guard of the code paths that start streaming, throws
// the first.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/selection.h"
#include "pg/connection.h"

namespace pgdts::task {

// The version of extension pgdts this binary speaks with (its stream and
// capture table): the one place that says it.
inline constexpr const char* kExtensionVersion = "0.3";
// The older extension versions this binary still streams from, with a
// warning naming what each lacks: the plugin library (one per server)
// decodes every version's capture table, so a task keeps running across
// ALTER EXTENSION pgdts UPDATE.
struct OlderExtension {
  const char* version;
  const char* lacks;
};
inline constexpr OlderExtension kOlderExtensions[] = {
    {"0.1", "DDL is captured without the settings and resolved names 0.2 adds, and tables "
            "created later without a key do not get REPLICA IDENTITY FULL (0.3)"},
    {"0.2", "tables created later without a key do not get REPLICA IDENTITY FULL "
            "(--replica-identity-full) until 0.3"},
};

struct SourceFacts {
  std::string database;
  std::string server_encoding;
  std::string wal_level;
  std::optional<std::string> extension_version;  // unset: not installed
  // unset: the server has no such setting (before 15.19): every plugin is allowed
  std::optional<std::string> output_plugin_libraries;
  // The setting exists but this account may not read it (superuser or
  // pg_read_all_settings may): whether pgdts is allowed is not known.
  bool output_plugin_libraries_hidden = false;
};

struct SourceProblem {
  std::string message;  // what is wrong, naming the setting or object
  std::string fix;      // what to do about it
  bool warning = false;  // the task can run all the same
};

SourceFacts read_source_facts(pg::Connection& source);

std::optional<SourceProblem> wal_level_problem(const SourceFacts& facts);
std::optional<SourceProblem> extension_problem(const SourceFacts& facts);
// PostgreSQL 15.19+ refuses slots of plugins output_plugin_libraries does not list.
std::optional<SourceProblem> output_plugin_problem(const SourceFacts& facts);

// Whether a comma list setting (output_plugin_libraries, *_preload_libraries)
// names pgdts ('*' counts for output_plugin_libraries).
bool lists_pgdts(const std::string& setting);

// wal_level = logical, the pgdts extension installed in its version, and
// pgdts allowed as an output plugin. Throws Error "<message>; <fix>".
SourceFacts check_source(pg::Connection& source);

// --forward-origins: DDL replayed into the source by another replication
// runs with session_replication_role = replica, under which event triggers
// fire only when enabled ALWAYS. Enables the extension's capture triggers so
// (a change of the source, logged); throws Error naming the statements a
// superuser must run when this account may not.
void capture_replicated_ddl(pg::Connection& source);

// With --replica-identity-full, tables that join the task later without a
// key (created in a selected schema, or left keyless by an ALTER), and new
// partitions of the tables in ruled (those with an ETL rule), get REPLICA
// IDENTITY FULL from the source's DDL capture, in the transaction that
// makes them so (plugin/ddl_identity.c): this writes or clears the task's
// row of pgdts.dts_task_setting that asks for it. Logs a warning, never
// throws over an SqlError: an extension older than 0.3 has no such table,
// an account may lack the rights; the warning says what to do.
void keep_replica_identity_full(pg::Connection& source, const std::string& task,
                                const model::Selection& selection,
                                const std::vector<model::TableName>& ruled, bool wanted);

}  // namespace pgdts::task
