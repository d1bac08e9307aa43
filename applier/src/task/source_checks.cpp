#include "task/source_checks.h"

#include <cstdlib>
#include <sstream>
#include <vector>

#include "error.h"
#include "logging/log.h"
#include "pg/literals.h"

namespace pgdts::task {
namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\"");
  auto e = s.find_last_not_of(" \t\"");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "0.10" after "0.9": dotted numbers compared part by part.
std::vector<int> version_parts(const std::string& v) {
  std::vector<int> parts;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, '.')) parts.push_back(std::atoi(item.c_str()));
  return parts;
}

}  // namespace

bool lists_pgdts(const std::string& setting) {
  std::stringstream ss(setting);
  std::string item;
  while (std::getline(ss, item, ','))
    if (trim(item) == "pgdts" || trim(item) == "*" || trim(item) == "$libdir/pgdts") return true;
  return false;
}

SourceFacts read_source_facts(pg::Connection& source) {
  pg::Result r = source.exec(
      "SELECT current_setting('wal_level'), current_database(), "
      "current_setting('server_encoding'), "
      "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgdts'), "
      "(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'output_plugin_libraries'), "
      "EXISTS (SELECT 1 FROM pg_catalog.pg_settings WHERE name = 'output_plugin_libraries'), "
      "current_setting('server_version_num')::int");
  SourceFacts facts;
  facts.wal_level = std::string(r.value(0, 0));
  facts.database = std::string(r.value(0, 1));
  facts.server_encoding = std::string(r.value(0, 2));
  facts.extension_version = r.optional(0, 3);
  if (r.value(0, 5) == "t") {
    facts.output_plugin_libraries = r.optional(0, 4).value_or("");
  } else if (std::stoi(std::string(r.value(0, 6))) >= 150000) {
    // pg_settings hides superuser-only settings from other accounts;
    // pg_settings_get_flags (PostgreSQL 15+) tells whether it exists.
    pg::Result flags = source.exec(
        "SELECT pg_catalog.pg_settings_get_flags('output_plugin_libraries') IS NOT NULL");
    facts.output_plugin_libraries_hidden = flags.value(0, 0) == "t";
  }
  return facts;
}

std::optional<SourceProblem> wal_level_problem(const SourceFacts& f) {
  if (f.wal_level == "logical") return std::nullopt;
  return SourceProblem{"source wal_level is \"" + f.wal_level + "\"",
                       "set wal_level = logical and restart the source"};
}

std::optional<SourceProblem> extension_problem(const SourceFacts& f) {
  if (!f.extension_version)
    return SourceProblem{
        "extension pgdts is not installed in source database \"" + f.database + "\"",
        "run CREATE EXTENSION pgdts in it (as a superuser)"};
  const std::string& v = *f.extension_version;
  if (v == kExtensionVersion) return std::nullopt;
  std::string is = "extension pgdts in source database \"" + f.database + "\" is version " + v;
  if (version_parts(v) > version_parts(kExtensionVersion))
    return SourceProblem{is + ", newer than this pgdts knows (" + kExtensionVersion + ")",
                         "upgrade pgdts (package pgdts) on this host"};
  for (const OlderExtension& older : kOlderExtensions)
    if (v == older.version)
      return SourceProblem{is + ", older than " + kExtensionVersion + ": " + older.lacks,
                           std::string("run ALTER EXTENSION pgdts UPDATE in it (safe while the "
                                       "task runs)"),
                           true};
  return SourceProblem{is + ", this pgdts needs " + kExtensionVersion,
                       std::string("install the matching extension files (package "
                                   "postgresql-<major>-pgdts) and run ALTER EXTENSION pgdts "
                                   "UPDATE TO '") +
                           kExtensionVersion + "'"};
}

std::optional<SourceProblem> output_plugin_problem(const SourceFacts& f) {
  if (!f.output_plugin_libraries || lists_pgdts(*f.output_plugin_libraries)) return std::nullopt;
  const std::string& libs = *f.output_plugin_libraries;
  return SourceProblem{"source output_plugin_libraries is \"" + libs +
                           "\", which does not allow the pgdts output plugin",
                       "add pgdts to it (output_plugin_libraries = '" +
                           (libs.empty() ? "" : libs + ", ") +
                           "pgdts') in the source's postgresql.conf and reload or restart the "
                           "source"};
}

SourceFacts check_source(pg::Connection& source) {
  SourceFacts facts = read_source_facts(source);
  for (auto problem : {wal_level_problem(facts), extension_problem(facts), output_plugin_problem(facts)}) {
    if (problem && problem->warning)
      log::Event("source_check").field("message", problem->message).field("fix", problem->fix).warn();
    else if (problem)
      throw Error(problem->message + "; " + problem->fix);
  }
  return facts;
}

void capture_replicated_ddl(pg::Connection& source) {
  pg::Result r = source.exec(
      "SELECT t.evtname FROM pg_catalog.pg_event_trigger t"
      " JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_event_trigger'::regclass"
      "  AND d.objid = t.oid AND d.deptype = 'e'"
      " JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgdts'"
      " WHERE t.evtenabled <> 'A' ORDER BY 1");
  std::vector<std::string> statements;
  for (int i = 0; i < r.rows(); ++i)
    statements.push_back("ALTER EVENT TRIGGER " + pg::quote_identifier(r.value(i, 0)) + " ENABLE ALWAYS");
  for (const std::string& sql : statements) {
    try {
      source.exec(sql);
    } catch (const pg::SqlError& e) {
      std::string all;
      for (const std::string& s : statements) all += s + "; ";
      throw Error("--forward-origins: the source's DDL capture must also fire for DDL that "
                  "reached it by replication, and this account may not enable that (" +
                  pg::one_line(e.what()) + "); as a superuser on the source run: " + all);
    }
    log::Event("ddl_capture_enabled_always").field("statement", sql).info();
  }
}

void keep_replica_identity_full(pg::Connection& source, const std::string& task,
                                const model::Selection& selection,
                                const std::vector<model::TableName>& ruled, bool wanted) {
  // A task of --tables only takes no table created later in a schema ('{}'
  // names none), but does take new partitions of its tables.
  bool ask = wanted && (!selection.picks_tables_only() || !ruled.empty());
  std::string schemas = selection.selects_everything() ? "" : pg::text_array(selection.schemas());
  std::vector<std::string> qualified;
  for (const auto& t : ruled)
    qualified.push_back(pg::quote_identifier(t.schema) + "." + pg::quote_identifier(t.name));
  std::string ruled_tables = pg::text_array(qualified);
  try {
    pg::Result exists = source.exec("SELECT pg_catalog.to_regclass('pgdts.dts_task_setting') IS NOT NULL");
    if (exists.value(0, 0) != "t") {
      if (ask)
        log::Event("replica_identity_full_not_kept")
            .field("task", task)
            .field("reason", "extension pgdts on the source is older than 0.3")
            .field("fix", "run ALTER EXTENSION pgdts UPDATE on the source; until then give tables "
                          "created later without a key REPLICA IDENTITY FULL by hand")
            .warn();
      return;
    }
    if (!ask) {
      source.exec("DELETE FROM pgdts.dts_task_setting WHERE task = $1", {task.c_str()});
      return;
    }
    source.exec(
        "INSERT INTO pgdts.dts_task_setting (task, replica_identity_full, schemas, ruled_tables) "
        "VALUES ($1, true, $2::text[], $3::text[]) ON CONFLICT (task) DO UPDATE "
        "SET replica_identity_full = true, schemas = excluded.schemas, "
        "ruled_tables = excluded.ruled_tables",
        {task.c_str(), schemas.empty() ? nullptr : schemas.c_str(), ruled_tables.c_str()});
    log::Event("replica_identity_full_kept").field("task", task).debug();
  } catch (const pg::SqlError& e) {
    if (!ask) return;
    log::Event("replica_identity_full_not_kept")
        .field("task", task)
        .field("reason", pg::one_line(e.what()))
        .field("fix", "GRANT INSERT, UPDATE, DELETE ON pgdts.dts_task_setting to this account on "
                      "the source; until then give tables created later without a key REPLICA "
                      "IDENTITY FULL by hand")
        .warn();
  }
}

}  // namespace pgdts::task
