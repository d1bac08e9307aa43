#include "store/task_store.h"

#include "error.h"
#include "pg/literals.h"
#include "pg/transaction.h"
#include "secrets/redact.h"

namespace pgdts::store {
namespace {

constexpr const char* kCreate =
    "CREATE SCHEMA IF NOT EXISTS pgdts;"
    "CREATE TABLE IF NOT EXISTS pgdts.task ("
    "  task text PRIMARY KEY,"
    "  phase text NOT NULL,"
    "  slot_name text NOT NULL,"
    "  source_system_identifier text NOT NULL,"
    "  source_database text NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  last_error text);"
    "ALTER TABLE pgdts.task ADD COLUMN IF NOT EXISTS snapshot_lsn pg_lsn,"
    "  ADD COLUMN IF NOT EXISTS latency_ms bigint,"
    "  ADD COLUMN IF NOT EXISTS latency_at timestamptz,"
    "  ADD COLUMN IF NOT EXISTS task_options text[],"
    "  ADD COLUMN IF NOT EXISTS throttles text,"
    "  ADD COLUMN IF NOT EXISTS applied_changes bigint,"
    "  ADD COLUMN IF NOT EXISTS skipped_changes bigint,"
    "  ADD COLUMN IF NOT EXISTS changes_per_second double precision,"
    "  ADD COLUMN IF NOT EXISTS deferred_fk_tables text[],"
    "  ADD COLUMN IF NOT EXISTS deferred_fk_names text[],"
    "  ADD COLUMN IF NOT EXISTS deferred_fk_creates text[],"
    "  ADD COLUMN IF NOT EXISTS fks_valid_after pg_lsn,"
    "  ADD COLUMN IF NOT EXISTS recopy boolean NOT NULL DEFAULT false,"
    "  ADD COLUMN IF NOT EXISTS repair_key text;"
    // The destination tables each task feeds: precheck refuses a second
    // task that would feed one of them (its origin would interleave).
    "CREATE TABLE IF NOT EXISTS pgdts.task_table ("
    "  task text NOT NULL REFERENCES pgdts.task ON DELETE CASCADE,"
    "  dest_schema text NOT NULL,"
    "  dest_table text NOT NULL,"
    "  PRIMARY KEY (task, dest_schema, dest_table))";

// Schemas and names of tables as two text[] literals, for unnest($1, $2).
std::pair<std::string, std::string> name_arrays(const std::vector<model::TableName>& tables) {
  std::vector<std::string> schemas, names;
  for (const auto& t : tables) {
    schemas.push_back(t.schema);
    names.push_back(t.name);
  }
  return {pg::text_array(schemas), pg::text_array(names)};
}

}  // namespace

// The nested hash keeps a signature from being extended to a longer message
// (sha256 alone over key || message could be); in SQL, so the key is never
// read out of the destination.
constexpr const char* kRepairSignature =
    "pg_catalog.sha256(k.key || pg_catalog.sha256(k.key || $2::bytea))";
constexpr const char* kRepairKey =
    "(SELECT pg_catalog.convert_to(repair_key, 'UTF8') AS key FROM pgdts.task WHERE task = $1 "
    "AND repair_key IS NOT NULL) k";

std::string TaskStore::repair_signature(const std::string& task, const std::string& payload) {
  dest_.exec("UPDATE pgdts.task SET repair_key = pg_catalog.gen_random_uuid()::text WHERE task = $1 "
             "AND repair_key IS NULL",
             {task.c_str()});
  pg::Result r = dest_.exec(std::string("SELECT pg_catalog.encode(") + kRepairSignature + ", 'hex') FROM " + kRepairKey,
                            {task.c_str(), payload.c_str()});
  if (r.rows() != 1) throw Error("task \"" + task + "\" has no row in pgdts.task on the destination: no sync ran for it");
  return std::string(r.value(0, 0));
}

bool TaskStore::repair_signature_matches(const std::string& task, const std::string& payload,
                                         const std::string& signature) {
  if (signature.size() != 64 || signature.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  pg::Result r = dest_.exec(std::string("SELECT ") + kRepairSignature + " = pg_catalog.decode($3, 'hex') FROM " + kRepairKey,
                            {task.c_str(), payload.c_str(), signature.c_str()});
  return r.rows() == 1 && r.value(0, 0) == "t";
}

bool TaskStore::has_table(const char* qualified) {
  return dest_.exec("SELECT pg_catalog.to_regclass($1) IS NOT NULL", {qualified}).value(0, 0) == "t";
}

TaskPhase TaskStore::register_task(const std::string& task, const std::string& phase,
                                   const std::string& slot, const SourceIdentity& source) {
  try {
    dest_.exec(kCreate);
  } catch (const pg::SqlError& e) {
    // Two tasks creating the schema at once: one loses the race (unique
    // violation on the catalog); the objects exist now.
    if (e.sqlstate() != "23505" && e.sqlstate() != "42P06" && e.sqlstate() != "42P07") throw;
    dest_.exec(kCreate);
  }
  dest_.exec(
      "INSERT INTO pgdts.task (task, phase, slot_name, source_system_identifier, source_database) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (task) DO NOTHING",
      {task.c_str(), phase.c_str(), slot.c_str(), source.system_id.c_str(),
       source.database.c_str()});
  pg::Result r = dest_.exec(
      "SELECT source_system_identifier, source_database, phase, snapshot_lsn, recopy "
      "FROM pgdts.task WHERE task = $1",
      {task.c_str()});
  if (r.rows() != 1) throw Error("task \"" + task + "\" vanished from pgdts.task on the destination");
  std::string system_id(r.value(0, 0)), database(r.value(0, 1));
  if (system_id != source.system_id || database != source.database)
    throw Error("task \"" + task + "\" on the destination belongs to source database \"" +
                database + "\" of system " + system_id + ", not to database \"" +
                source.database + "\" of system " + source.system_id +
                "; use another --task, or run pgdts release for the old one first");
  TaskPhase where{std::string(r.value(0, 2)), 0, r.value(0, 4) == "t"};
  if (!r.is_null(0, 3)) where.snapshot_lsn = pg::parse_lsn(r.value(0, 3)).value_or(0);
  dest_.exec("UPDATE pgdts.task SET updated_at = now(), last_error = NULL WHERE task = $1",
             {task.c_str()});
  return where;
}

std::string TaskStore::phase(const std::string& task) {
  pg::Result r = dest_.exec("SELECT phase FROM pgdts.task WHERE task = $1", {task.c_str()});
  if (r.rows() != 1) throw Error("task \"" + task + "\" has no row in pgdts.task on the destination");
  return std::string(r.value(0, 0));
}

TaskPhase TaskStore::where(const std::string& task) {
  pg::Result r = dest_.exec("SELECT phase, snapshot_lsn, recopy FROM pgdts.task WHERE task = $1",
                            {task.c_str()});
  if (r.rows() != 1) throw Error("task \"" + task + "\" has no row in pgdts.task on the destination");
  TaskPhase where{std::string(r.value(0, 0)), 0, r.value(0, 2) == "t"};
  if (!r.is_null(0, 1)) where.snapshot_lsn = pg::parse_lsn(r.value(0, 1)).value_or(0);
  return where;
}

void TaskStore::set_phase(const std::string& task, const std::string& phase) {
  dest_.exec("UPDATE pgdts.task SET phase = $2, recopy = recopy AND $2 IN ('full', 'post_data'), "
             "updated_at = now() WHERE task = $1",
             {task.c_str(), phase.c_str()});
}

void TaskStore::start_recopy(const std::string& task) {
  dest_.exec("UPDATE pgdts.task SET phase = 'full', snapshot_lsn = NULL, recopy = true, "
             "latency_ms = NULL, latency_at = NULL, updated_at = now() WHERE task = $1",
             {task.c_str()});
}

void TaskStore::set_apply_progress(const std::string& task, const ApplyProgress& p) {
  std::string ms = p.latency_ms ? std::to_string(*p.latency_ms) : "";
  std::string applied = std::to_string(p.applied_changes), skipped = std::to_string(p.skipped_changes);
  std::string rate = std::to_string(p.changes_per_second);
  const char* latency = p.latency_ms ? ms.c_str() : nullptr;
  dest_.exec("UPDATE pgdts.task SET latency_ms = coalesce($2::bigint, latency_ms), "
             "latency_at = CASE WHEN $2 IS NULL THEN latency_at ELSE now() END, "
             "applied_changes = $3, skipped_changes = $4, changes_per_second = $5 WHERE task = $1",
             {task.c_str(), latency, applied.c_str(), skipped.c_str(), rate.c_str()});
}

void TaskStore::set_settings(const std::string& task, const std::vector<std::string>& object_args,
                             const std::string& throttles) {
  std::string args = pg::text_array(object_args);
  dest_.exec("UPDATE pgdts.task SET task_options = $2::text[], throttles = $3 WHERE task = $1",
             {task.c_str(), args.c_str(), throttles.c_str()});
}

std::vector<std::string> TaskStore::stored_task_options(const std::string& task) {
  std::vector<std::string> args;
  if (!has_table("pgdts.task")) return args;
  pg::Result r = dest_.exec(
      "SELECT a FROM pgdts.task, unnest(task_options) WITH ORDINALITY AS o(a, n) WHERE task = $1 "
      "ORDER BY n",
      {task.c_str()});
  for (int i = 0; i < r.rows(); ++i) args.emplace_back(r.value(i, 0));
  return args;
}

void TaskStore::claim_tables(const std::string& task, const std::vector<model::TableName>& tables) {
  auto [s, n] = name_arrays(tables);
  pg::Transaction txn(dest_);
  dest_.exec("DELETE FROM pgdts.task_table WHERE task = $1", {task.c_str()});
  dest_.exec("INSERT INTO pgdts.task_table SELECT $1, s, t FROM unnest($2::text[], $3::text[]) u(s, t) "
             "ON CONFLICT DO NOTHING",
             {task.c_str(), s.c_str(), n.c_str()});
  txn.commit();
}

std::vector<std::pair<model::TableName, std::string>> TaskStore::tables_of_other_tasks(
    const std::string& task, const std::vector<model::TableName>& tables) {
  std::vector<std::pair<model::TableName, std::string>> shared;
  if (tables.empty() || !has_table("pgdts.task_table")) return shared;
  auto [s, n] = name_arrays(tables);
  pg::Result r = dest_.exec(
      "SELECT tt.dest_schema, tt.dest_table, tt.task FROM pgdts.task_table tt "
      "JOIN pgdts.task k ON k.task = tt.task "
      "JOIN unnest($2::text[], $3::text[]) u(s, t) ON u.s = tt.dest_schema AND u.t = tt.dest_table "
      // A task copied without its incremental phase feeds nothing any more.
      "WHERE tt.task <> $1 AND k.phase <> 'copied' ORDER BY 1, 2, 3",
      {task.c_str(), s.c_str(), n.c_str()});
  for (int i = 0; i < r.rows(); ++i)
    shared.push_back({{std::string(r.value(i, 0)), std::string(r.value(i, 1))}, std::string(r.value(i, 2))});
  return shared;
}

void TaskStore::set_snapshot_lsn(const std::string& task, pg::Lsn lsn) {
  std::string text = pg::format_lsn(lsn);
  dest_.exec("UPDATE pgdts.task SET snapshot_lsn = $2::pg_lsn, updated_at = now() WHERE task = $1",
             {task.c_str(), text.c_str()});
}

void TaskStore::set_last_error(const std::string& task, const std::string& raw) {
  std::string error = secrets::redact(raw);  // a stored error is an output too
  dest_.exec(
      "UPDATE pgdts.task SET last_error = $2, updated_at = now() WHERE task = $1 "
      "AND pg_catalog.to_regclass('pgdts.task') IS NOT NULL",
      {task.c_str(), error.c_str()});
}

void TaskStore::clear_last_error(const std::string& task) {
  dest_.exec("UPDATE pgdts.task SET last_error = NULL, updated_at = now() WHERE task = $1 "
             "AND pg_catalog.to_regclass('pgdts.task') IS NOT NULL",
             {task.c_str()});
}

bool TaskStore::remove_task(const std::string& task) {
  if (!has_table("pgdts.task")) return false;
  pg::Result r = dest_.exec("DELETE FROM pgdts.task WHERE task = $1 RETURNING 1", {task.c_str()});
  bool removed = r.rows() > 0;
  pg::Result left = dest_.exec("SELECT count(*) FROM pgdts.task");
  if (left.value(0, 0) == "0") {
    // Leave nothing behind once the last task is gone, unless somebody else
    // keeps objects in schema pgdts. The run_as functions (rights/run_as.h)
    // are the tasks' own, shared by them all.
    dest_.exec(
        "DO $$DECLARE f regprocedure; BEGIN "
        "FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = p.pronamespace WHERE n.nspname = 'pgdts' "
        "    AND (p.proname ~ '^run_as_[0-9]+$' OR p.proname = 'run_as_refused') LOOP "
        "  EXECUTE 'DROP FUNCTION ' || f::text; "
        "END LOOP; "
        "IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = c.relnamespace WHERE n.nspname = 'pgdts' AND c.relkind IN ('r','v','m','S','f','p') "
        "    AND c.relname NOT IN ('task', 'table_sync', 'task_table')) "
        "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = p.pronamespace WHERE n.nspname = 'pgdts') "
        "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n "
        "    ON n.oid = t.typnamespace WHERE n.nspname = 'pgdts' AND t.typrelid = 0 AND t.typelem = 0) "
        "THEN DROP TABLE IF EXISTS pgdts.table_sync; DROP TABLE IF EXISTS pgdts.task_table; "
        "DROP TABLE pgdts.task; DROP SCHEMA pgdts; "
        "END IF; END$$");
  }
  return removed;
}

std::optional<std::string> TaskStore::find_phase(const std::string& task) {
  if (!has_table("pgdts.task")) return std::nullopt;
  pg::Result r = dest_.exec("SELECT phase FROM pgdts.task WHERE task = $1", {task.c_str()});
  if (r.rows() != 1) return std::nullopt;
  return std::string(r.value(0, 0));
}

std::optional<StoredStatus> TaskStore::status(const std::string& task) {
  if (!has_table("pgdts.task")) return std::nullopt;
  std::string origin = origin_name(task);
  pg::Result r = dest_.exec(
      "SELECT t.phase, t.last_error, t.updated_at::text, t.snapshot_lsn::text,"
      " (SELECT os.remote_lsn::text FROM pg_catalog.pg_replication_origin o"
      "  JOIN pg_catalog.pg_replication_origin_status os ON os.local_id = o.roident"
      "  WHERE o.roname = $2),"
      " t.latency_ms, extract(epoch FROM now() - t.latency_at),"
      " t.applied_changes, t.skipped_changes, t.changes_per_second, t.throttles"
      " FROM pgdts.task t WHERE t.task = $1",
      {task.c_str(), origin.c_str()});
  if (r.rows() != 1) return std::nullopt;
  StoredStatus s;
  s.phase = std::string(r.value(0, 0));
  s.last_error = r.optional(0, 1);
  s.updated_at = std::string(r.value(0, 2));
  s.snapshot_lsn = r.optional(0, 3);
  s.applied_lsn = r.optional(0, 4);
  if (!r.is_null(0, 5)) s.latency_ms = pg::to_int64(r.value(0, 5));
  if (!r.is_null(0, 6)) s.latency_age_seconds = std::stod(std::string(r.value(0, 6)));
  if (!r.is_null(0, 7)) s.applied_changes = pg::to_int64(r.value(0, 7));
  if (!r.is_null(0, 8)) s.skipped_changes = pg::to_int64(r.value(0, 8));
  if (!r.is_null(0, 9)) s.changes_per_second = std::stod(std::string(r.value(0, 9)));
  s.throttles = r.optional(0, 10);
  return s;
}

void TaskStore::defer_foreign_keys(const std::string& task,
                                   const std::vector<WaitingForeignKey>& keys, pg::Lsn after) {
  std::vector<std::string> tables, names, creates;
  for (const auto& k : keys) {
    tables.push_back(k.table);
    names.push_back(k.constraint);
    creates.push_back(k.create_sql);
  }
  std::string t = pg::text_array(tables), n = pg::text_array(names), c = pg::text_array(creates);
  std::string lsn = pg::format_lsn(after);
  dest_.exec("UPDATE pgdts.task SET deferred_fk_tables = $2::text[], deferred_fk_names = $3::text[], "
             "deferred_fk_creates = $4::text[], fks_valid_after = $5::pg_lsn WHERE task = $1",
             {task.c_str(), t.c_str(), n.c_str(), c.c_str(), lsn.c_str()});
}

TaskStore::ForeignKeysWaiting TaskStore::foreign_keys_waiting(const std::string& task) {
  std::string origin = origin_name(task);
  pg::Result r = dest_.exec(
      "SELECT t.fks_valid_after IS NOT NULL,"
      " coalesce(pg_catalog.pg_replication_origin_progress($2, true) >= t.fks_valid_after, false)"
      " FROM pgdts.task t WHERE t.task = $1",
      {task.c_str(), origin.c_str()});
  if (r.rows() == 0) return {};
  return {r.value(0, 0) == "t", r.value(0, 1) == "t"};
}

std::vector<WaitingForeignKey> TaskStore::waiting_foreign_keys(const std::string& task) {
  pg::Result r = dest_.exec(
      "SELECT k.t, k.n, coalesce(k.c, ''),"
      " EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x WHERE x.conrelid = k.t::regclass"
      "         AND '\"' || pg_catalog.replace(x.conname, '\"', '\"\"') || '\"' = k.n)"
      " FROM pgdts.task, unnest(deferred_fk_tables, deferred_fk_names, deferred_fk_creates) AS k(t, n, c)"
      " WHERE task = $1",
      {task.c_str()});
  std::vector<WaitingForeignKey> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({std::string(r.value(i, 0)), std::string(r.value(i, 1)),
                   std::string(r.value(i, 2)), r.value(i, 3) == "t"});
  return out;
}

void TaskStore::forget_foreign_keys(const std::string& task) {
  dest_.exec("UPDATE pgdts.task SET deferred_fk_tables = NULL, deferred_fk_names = NULL, "
             "deferred_fk_creates = NULL, fks_valid_after = NULL WHERE task = $1",
             {task.c_str()});
}

}  // namespace pgdts::store
