#include "cli/initial_sync.h"

#include <algorithm>

#include "apply/origin.h"
#include "error.h"
#include "fullsync/full_sync.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "pg/replication_stream.h"
#include "schema/schema_sync.h"
#include "task/deferred_fks.h"
#include "task/task_slot.h"
#include "task/task_state.h"

namespace pgdts::cli {
namespace {

std::string application_name(const Options& o) { return task::application_name(o.task); }

pg::Connection open_side(const pg::ConnInfo& info, const char* side, const Options& o) {
  return pg::Connection::open(info, {side, false, application_name(o), ""});
}

std::string copy_slot_name(const std::string& task) { return "dts_copy_" + task; }

bool before(const std::string& phase, const std::string& later) {
  static const std::vector<std::string> order = {"schema", "full", "post_data", "incremental",
                                                 "copied"};
  auto at = [](const std::string& p) { return std::find(order.begin(), order.end(), p) - order.begin(); };
  return at(phase) < at(later);
}

// Tables without a key, and tables with a row filter or a column
// expression (which need an UPDATE's whole old row, docs/etl.md), get
// REPLICA IDENTITY FULL before the snapshot, so that every UPDATE and DELETE
// after it carries the old row.
void set_replica_identity_full(pg::Connection& source, const schema::SourceSchema& schema,
                               const Options& o) {
  for (const auto& t : schema.tables) {
    if (t.relkind != 'r' || t.replica_identity == 'f') continue;
    bool ruled = etl::find_filter(o.filters, t.name) ||
                 std::any_of(o.transforms.begin(), o.transforms.end(),
                             [&](const etl::ColumnTransform& x) { return x.table == t.name; });
    if (t.has_key && !ruled) continue;
    source.exec("ALTER TABLE " + source.identifier(t.name.schema) + "." +
                source.identifier(t.name.name) + " REPLICA IDENTITY FULL");
    log::Event("replica_identity_full_set").field("table", task::display_name(t.name)).info();
  }
}

schema::SourceSchema read_schema_at(pg::Connection& source, const Options& o,
                                    const std::string& snapshot) {
  source.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!snapshot.empty()) source.exec("SET TRANSACTION SNAPSHOT " + source.literal(snapshot));
  schema::SourceSchema schema = schema::read_source_schema(source, o.selection);
  source.exec("COMMIT");
  return schema;
}

// Who owns what schema sync creates: the source's owners, or with
// --no-owner --owner-role (or, without it, the --target user).
schema::Ownership ownership(const Options& o) { return {!o.no_owner, o.owner_role}; }

void refuse_conflicts(pg::Connection& dest, const schema::SourceSchema& schema, const Options& o) {
  std::vector<task::TableName> existing = schema::existing_tables(dest, schema, o.names);
  if (existing.empty()) return;
  std::string names;
  for (std::size_t i = 0; i < existing.size() && i < 5; ++i)
    names += (i ? ", " : "") + task::display_name(existing[i]);
  if (existing.size() > 5) names += " and " + std::to_string(existing.size() - 5) + " more";
  throw ConflictError(std::string(existing.size() == 1 ? "table " : "tables ") + names +
                      (existing.size() == 1 ? " already exists" : " already exist") +
                      " on the destination; drop " + (existing.size() == 1 ? "it" : "them") +
                      ", leave " + (existing.size() == 1 ? "it" : "them") +
                      " out with --exclude, or use --conflict ignore to sync into "
                      "existing tables");
}

// A resync copies into the tables the destination has; a table created on
// the source while the slot was lost never reached it (its CREATE TABLE was
// in the lost changes).
void require_destination_tables(pg::Connection& dest, const schema::SourceSchema& schema,
                                const Options& o) {
  std::vector<task::TableName> existing = schema::existing_tables(dest, schema, o.names);
  std::set<task::TableName> have(existing.begin(), existing.end());
  std::string missing;
  int count = 0;
  for (const auto& t : schema.tables) {
    task::TableName dest_name = o.names.table(t.name);
    if (have.count(dest_name)) continue;
    if (count++ < 5) missing += (missing.empty() ? "" : ", ") + task::display_name(dest_name);
  }
  if (count == 0) return;
  if (count > 5) missing += " and " + std::to_string(count - 5) + " more";
  throw Error("resync of task \"" + o.task + "\": " + missing +
              (count == 1 ? " does" : " do") + " not exist on the destination (created on the "
              "source while the slot was lost?); create " + (count == 1 ? "it" : "them") +
              " there, or leave " + (count == 1 ? "it" : "them") +
              " out with --exclude, and run pgdts sync again");
}

std::vector<fullsync::CopyJob> copy_jobs(const schema::SourceSchema& schema, const Options& o,
                                         bool columns_renamed) {
  std::vector<fullsync::CopyJob> jobs;
  for (const auto& t : schema.tables) {
    if (t.relkind != 'r') continue;  // a partitioned table's rows are in its partitions
    fullsync::CopyJob job;
    job.source = t.name;
    job.dest = o.names.table(t.name);
    for (const auto& c : t.columns) {
      if (c.generated) continue;  // computed again on the destination
      job.source_columns.push_back(c.name);
      const etl::ColumnTransform* x = etl::find_transform(o.transforms, t.name, c.name);
      job.source_expressions.push_back(x ? etl::select_expression(*x) : "");
      // Schema sync creates columns under their source names and renames
      // them after the copy (see schema_sync.h).
      job.dest_columns.push_back(columns_renamed ? o.names.column(t.name, c.name) : c.name);
    }
    job.pages = t.bytes / 8192;  // pg_relation_size in blocks: relpages may be stale
    job.rows_estimate = t.rows_estimate;
    job.bytes_estimate = t.bytes;
    if (const etl::RowFilter* f = etl::find_filter(o.filters, t.name))
      job.row_filter = etl::where_condition(*f);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// The snapshot full sync copies under: the task slot's own on a first run
// (the change stream then starts exactly where the copy ends), otherwise a
// temporary slot's, whose position is recorded per table.
pg::ReplicationStream::ExportedSnapshot take_snapshot(pg::ReplicationStream& repl,
                                                      pg::Connection& dest, const Options& o) {
  std::string slot = task::slot_name(o.task);
  bool make_task_slot = false;
  if (o.has_phase("incremental")) {
    std::optional<pg::SlotInfo> found = repl.find_slot(slot);
    // A task that depends on its slot never gets a fresh one here.
    task::require_slot(o.task, task::TaskStore(dest).where(o.task),
                       apply::read_origin_progress(dest, task::origin_name(o.task)), found,
                       repl.connection().parameter_status("database"));
    make_task_slot = !found;
  }
  std::string name = make_task_slot ? slot : copy_slot_name(o.task);
  log::Event("snapshot_creating").field("slot", name).flag("temporary", !make_task_slot).info();
  auto snap = repl.create_slot_exporting(name, "pgdts", !make_task_slot);
  log::Event("snapshot_created")
      .field("slot", name)
      .field("snapshot", snap.snapshot)
      .field("lsn", pg::format_lsn(snap.consistent_point))
      .info();
  if (make_task_slot) task::TaskStore(dest).set_snapshot_lsn(o.task, snap.consistent_point);
  return snap;
}

fullsync::FullSyncConfig full_sync_config(const Options& o,
                                          const pg::ReplicationStream::ExportedSnapshot& snap,
                                          fullsync::Throttle& throttle, bool recopy) {
  fullsync::FullSyncConfig cfg;
  cfg.source = o.source;
  cfg.target = o.target;
  cfg.task = o.task;
  cfg.application_name = application_name(o);
  cfg.snapshot = snap.snapshot;
  cfg.snapshot_lsn = snap.consistent_point;
  cfg.jobs = o.jobs;
  cfg.throttle = &throttle;
  cfg.keep_existing_rows = o.conflict_ignore;
  cfg.empty_first = recopy;
  return cfg;
}

std::set<task::TableName> table_names(const schema::SourceSchema& schema) {
  std::set<task::TableName> names;
  for (const auto& t : schema.tables) names.insert(t.name);
  return names;
}

// Keys, indexes and foreign keys. Tables copied under different snapshots
// (a resumed full sync) get their foreign keys validated only once the
// stream has passed the latest copy (task/deferred_fks.h); a task without
// the incremental phase has no stream to wait for.
void create_post_data(pg::Connection& dest, const schema::SourceSchema& schema, const Options& o) {
  std::map<task::TableName, pg::Lsn> copied = fullsync::copied_positions(dest, o.task);
  pg::Lsn first = 0, last = 0;
  for (const auto& [table, lsn] : copied) {
    first = first ? std::min(first, lsn) : lsn;
    last = std::max(last, lsn);
  }
  bool defer = o.has_phase("incremental") && first != last;
  std::vector<schema::DeferredForeignKey> deferred = schema::create_post_data(dest, schema, o.names, defer);
  if (!deferred.empty()) task::defer_foreign_keys(dest, o.task, deferred, last);
}

}  // namespace

InitialSyncResult run_initial_sync(const Options& o, const std::atomic<bool>& stop,
                                   const std::function<void()>& prepared,
                                   fullsync::Throttle& throttle,
                                   fullsync::ProgressObserver* observer) {
  pg::Connection dest = open_side(o.target, "destination", o);
  task::TaskStore store(dest);
  task::TaskPhase where = store.where(o.task);
  std::string phase = where.phase;
  // A resync's copy (cli/resync.h): the tables are complete but for their
  // rows, so no post-data step, and their columns have their final names.
  bool recopy = where.recopy;
  bool post_data = o.has_phase("schema") && !recopy;
  pg::Connection source = open_side(o.source, "source", o);
  InitialSyncResult result;

  if (!before(phase, "post_data")) {
    // Copied before: only the names of the tables are needed.
    schema::SourceSchema schema = read_schema_at(source, o, "");
    result.tables = table_names(schema);
    if (phase == "post_data") {
      if (post_data) create_post_data(dest, schema, o);
      if (o.has_phase("full")) schema::sync_sequences(source, dest, schema, o.names);
      store.set_phase(o.task, o.has_phase("incremental") ? "incremental" : "copied");
    }
    result.copied_at = fullsync::copied_positions(dest, o.task);
    return result;
  }

  if (o.replica_identity_full)
    set_replica_identity_full(source, read_schema_at(source, o, ""), o);

  pg::ReplicationStream repl(
      pg::Connection::open(o.source, {"source", true, application_name(o), ""}));
  auto snap = take_snapshot(repl, dest, o);
  schema::SourceSchema schema = read_schema_at(source, o, snap.snapshot);
  result.tables = table_names(schema);
  log::Event("tables_selected").field("tables", schema.tables.size()).info();

  if (phase == "schema") {
    if (!o.conflict_ignore) refuse_conflicts(dest, schema, o);
    // One transaction: a run killed half-way leaves nothing to mistake for
    // a conflicting table the next time.
    dest.exec("BEGIN");
    schema::create_pre_data(dest, schema, o.names, ownership(o));
    store.set_phase(o.task, "full");
    dest.exec("COMMIT");
    phase = "full";
    log::Event("schema_pre_data_created").field("tables", schema.tables.size()).info();
  }
  if (recopy) require_destination_tables(dest, schema, o);
  prepared();

  if (o.has_phase("full")) {
    bool columns_renamed = !o.has_phase("schema") || recopy;
    fullsync::FullSyncConfig copy = full_sync_config(o, snap, throttle, recopy);
    copy.observer = observer;
    if (!fullsync::run_full_sync(copy, copy_jobs(schema, o, columns_renamed), stop)) {
      result.stopped = true;
      return result;
    }
  }
  store.set_phase(o.task, "post_data");
  repl.connection().close();  // the snapshot (and a temporary slot) is no longer needed

  if (post_data) create_post_data(dest, schema, o);
  if (o.has_phase("full")) schema::sync_sequences(source, dest, schema, o.names);
  store.set_phase(o.task, o.has_phase("incremental") ? "incremental" : "copied");
  log::Event("initial_sync_done").field("tables", schema.tables.size()).info();
  result.copied_at = fullsync::copied_positions(dest, o.task);
  return result;
}

}  // namespace pgdts::cli
