// The checks of `pgdts precheck`, in the order they are printed: each side's
// connection, then the source's settings, account and objects, then the
// destination's account and tables. See precheck.h.
#include "task/precheck.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "etl/check.h"
#include "pg/literals.h"
#include "pg/connection.h"
#include "schema/schema_sync.h"
#include "task/source_checks.h"
#include "store/task_store.h"

namespace pgdts::task {
namespace {

constexpr int kLongTransactionSeconds = 300;
constexpr const char* kCaptureTriggers[] = {"_pgdts_capture_ddl_start", "_pgdts_capture_ddl_drop",
                                            "_pgdts_capture_ddl_end"};

std::string megabytes(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

std::string duration_text(std::int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  return std::to_string(seconds / 3600) + " h " + std::to_string(seconds % 3600 / 60) + " min";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "15.4" from server_version_num 150004 (and 9.6.24 style before 10).
std::string version_text(int num) {
  if (num >= 100000) return std::to_string(num / 10000) + "." + std::to_string(num % 10000);
  return std::to_string(num / 10000) + "." + std::to_string(num / 100 % 100) + "." +
         std::to_string(num % 100);
}

// An identifier for a statement printed as a fix: as it is when plain
// (lower-case letters, digits, underscores, not a reserved word that could
// appear there), double-quoted otherwise.
std::string sql_name(const std::string& name) {
  static const std::set<std::string> reserved = {
      "all", "analyse", "analyze", "and", "any", "as", "both", "case", "check", "column",
      "constraint", "create", "current_role", "current_user", "default", "do", "else", "end",
      "except", "false", "for", "from", "grant", "group", "in", "intersect", "limit", "not",
      "null", "offset", "on", "only", "or", "order", "primary", "references", "select",
      "session_user", "table", "then", "to", "true", "union", "user", "using", "when", "where",
      "with"};
  bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9') && !reserved.count(name) &&
               std::all_of(name.begin(), name.end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
               });
  if (plain) return name;
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Whether schema sync still has to create the tables (a task that reached
// phase full created them in the same transaction that left phase schema).
bool schema_phase_pending(const std::optional<std::string>& dest_phase) {
  return !dest_phase || *dest_phase == "schema";
}

// Whether the initial phases still have work (a task absent from the
// destination, or in phase schema or full).
bool initial_phases_pending(const std::optional<std::string>& dest_phase) {
  return !dest_phase || *dest_phase == "schema" || *dest_phase == "full";
}

class Prechecks {
 public:
  explicit Prechecks(const PrecheckInput& in) : in_(in) {}

  std::vector<Check> run() {
    source_ = connect(in_.source, "source", "source_connection", "--source");
    target_ = connect(in_.target, "destination", "target_connection", "--target");
    if (target_) {
      try {
        guard("task_state", [&] { read_dest_phase(); });
      } catch (const pg::ConnectionError&) {
        target_.reset();
      }
    }
    if (source_) source_checks();
    if (target_) target_checks();
    if (source_ && target_) guard("server_versions", [&] { versions(); });
    if (source_ && target_) guard("ownership", [&] { ownership(); });
    return std::move(out_);
  }

 private:
  void add(std::string name, Check::Status status, std::string message, std::string fix = "") {
    out_.push_back({std::move(name), status, pg::one_line(message), pg::one_line(fix)});
  }

  // Runs one check; a query that fails makes it a warning ("could not be
  // checked"), a lost connection a failure that ends that side's checks.
  void guard(const char* name, const std::function<void()>& check) {
    try {
      check();
    } catch (const pg::ConnectionError& e) {
      add(name, Check::fail, e.what(), "check the connection and run precheck again");
      throw;
    } catch (const std::exception& e) {
      add(name, Check::warn, std::string("could not be checked: ") + e.what());
    }
  }

  std::optional<pg::Connection> connect(const pg::ConnInfo& info, const char* side,
                                        const char* check, const char* option) {
    try {
      // Names travel between the sides (selected tables looked up on the
      // destination): both in UTF-8, whatever each database's encoding.
      pg::Connection c =
          pg::Connection::open(info, {side, false, in_.application_name, "-c client_encoding=UTF8"});
      pg::Result r = c.exec(
          "SELECT current_user, current_database(), current_setting('server_version'), "
          "current_setting('server_version_num')::int, "
          "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)");
      Side& s = std::string(side) == "source" ? src_ : dst_;
      s.user = std::string(r.value(0, 0));
      s.database = std::string(r.value(0, 1));
      s.version_num = static_cast<int>(pg::to_int64(r.value(0, 3)));
      s.superuser = r.value(0, 4) == "t";
      add(check, Check::pass,
          "connected to database \"" + s.database + "\" as \"" + s.user + "\", PostgreSQL " +
              std::string(r.value(0, 2)));
      return c;
    } catch (const std::exception& e) {
      add(check, Check::fail, e.what(),
          std::string("check ") + option + " (host, port, database, user, password) and the " +
              side + "'s pg_hba.conf");
      return std::nullopt;
    }
  }

  void read_dest_phase() {
    if (auto phase = store::TaskStore(*target_).find_phase(in_.task)) dest_phase_ = *phase;
  }

  // ---- source ---------------------------------------------------------------

  void source_checks() {
    try {
      guard("wal_level", [&] { settings(); });
      guard("replication_slots", [&] { slots(); });
      guard("slot_failover", [&] { slot_failover(); });
      guard("source_replication", [&] { replication_role(); });
      guard("ddl_capture_preload", [&] { preload(); });
      if (extension_installed_) guard("event_triggers", [&] { capture_triggers(); });
      guard("replica_role_defaults", [&] { replica_role_defaults(); });
      guard("user_event_triggers", [&] { user_event_triggers(); });
      guard("source_schema", [&] { read_schema(); });
      if (schema_) {
        guard("source_select", [&] { select_privileges(); });
        guard("table_keys", [&] { table_keys(); });
        guard("unsupported_objects", [&] { unsupported_objects(); });
        guard("partitions", [&] { partitions(); });
        row_filters();  // not guarded: a filter that does not hold is bad usage
      }
      guard("long_transactions", [&] { long_transactions(); });
    } catch (const pg::ConnectionError&) {
      source_.reset();
    }
  }

  // A logical slot lives on one server: PostgreSQL before 17 does not carry
  // it to a standby, so a failover of the source loses the task's slot and
  // the changes only it held (docs/task-state.md: after a failover).
  void slot_failover() {
    pg::Result r = source_->exec(
        "SELECT pg_catalog.current_setting('server_version_num')::int,"
        " (SELECT pg_catalog.string_agg(coalesce(nullif(application_name, ''), client_addr::text, 'local'),"
        "   ', ' ORDER BY application_name)"
        "  FROM pg_catalog.pg_stat_replication s"
        "  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots l"
        "                    WHERE l.active_pid = s.pid AND l.slot_type = 'logical'))");
    int version = std::atoi(std::string(r.value(0, 0)).c_str());
    std::optional<std::string> standbys = r.optional(0, 1);
    const char* recovery = "after a failover run pgdts sync --resync against the new primary "
                           "(docs/task-state.md)";
    if (version >= 170000) {
      // Failover slots exist there, but pgdts does not create its slot as
      // one yet (it is built and tested with PostgreSQL 15).
      add("slot_failover", Check::warn,
          "pgdts creates the task's slot without failover, so a failover of the source loses it",
          recovery);
      return;
    }
    if (!standbys) {
      add("slot_failover", Check::pass,
          "no physical standby streams from the source (PostgreSQL before 17 keeps logical slots "
          "on the primary only: a failover, if one is set up later, loses the task's slot)");
      return;
    }
    add("slot_failover", Check::warn,
        "the source has physical standbys (" + *standbys + "); PostgreSQL " +
            std::to_string(version / 10000) + " keeps logical slots on the primary only, so a "
            "failover to one of them loses the task's slot and the changes only it holds",
        recovery);
  }

  void settings() {
    SourceFacts facts = read_source_facts(*source_);
    auto report = [&](const char* name, const std::optional<SourceProblem>& problem,
                      const std::string& ok) {
      if (problem) add(name, problem->warning ? Check::warn : Check::fail, problem->message, problem->fix);
      else add(name, Check::pass, ok);
    };
    report("wal_level", wal_level_problem(facts), "wal_level = logical");
    if (facts.output_plugin_libraries_hidden)
      add("output_plugin", Check::warn,
          "cannot read output_plugin_libraries (needs superuser or pg_read_all_settings): "
          "whether it allows pgdts is not known",
          "make sure output_plugin_libraries lists pgdts in the source's postgresql.conf");
    else report("output_plugin", output_plugin_problem(facts),
           facts.output_plugin_libraries
               ? "output_plugin_libraries allows pgdts (\"" + *facts.output_plugin_libraries + "\")"
               : "every output plugin is allowed (no output_plugin_libraries setting)");
    report("extension", extension_problem(facts),
           "extension pgdts " + facts.extension_version.value_or("") + " installed in \"" +
               facts.database + "\"");
    extension_installed_ = facts.extension_version.has_value();
  }

  void slots() {
    pg::Connection& s = *source_;
    std::string slot = store::slot_name(in_.task);
    pg::Result r = s.exec(
        "SELECT current_setting('max_replication_slots')::int, "
        " (SELECT count(*) FROM pg_catalog.pg_replication_slots), "
        " current_setting('max_wal_senders')::int, "
        " (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender'), "
        " sl.slot_name IS NOT NULL, sl.active, sl.active_pid, "
        " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), sl.restart_lsn)::bigint "
        "FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_replication_slots sl ON sl.slot_name = $1",
        {slot.c_str()});
    std::int64_t max_slots = pg::to_int64(r.value(0, 0)), used_slots = pg::to_int64(r.value(0, 1));
    std::int64_t max_senders = pg::to_int64(r.value(0, 2)), used_senders = pg::to_int64(r.value(0, 3));
    bool slot_exists = r.value(0, 4) == "t";

    // The task's slot when it has none yet; otherwise a temporary one while
    // the initial phases copy (a resumed full sync takes a fresh snapshot).
    bool initial = (in_.has_phase("schema") || in_.has_phase("full")) &&
                   initial_phases_pending(dest_phase_);
    int needed = in_.has_phase("incremental") && !slot_exists ? 1 : (initial ? 1 : 0);
    std::string in_use = std::to_string(used_slots) + " of " + std::to_string(max_slots) +
                         " replication slots in use";
    if (max_slots - used_slots < needed)
      add("replication_slots", Check::fail,
          in_use + "; the task needs " + plural(needed, "more", "more") +
              (slot_exists ? " (a temporary slot while full sync copies)" : " (its slot " + slot + ")"),
          "raise max_replication_slots on the source (restart), or drop unused slots with "
          "pg_drop_replication_slot()");
    else
      add("replication_slots", Check::pass,
          in_use + "; the task needs " + std::to_string(needed) + " more");

    std::string senders = std::to_string(used_senders) + " of " + std::to_string(max_senders) +
                          " WAL senders in use";
    if (max_senders - used_senders < 1)
      add("wal_senders", Check::fail, senders + "; the task needs 1",
          "raise max_wal_senders on the source (restart), or stop unused replication clients");
    else
      add("wal_senders", Check::pass, senders + "; the task needs 1");

    if (!slot_exists) {
      add("task_slot", Check::pass, "no slot " + slot + " yet");
    } else if (r.value(0, 5) == "t") {
      // A warning: the walsender of a killed pgdts lingers until it notices,
      // and sync waits a little for it.
      add("task_slot", Check::warn,
          "replication slot " + slot + " is in use by PID " + std::string(r.value(0, 6)) +
              ": another pgdts sync of task " + in_.task +
              ", or the walsender of one that just ended",
          "stop the process reading it; sync fails if the slot is still busy after a few "
          "seconds");
    } else {
      std::string retained = r.is_null(0, 7) ? "an unknown amount" : megabytes(pg::to_int64(r.value(0, 7)));
      add("task_slot", Check::warn,
          "replication slot " + slot + " exists and retains " + retained + " of WAL on the source",
          "resume the task soon; if it is abandoned, run pgdts release --task " + in_.task);
    }
  }

  void replication_role() {
    pg::Result r = source_->exec(
        "SELECT rolreplication FROM pg_catalog.pg_roles WHERE rolname = current_user");
    if (src_.superuser || (r.rows() == 1 && r.value(0, 0) == "t")) {
      add("source_replication", Check::pass,
          "\"" + src_.user + "\" may replicate (" + (src_.superuser ? "superuser" : "REPLICATION") + ")");
      return;
    }
    add("source_replication", Check::fail,
        "source account \"" + src_.user + "\" has neither REPLICATION nor superuser",
        "run ALTER ROLE " + sql_name(src_.user) + " REPLICATION as a superuser");
  }

  void preload() {
    pg::Result r = source_->exec(
        "SELECT (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'session_preload_libraries'), "
        "(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'shared_preload_libraries')");
    const char* fix =
        "add pgdts to session_preload_libraries in the source's postgresql.conf (then reload)";
    if (r.is_null(0, 0) && r.is_null(0, 1)) {
      add("ddl_capture_preload", Check::warn,
          "cannot read session_preload_libraries (needs superuser or pg_read_all_settings); "
          "without pgdts there, DDL run inside functions or DO blocks may be captured inexactly",
          fix);
      return;
    }
    for (int col : {0, 1})
      if (!r.is_null(0, col) && lists_pgdts(std::string(r.value(0, col)))) {
        add("ddl_capture_preload", Check::pass,
            std::string("pgdts is in ") +
                (col == 0 ? "session_preload_libraries" : "shared_preload_libraries"));
        return;
      }
    add("ddl_capture_preload", Check::warn,
        "pgdts is in neither session_preload_libraries nor shared_preload_libraries: DDL run "
        "inside functions or DO blocks as a session's first DDL is captured without its text "
        "and stops the task",
        fix);
  }

  void capture_triggers() {
    pg::Result r = source_->exec(
        "SELECT evtname, evtenabled FROM pg_catalog.pg_event_trigger "
        "WHERE evtname IN ('_pgdts_capture_ddl_start', '_pgdts_capture_ddl_drop', "
        "'_pgdts_capture_ddl_end')");
    std::vector<std::string> missing, disabled;
    for (const char* name : kCaptureTriggers) {
      int row = -1;
      for (int i = 0; i < r.rows(); ++i)
        if (r.value(i, 0) == name) row = i;
      if (row < 0) missing.push_back(name);
      else if (r.value(row, 1) == "D" || r.value(row, 1) == "R") disabled.push_back(name);
    }
    if (!missing.empty()) {
      add("event_triggers", Check::fail,
          "pgdts' event trigger" + std::string(missing.size() == 1 ? " " : "s ") + name_list(missing) +
              (missing.size() == 1 ? " is" : " are") + " missing: DDL is not captured",
          "recreate the extension: DROP EXTENSION pgdts; CREATE EXTENSION pgdts (no task may "
          "run meanwhile)");
      return;
    }
    if (!disabled.empty()) {
      std::string fix;
      for (const auto& t : disabled) fix += (fix.empty() ? "" : "; ") + ("ALTER EVENT TRIGGER " + t + " ENABLE");
      add("event_triggers", Check::fail,
          "pgdts' event trigger" + std::string(disabled.size() == 1 ? " " : "s ") + name_list(disabled) +
              (disabled.size() == 1 ? " is" : " are") + " disabled: DDL is not captured",
          "run " + fix);
      return;
    }
    add("event_triggers", Check::pass, "pgdts' three DDL capture event triggers are enabled");
  }

  void replica_role_defaults() {
    pg::Result r = source_->exec(
        "SELECT CASE WHEN s.setrole = 0 THEN '' ELSE COALESCE(ro.rolname, s.setrole::text) END, "
        "       CASE WHEN s.setdatabase = 0 THEN '' ELSE COALESCE(d.datname, '') END "
        "FROM pg_catalog.pg_db_role_setting s "
        "LEFT JOIN pg_catalog.pg_roles ro ON ro.oid = s.setrole "
        "LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
        "WHERE (s.setdatabase = 0 OR d.datname = current_database()) "
        "  AND EXISTS (SELECT 1 FROM pg_catalog.unnest(s.setconfig) c "
        "              WHERE pg_catalog.lower(c) = 'session_replication_role=replica') "
        "UNION ALL "
        "SELECT 'postgresql.conf', '' FROM pg_catalog.pg_settings "
        "WHERE name = 'session_replication_role' AND boot_val <> reset_val AND reset_val = 'replica' "
        "  AND source NOT IN ('user', 'database', 'database user') "
        "ORDER BY 1, 2");
    std::vector<std::string> where;
    for (int i = 0; i < r.rows(); ++i) {
      std::string role(r.value(i, 0)), db(r.value(i, 1));
      if (role == "postgresql.conf") where.push_back("the server default (postgresql.conf)");
      else if (!role.empty() && !db.empty()) where.push_back("role " + role + " in database " + db);
      else if (!role.empty()) where.push_back("role " + role);
      else where.push_back("database " + db);
    }
    if (where.empty()) {
      add("replica_role_defaults", Check::pass,
          "no role or database defaults to session_replication_role = replica");
      return;
    }
    add("replica_role_defaults", Check::warn,
        "session_replication_role defaults to replica for " + name_list(where) +
            ": DDL run there fires no event trigger and is not captured",
        "ALTER ROLE ... RESET session_replication_role / ALTER DATABASE ... RESET "
        "session_replication_role, or run no DDL of task tables there");
  }

  void user_event_triggers() {
    pg::Result r = source_->exec(
        "SELECT evtname FROM pg_catalog.pg_event_trigger "
        "WHERE evtname NOT IN ('_pgdts_capture_ddl_start', '_pgdts_capture_ddl_drop', "
        "'_pgdts_capture_ddl_end') ORDER BY evtname COLLATE \"C\"");
    std::vector<std::string> before;
    for (int i = 0; i < r.rows(); ++i) {
      std::string name(r.value(i, 0));
      if (name < std::string("_pgdts_")) before.push_back(name);  // PostgreSQL fires them by name
    }
    if (before.empty()) {
      add("user_event_triggers", Check::pass, "no event trigger fires before pgdts' capture");
      return;
    }
    add("user_event_triggers", Check::warn,
        "event trigger" + std::string(before.size() == 1 ? " " : "s ") + name_list(before) +
            (before.size() == 1 ? " fires" : " fire") +
            " before pgdts' capture (names sort before _pgdts_): DDL they run is recorded ahead "
            "of the command that fired them, and an error there skips the capture",
        "rename them to sort after _pgdts_ (ALTER EVENT TRIGGER ... RENAME TO ...) if they run DDL");
  }

  void read_schema() {
    pg::Connection& s = *source_;
    schema_ = schema::read_schema_in_snapshot(s, in_.selection);
    for (const auto& t : schema_->tables) table_oids_.push_back(t.oid);
    add("source_schema", schema_->tables.empty() ? Check::warn : Check::pass,
        plural(schema_->tables.size(), "table", "tables") + " selected" +
            (schema_->tables.empty() ? ": the task moves nothing" : ""),
        schema_->tables.empty() ? "check --schemas, --tables and --exclude" : "");
  }

  std::string qualified(const std::string& schema, const std::string& name) {
    return sql_name(schema) + "." + sql_name(name);
  }

  void select_privileges() {
    pg::Connection& s = *source_;
    std::string oids = pg::oid_array(table_oids_);
    pg::Result r = s.exec(
        "SELECT n.nspname, c.relname, pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
        "FROM pg_catalog.unnest($1::oid[]) t(oid) JOIN pg_catalog.pg_class c ON c.oid = t.oid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT (pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
        "           AND pg_catalog.has_table_privilege(c.oid, 'SELECT')) "
        "ORDER BY 1, 2",
        {oids.c_str()});
    if (r.rows() == 0) {
      add("source_select", Check::pass,
          "\"" + src_.user + "\" may read every selected table");
      return;
    }
    std::vector<std::string> names, tables;
    std::set<std::string> schemas;
    for (int i = 0; i < r.rows(); ++i) {
      std::string schema(r.value(i, 0)), table(r.value(i, 1));
      names.push_back(model::display_name({schema, table}));
      tables.push_back(qualified(schema, table));
      if (r.value(i, 2) != "t") schemas.insert(sql_name(schema));
    }
    std::string user = sql_name(src_.user);
    std::string grant_tables;
    for (const auto& t : tables) grant_tables += (grant_tables.empty() ? "" : ", ") + t;
    std::string fix = "run GRANT SELECT ON " + grant_tables + " TO " + user;
    for (const auto& schema : schemas) fix += "; GRANT USAGE ON SCHEMA " + schema + " TO " + user;
    add("source_select", Check::fail,
        "source account \"" + src_.user + "\" may not read " + name_list(names), fix);
  }

  // Keyless tables a unique index on NOT NULL columns keys: sync makes it
  // their replica identity (sync/initial_sync.cpp). Returns those it keys.
  std::set<model::TableName> unique_index_keys(const std::vector<std::uint32_t>& oids) {
    std::set<model::TableName> keyed;
    if (oids.empty()) return keyed;
    std::vector<std::string> used, not_owned;
    std::string fix;
    for (const schema::UniqueKey& key : schema::find_unique_keys(*source_, oids)) {
      std::string line = model::display_name(key.table) + " by " + pg::quote_identifier_if_needed(key.index);
      if (key.may_alter) {
        used.push_back(line);
        keyed.insert(key.table);
        continue;
      }
      not_owned.push_back(line);
      fix += (fix.empty() ? "as the tables' owner run " : "; ") + std::string("ALTER TABLE ") +
             model::display_name(key.table) + " REPLICA IDENTITY USING INDEX " +
             pg::quote_identifier_if_needed(key.index);
    }
    if (!used.empty())
      add("table_key_index", Check::pass,
          plural(used.size(), "table without a primary key is", "tables without a primary key are") +
              " keyed by a unique index on NOT NULL columns (made their REPLICA IDENTITY when sync "
              "starts): " + name_list(used));
    if (!not_owned.empty())
      add("table_key_index", Check::warn,
          plural(not_owned.size(), "table", "tables") + " could be keyed by a unique index, but the "
              "source account does not own them: " + name_list(not_owned),
          fix);
    return keyed;
  }

  void table_keys() {
    std::vector<std::string> keyless;
    std::vector<std::uint32_t> oids, default_identity;
    for (const auto& t : schema_->tables)
      if (t.relkind == 'r' && !t.has_key && t.replica_identity == 'd') default_identity.push_back(t.oid);
    std::set<model::TableName> keyed = unique_index_keys(default_identity);
    for (const auto& t : schema_->tables)
      if (t.relkind == 'r' && !t.has_key && t.replica_identity != 'f' && !keyed.count(t.name)) {
        keyless.push_back(model::display_name(t.name));
        oids.push_back(t.oid);
      }
    if (keyless.empty()) {
      add("table_keys", Check::pass, "every selected table has a primary key or replica identity");
      return;
    }
    std::string what = plural(keyless.size(), "table has", "tables have") +
                       " no primary key or replica identity index: " + name_list(keyless);
    if (!in_.replica_identity_full) {
      add("table_keys", Check::warn,
          what + "; their UPDATEs and DELETEs are not replayed",
          "--replica-identity-full sets REPLICA IDENTITY FULL on them (or add a primary key, or "
          "ALTER TABLE ... REPLICA IDENTITY USING INDEX a non-null unique index)");
      return;
    }
    // ALTER TABLE ... REPLICA IDENTITY FULL needs the table's owner.
    std::string list = pg::oid_array(oids);
    pg::Result r = source_->exec(
        "SELECT n.nspname, c.relname FROM pg_catalog.unnest($1::oid[]) t(oid) "
        "JOIN pg_catalog.pg_class c ON c.oid = t.oid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT pg_catalog.pg_has_role(c.relowner, 'USAGE') ORDER BY 1, 2",
        {list.c_str()});
    if (r.rows() > 0) {
      std::vector<std::string> foreign;
      for (int i = 0; i < r.rows(); ++i)
        foreign.push_back(model::display_name({std::string(r.value(i, 0)), std::string(r.value(i, 1))}));
      add("table_keys", Check::fail,
          "--replica-identity-full cannot set REPLICA IDENTITY FULL on " + name_list(foreign) +
              ": \"" + src_.user + "\" does not own them",
          "run ALTER TABLE ... REPLICA IDENTITY FULL on them as their owner, or sync as the owner");
      return;
    }
    add("table_keys", Check::pass, what + "; --replica-identity-full gives them REPLICA IDENTITY FULL");
  }

  // Row filters (docs/etl.md): each one analyzes on the source (else
  // check_row_filters throws UsageError), and each filtered table needs
  // REPLICA IDENTITY FULL, so that the output plugin judges an UPDATE on
  // the old row as well as the new one: a row moving into the filter must
  // become an INSERT of the whole row (TOASTed values included, which only
  // the full old row carries), one moving out a DELETE.
  void row_filters() {
    if (in_.filters.empty() && in_.transforms.empty()) return;
    std::map<model::TableName, const schema::Table*> tables;
    std::map<model::TableName, char> relkinds;
    for (const auto& t : schema_->tables) {
      tables[t.name] = &t;
      relkinds[t.name] = t.relkind;
    }
    etl::check_row_filters(*source_, in_.filters, relkinds);
    etl::check_transforms(*source_, in_.transforms, relkinds);
    std::vector<std::string> names;
    for (const auto& f : in_.filters) names.push_back("filter of " + model::display_name(f.table));
    // The tables whose rows a rule shapes: a rule on a partitioned table
    // shapes its partitions' (schema::rule_names), which need the identity.
    std::set<model::TableName> ruled;
    for (const auto& t : schema_->tables) {
      std::vector<model::TableName> rule_names = schema::rule_names(*schema_, t);
      if (t.relkind == 'r' && (model::nearest_filter(in_.filters, rule_names) ||
                               model::any_transform(in_.transforms, rule_names)))
        ruled.insert(t.name);
    }
    for (const auto& t : in_.transforms) {
      const auto& columns = tables.at(t.table)->columns;
      bool added = std::none_of(columns.begin(), columns.end(),
                                [&](const schema::Column& c) { return c.name == t.column; });
      names.push_back("expression of " + model::display_name(t.table) + "." + t.column +
                      (added ? " (a column the source lacks: added on the destination)" : ""));
    }
    add("etl_rules", Check::pass,
        plural(names.size(), "ETL rule", "ETL rules") + " analyzed on the source: " +
            name_list(names));
    if (!in_.has_phase("incremental")) return;
    for (const auto& ruled_table : ruled) {
      const schema::Table& t = *tables.at(ruled_table);
      std::string name = model::display_name(t.name);
      if (t.replica_identity == 'f') {
        add("etl_replica_identity", Check::pass,
            name + " has REPLICA IDENTITY FULL: its rules see the whole old row of each UPDATE");
        continue;
      }
      std::string identity = t.replica_identity == 'n'   ? "NOTHING"
                             : t.replica_identity == 'i' ? "USING INDEX"
                                                         : "DEFAULT";
      if (in_.replica_identity_full) {
        add("etl_replica_identity", Check::pass,
            name + " has REPLICA IDENTITY " + identity +
                "; --replica-identity-full sets FULL before the snapshot, as its rules need");
        continue;
      }
      add("etl_replica_identity", Check::fail,
          name + " has a row filter or column expression and REPLICA IDENTITY " + identity +
              ": its UPDATEs log no whole old row, so one that moves a row into a filter "
              "cannot become the INSERT the destination needs, nor can an expression read a "
              "TOASTed value the UPDATE left unchanged",
          "run ALTER TABLE " + qualified(t.name.schema, t.name.name) +
              " REPLICA IDENTITY FULL on the source, or pass --replica-identity-full");
    }
  }

  void unsupported_objects() {
    pg::Connection& s = *source_;
    std::vector<std::string> found;
    pg::Result ext = s.exec(
        "SELECT n.nspname, c.relname, e.extname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
        "  AND d.objid = c.oid AND d.deptype = 'e' "
        "JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid "
        "WHERE c.relkind IN ('r', 'p') AND e.extname <> 'pgdts' "
        "  AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2");
    for (int i = 0; i < ext.rows(); ++i) {
      model::TableName t{std::string(ext.value(i, 0)), std::string(ext.value(i, 1))};
      if (in_.selection.includes(t))
        found.push_back("table " + model::display_name(t) + " of extension " + std::string(ext.value(i, 2)) +
                        " (not moved)");
    }
    std::string oids = pg::oid_array(table_oids_);
    pg::Result idx = s.exec(
        "SELECT n.nspname, c.relname, ic.relname FROM pg_catalog.pg_index x "
        "JOIN pg_catalog.pg_class c ON c.oid = x.indrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid "
        "WHERE x.indisunique AND x.indexprs IS NOT NULL AND NOT ic.relispartition "
        "  AND x.indrelid = ANY ($1::oid[]) ORDER BY 1, 2, 3",
        {oids.c_str()});
    for (int i = 0; i < idx.rows(); ++i)
      found.push_back("unique index " + std::string(idx.value(i, 2)) + " on an expression of " +
                      model::display_name({std::string(idx.value(i, 0)), std::string(idx.value(i, 1))}) +
                      " (not usable as a key)");
    pg::Result inh = s.exec(
        "SELECT cn.nspname, c.relname, pn.nspname, p.relname FROM pg_catalog.pg_inherits i "
        "JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace "
        "JOIN pg_catalog.pg_class p ON p.oid = i.inhparent "
        "JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace "
        "WHERE NOT c.relispartition AND c.relnamespace <> p.relnamespace "
        "  AND (i.inhrelid = ANY ($1::oid[]) OR i.inhparent = ANY ($1::oid[])) ORDER BY 1, 2",
        {oids.c_str()});
    for (int i = 0; i < inh.rows(); ++i)
      found.push_back("inheritance child " +
                      model::display_name({std::string(inh.value(i, 0)), std::string(inh.value(i, 1))}) +
                      " of " +
                      model::display_name({std::string(inh.value(i, 2)), std::string(inh.value(i, 3))}) +
                      " in another schema");
    if (found.empty()) {
      add("unsupported_objects", Check::pass, "no unsupported objects among the selected tables");
      return;
    }
    add("unsupported_objects", Check::warn, "unsupported: " + name_list(found),
        "create them on the destination yourself, or leave them out with --exclude");
  }

  void partitions() {
    std::vector<std::uint32_t> parents;
    for (const auto& t : schema_->tables)
      if (t.relkind == 'p') parents.push_back(t.oid);
    if (parents.empty()) {
      add("partitions", Check::pass, "no partitioned table selected");
      return;
    }
    std::string oids = pg::oid_array(parents);
    pg::Result r = source_->exec(
        "SELECT pn.nspname, p.relname, cn.nspname, c.relname FROM pg_catalog.pg_inherits i "
        "JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace "
        "JOIN pg_catalog.pg_class p ON p.oid = i.inhparent "
        "JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace "
        "WHERE c.relispartition AND i.inhparent = ANY ($1::oid[]) ORDER BY 1, 2, 3, 4",
        {oids.c_str()});
    // A partitioned table moves with every partition. A partition is left
    // out when an --exclude rule names it, or when the selection is by
    // schema and the partition's schema is not selected (--tables naming the
    // parent brings its partitions wherever they are).
    std::vector<std::string> left_out;
    for (int i = 0; i < r.rows(); ++i) {
      model::TableName parent{std::string(r.value(i, 0)), std::string(r.value(i, 1))};
      model::TableName part{std::string(r.value(i, 2)), std::string(r.value(i, 3))};
      bool out = in_.selection.excluded(part) ||
                 (!in_.selection.picks_tables_only() && !in_.selection.includes(part));
      if (out) left_out.push_back(model::display_name(parent) + " (partition " + model::display_name(part) + ")");
    }
    if (left_out.empty()) {
      add("partitions", Check::pass,
          "every selected partitioned table has all its partitions selected");
      return;
    }
    add("partitions", Check::fail,
        "partitioned tables whose partitions are not all selected: " + name_list(left_out),
        "a partitioned table moves with all its partitions: select them (drop the --exclude "
        "or add their schema), or leave the partitioned table out with --exclude");
  }

  void long_transactions() {
    pg::Connection& s = *source_;
    std::string secs = std::to_string(in_.long_transaction_seconds);
    pg::Result r = s.exec(
        "SELECT 'pid ' || pid || COALESCE(' (' || usename || ' on ' || datname || ')', ''), "
        "       extract(epoch FROM pg_catalog.now() - xact_start)::bigint "
        "FROM pg_catalog.pg_stat_activity "
        "WHERE backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid() "
        "  AND xact_start < pg_catalog.now() - pg_catalog.make_interval(secs => $1::int) "
        "UNION ALL "
        "SELECT 'prepared transaction ' || pg_catalog.quote_literal(gid), "
        "       extract(epoch FROM pg_catalog.now() - prepared)::bigint "
        "FROM pg_catalog.pg_prepared_xacts "
        "WHERE prepared < pg_catalog.now() - pg_catalog.make_interval(secs => $1::int) "
        "ORDER BY 2 DESC",
        {secs.c_str()});
    bool sees_all =
        src_.superuser ||
        s.exec("SELECT pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')").value(0, 0) == "t";
    std::string limit = in_.long_transaction_seconds % 60 == 0
                            ? plural(in_.long_transaction_seconds / 60, "minute", "minutes")
                            : plural(in_.long_transaction_seconds, "second", "seconds");
    std::string caveat = sees_all ? "" : " (among the sessions \"" + src_.user +
                                             "\" may see; pg_read_all_stats sees all)";
    if (r.rows() == 0) {
      add("long_transactions", Check::pass,
          "no transaction open longer than " + limit + caveat);
      return;
    }
    std::vector<std::string> found;
    for (int i = 0; i < r.rows(); ++i)
      found.push_back(std::string(r.value(i, 0)) + " open for " + duration_text(pg::to_int64(r.value(i, 1))));
    add("long_transactions", Check::warn,
        "transactions open longer than " + limit + ": " + name_list(found) +
            "; a replication slot cannot be created before they end",
        "let them finish, or end them (pg_terminate_backend(pid), ROLLBACK PREPARED)");
  }

  // ---- destination ----------------------------------------------------------

  void target_checks() {
    try {
      guard("target_privileges", [&] { create_privileges(); });
      if (schema_) guard("conflicting_tables", [&] { conflicting_tables(); });
      if (schema_) guard("tables_of_other_tasks", [&] { tables_of_other_tasks(); });
      guard("replica_role_privilege", [&] { replica_role_privilege(); });
    } catch (const pg::ConnectionError&) {
      target_.reset();
    }
  }

  void create_privileges() {
    pg::Connection& d = *target_;
    // pgdts' own state (schema pgdts), and the mapped schemas schema sync creates in.
    std::vector<std::string> schemas = {"pgdts"};
    if (schema_ && in_.has_phase("schema") && schema_phase_pending(dest_phase_))
      for (const auto& s : schema_->schemas) {
        std::string mapped = in_.names.schema(s);
        if (std::find(schemas.begin(), schemas.end(), mapped) == schemas.end())
          schemas.push_back(mapped);
      }
    std::string list = pg::text_array(schemas);
    pg::Result r = d.exec(
        "SELECT s, n.oid IS NOT NULL, "
        "  CASE WHEN n.oid IS NULL "
        "       THEN pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') "
        "       ELSE pg_catalog.has_schema_privilege(n.oid, 'CREATE') END "
        "FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY u(s, ord) "
        "LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = u.s ORDER BY u.ord",
        {list.c_str()});
    std::vector<std::string> denied, fixes;
    bool need_database = false;
    std::string user = sql_name(dst_.user);
    for (int i = 0; i < r.rows(); ++i) {
      if (r.value(i, 2) == "t") continue;
      std::string schema(r.value(i, 0));
      if (r.value(i, 1) == "t") {
        denied.push_back("schema " + schema);
        fixes.push_back("GRANT CREATE ON SCHEMA " + sql_name(schema) + " TO " + user);
      } else {
        denied.push_back("schema " + schema + " (to be created)");
        need_database = true;
      }
    }
    if (need_database)
      fixes.push_back("GRANT CREATE ON DATABASE " + sql_name(dst_.database) + " TO " + user);
    if (denied.empty()) {
      add("target_privileges", Check::pass,
          "\"" + dst_.user + "\" may create in " + plural(schemas.size(), "schema", "schemas") +
              " (" + name_list(schemas) + ")");
      return;
    }
    std::string fix;
    for (const auto& f : fixes) fix += (fix.empty() ? "run " : "; ") + f;
    add("target_privileges", Check::fail,
        "destination account \"" + dst_.user + "\" may not create in " + name_list(denied), fix);
  }

  void conflicting_tables() {
    pg::Connection& d = *target_;
    bool creates = in_.has_phase("schema") && schema_phase_pending(dest_phase_);
    std::vector<model::TableName> existing = schema::existing_tables(d, *schema_, in_.names);
    std::vector<std::string> names;
    for (const auto& t : existing) names.push_back(model::display_name(t));
    if (!creates) {
      // The tables must be there already.
      std::size_t missing = schema_->tables.size() - existing.size();
      if (missing > 0 && !in_.has_phase("schema")) {
        std::set<model::TableName> have(existing.begin(), existing.end());
        std::vector<std::string> absent;
        for (const auto& t : schema_->tables)
          if (!have.count(in_.names.table(t.name))) absent.push_back(model::display_name(in_.names.table(t.name)));
        add("conflicting_tables", Check::warn,
            "the schema phase does not run and the destination lacks " + name_list(absent),
            "create them on the destination, or add schema to --phases");
        return;
      }
      add("conflicting_tables", Check::pass,
          dest_phase_ ? "task " + in_.task + " is past its schema phase (" + *dest_phase_ + ")"
                      : "the schema phase does not run: the tables exist on the destination");
      return;
    }
    if (existing.empty()) {
      add("conflicting_tables", Check::pass, "no selected table exists on the destination");
      return;
    }
    if (in_.conflict_ignore) {
      add("conflicting_tables", Check::pass,
          plural(existing.size(), "table exists", "tables exist") +
              " on the destination and will be synced into (--conflict ignore): " + name_list(names));
      return;
    }
    add("conflicting_tables", Check::fail,
        std::string(existing.size() == 1 ? "selected table " : "selected tables ") +
            name_list(names) + (existing.size() == 1 ? " already exists" : " already exist") +
            " on the destination",
        "drop them, leave them out with --exclude, or use --conflict ignore to sync into "
        "existing tables");
  }

  // Two tasks feeding one destination table interleave two sources' rows
  // under two origins: neither verify nor exactly-once can hold for it.
  void tables_of_other_tasks() {
    std::vector<model::TableName> tables;
    for (const auto& t : schema_->tables) tables.push_back(in_.names.table(t.name));
    if (in_.task_tables_out) *in_.task_tables_out = tables;
    auto shared = store::TaskStore(*target_).tables_of_other_tasks(in_.task, tables);
    if (shared.empty()) {
      add("tables_of_other_tasks", Check::pass,
          "no selected table is fed by another task on this destination");
      return;
    }
    std::vector<std::string> names;
    for (const auto& [table, other] : shared)
      names.push_back(model::display_name(table) + " (task " + other + ")");
    add("tables_of_other_tasks", Check::fail,
        std::string(shared.size() == 1 ? "table " : "tables ") + name_list(names) +
            (shared.size() == 1 ? " is" : " are") + " already fed by another task",
        "leave them out of this task with --exclude (or map them elsewhere with --map), or "
        "pgdts release the other task first");
  }

  void replica_role_privilege() {
    pg::Connection& d = *target_;
    bool may = dst_.superuser;
    if (!may && dst_.version_num >= 150000)
      may = d.exec("SELECT pg_catalog.has_parameter_privilege('session_replication_role', 'SET')")
                .value(0, 0) == "t";
    if (may) {
      add("replica_role_privilege", Check::pass,
          "\"" + dst_.user + "\" may set session_replication_role: triggers and foreign keys do "
          "not fire on replayed changes");
      return;
    }
    add("replica_role_privilege", Check::warn,
        "destination account \"" + dst_.user + "\" may not set session_replication_role: "
        "triggers and foreign keys fire on replayed changes",
        dst_.version_num >= 150000
            ? "run GRANT SET ON PARAMETER session_replication_role TO " + sql_name(dst_.user) +
                  " as a superuser"
            : "sync as a superuser on the destination");
  }

  // Who owns the objects on the destination and whose rights replayed DDL
  // and rows run with (docs/security.md): a role must never have more
  // rights there than on the source.
  void ownership() {
    if (in_.no_owner) return owner_role();
    std::vector<std::string> schemas = schema_ ? schema_->schemas : std::vector<std::string>{};
    std::vector<std::uint32_t> relations = table_oids_, types;
    if (schema_) {
      for (const auto& q : schema_->sequences) relations.push_back(q.oid);
      for (const auto& t : schema_->types) types.push_back(t.oid);
    }
    std::string oids = pg::oid_array(relations), names = pg::text_array(schemas);
    std::string type_oids = pg::oid_array(types);
    // Owners of the selected tables, sequences, types and schemas (t), and the roles that may
    // create objects in those schemas, so run DDL there (f).
    pg::Result src = source_->exec(
        "SELECT r.rolname, r.rolsuper, pg_catalog.bool_or(o.owner) FROM ("
        " SELECT c.relowner AS role, true AS owner FROM pg_catalog.pg_class c"
        "  WHERE c.oid = ANY ($1::oid[])"
        " UNION ALL SELECT n.nspowner, true FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY ($2::text[])"
        " UNION ALL SELECT t.typowner, true FROM pg_catalog.pg_type t WHERE t.oid = ANY ($3::oid[])"
        " UNION ALL SELECT r.oid, false FROM pg_catalog.pg_roles r, pg_catalog.pg_namespace n"
        "  WHERE n.nspname = ANY ($2::text[]) AND r.rolcanlogin"
        "    AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE')) o"
        " JOIN pg_catalog.pg_roles r ON r.oid = o.role GROUP BY 1, 2 ORDER BY 1",
        {oids.c_str(), names.c_str(), type_oids.c_str()});
    std::vector<std::string> roles;
    for (int i = 0; i < src.rows(); ++i) roles.emplace_back(src.value(i, 0));
    std::string role_list = pg::text_array(roles);
    pg::Result dst = target_->exec(
        "SELECT rolname, rolsuper FROM pg_catalog.pg_roles WHERE rolname = ANY ($1::text[])",
        {role_list.c_str()});
    std::map<std::string, bool> dest_super;
    for (int i = 0; i < dst.rows(); ++i) dest_super[std::string(dst.value(i, 0))] = dst.value(i, 1) == "t";
    std::vector<std::string> missing_owners, missing_creators, raised;
    for (int i = 0; i < src.rows(); ++i) {
      std::string role(src.value(i, 0));
      auto found = dest_super.find(role);
      if (found == dest_super.end())
        (src.value(i, 2) == "t" ? missing_owners : missing_creators).push_back(role);
      else if (found->second && src.value(i, 1) != "t")
        raised.push_back(role);
    }
    if (!raised.empty())
      return add("ownership", Check::fail,
                 "role(s) " + name_list(raised) +
                     " are superusers on the destination but not on the source: what they run "
                     "on the source would run there as superuser",
                 "ALTER ROLE ... NOSUPERUSER on the destination, or sync with --no-owner "
                 "--owner-role a non-superuser role");
    if (!missing_owners.empty())
      return add("ownership", Check::fail,
                 "the owners of selected objects do not exist on the destination: " +
                     name_list(missing_owners),
                 "create them there (pg_dumpall --roles-only on the source, then psql on the "
                 "destination), or sync with --no-owner");
    if (!missing_creators.empty())
      return add("ownership", Check::warn,
                 "roles that may create objects in the selected schemas do not exist on the "
                 "destination: " + name_list(missing_creators) +
                     "; DDL they run stops the task until they do",
                 "create them there (pg_dumpall --roles-only), or sync with --no-owner");
    add("ownership", Check::pass,
        "objects keep their source owners (" + plural(roles.size(), "role", "roles") +
            ", all on the destination); replayed DDL runs as the role that ran it");
  }

  void owner_role() {
    pg::Result r = target_->exec(
        "SELECT rolname, rolsuper FROM pg_catalog.pg_roles WHERE rolname = "
        "coalesce(nullif($1, ''), current_user)",
        {in_.owner_role.c_str()});
    std::string name = in_.owner_role.empty() ? "the --target user" : in_.owner_role;
    if (r.rows() == 0)
      return add("ownership", Check::fail,
                 "--owner-role \"" + name + "\" does not exist on the destination",
                 "CREATE ROLE it there, or name another one");
    name = std::string(r.value(0, 0));
    if (r.value(0, 1) != "t")
      return add("ownership", Check::pass,
                 "--no-owner: \"" + name + "\" owns every object created and runs every replayed DDL");
    if (!in_.trust_source)
      return add("ownership", Check::fail,
                 "--no-owner: the owner role \"" + name +
                     "\" is a superuser; every source role that can create a table could run "
                     "code as superuser on the destination",
                 "--owner-role a role without superuser (CREATE ROLE app_owner; GRANT CREATE ON "
                 "DATABASE ... TO app_owner), or --trust-source if every source role is trusted");
    add("ownership", Check::warn,
        "--no-owner --trust-source: superuser \"" + name +
            "\" owns everything and runs what any source role sends");
  }

  void versions() {
    std::string text = "source PostgreSQL " + version_text(src_.version_num) + ", destination " +
                       version_text(dst_.version_num);
    if (dst_.version_num / 10000 < src_.version_num / 10000) {
      add("server_versions", Check::warn,
          text + ": the destination is older; DDL or types the source has may not exist there",
          "use a destination of the source's major version or newer");
      return;
    }
    add("server_versions", Check::pass, text);
  }

  struct Side {
    std::string user, database;
    int version_num = 0;
    bool superuser = false;
  };

  const PrecheckInput& in_;
  std::vector<Check> out_;
  std::optional<pg::Connection> source_, target_;
  Side src_, dst_;
  std::optional<std::string> dest_phase_;
  bool extension_installed_ = false;
  std::optional<schema::SourceSchema> schema_;
  std::vector<std::uint32_t> table_oids_;
};

}  // namespace

int PrecheckInput::default_long_transaction_seconds() {
  // Test-only: the integration tests cannot keep a transaction open for 5 minutes.
  if (const char* env = std::getenv("PGDTS_TEST_LONG_TXN_SECONDS")) {
    int v = 0;
    auto [p, ec] = std::from_chars(env, env + std::char_traits<char>::length(env), v);
    if (ec == std::errc() && *p == '\0' && v > 0) return v;
  }
  return kLongTransactionSeconds;
}

bool PrecheckInput::has_phase(const std::string& phase) const {
  return std::find(phases.begin(), phases.end(), phase) != phases.end();
}

std::vector<Check> run_prechecks(const PrecheckInput& input) { return Prechecks(input).run(); }

Check::Status overall(const std::vector<Check>& checks) {
  Check::Status worst = Check::pass;
  for (const auto& c : checks) worst = std::max(worst, c.status);
  return worst;
}

const char* status_word(Check::Status s) {
  return s == Check::pass ? "PASS" : s == Check::warn ? "WARN" : "FAIL";
}

const char* status_name(Check::Status s) {
  return s == Check::pass ? "pass" : s == Check::warn ? "warn" : "fail";
}

std::string format_line(const Check& c) {
  std::string line = std::string(status_word(c.status)) + "  " + c.name + "  " + c.message;
  if (c.status != Check::pass && !c.fix.empty()) line += "; fix: " + c.fix;
  return line;
}

std::string summary_line(const std::vector<Check>& checks) {
  std::size_t n[3] = {0, 0, 0};
  for (const auto& c : checks) ++n[c.status];
  return "precheck: " + std::to_string(n[Check::pass]) + " passed, " +
         plural(n[Check::warn], "warning", "warnings") + ", " + std::to_string(n[Check::fail]) +
         " failed";
}

std::string name_list(const std::vector<std::string>& names, std::size_t limit) {
  std::string out;
  std::size_t shown = std::min(names.size(), limit);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i) out += i + 1 == shown && shown == names.size() ? " and " : ", ";
    out += names[i];
  }
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

PrecheckInput precheck_input(const model::Options& o) {
  PrecheckInput in;
  in.source = o.source;
  in.target = o.target;
  in.task = o.task;
  in.selection = o.selection;
  in.names = o.names;
  in.filters = o.filters;
  in.transforms = o.transforms;
  in.phases = o.phases;
  in.conflict_ignore = o.conflict_ignore;
  in.replica_identity_full = o.replica_identity_full;
  in.no_owner = o.no_owner;
  in.owner_role = o.owner_role;
  in.trust_source = o.trust_source;
  in.application_name = store::application_name(o.task);
  return in;
}

}  // namespace pgdts::task
