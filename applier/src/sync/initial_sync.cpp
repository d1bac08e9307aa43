#include "sync/initial_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <tuple>

#include "apply/origin.h"
#include "error.h"
#include "fullsync/full_sync.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "pg/replication_stream.h"
#include "pg/transaction.h"
#include "resync/differential.h"
#include "schema/objects.h"
#include "schema/schema_sync.h"
#include "task/deferred_fks.h"
#include "task/task_slot.h"
#include "store/task_store.h"

namespace pgdts::sync {
namespace {

std::string application_name(const Options& o) { return store::application_name(o.task); }

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
    std::vector<model::TableName> names = schema::rule_names(schema, t);
    bool ruled = model::nearest_filter(o.filters, names) || model::any_transform(o.transforms, names);
    if (t.has_key && !ruled) continue;
    source.exec("ALTER TABLE " + source.identifier(t.name.schema) + "." +
                source.identifier(t.name.name) + " REPLICA IDENTITY FULL");
    log::Event("replica_identity_full_set").field("table", model::display_name(t.name)).info();
  }
}

// Tables without a key whose unique index on NOT NULL columns can stand in
// for one are keyed by it: REPLICA IDENTITY USING INDEX before the
// snapshot, so that their UPDATEs and DELETEs carry the old key. A table
// this account does not own stays as it is (precheck said so). The model
// follows: a table keyed here has_key, as a fresh read would say.
void use_unique_keys(pg::Connection& source, schema::SourceSchema& schema) {
  std::vector<std::uint32_t> oids;
  for (const auto& t : schema.tables)
    if (t.relkind == 'r' && !t.has_key && t.replica_identity == 'd') oids.push_back(t.oid);
  if (oids.empty()) return;
  for (const schema::UniqueKey& key : schema::find_unique_keys(source, oids)) {
    log::Event event(key.may_alter ? "replica_identity_index_set" : "replica_identity_index_not_set");
    event.field("table", model::display_name(key.table)).field("index", key.index);
    if (!key.may_alter) {
      event.field("reason", "the source account does not own the table").warn();
      continue;
    }
    source.exec("ALTER TABLE " + source.identifier(key.table.schema) + "." +
                source.identifier(key.table.name) + " REPLICA IDENTITY USING INDEX " +
                source.identifier(key.index));
    event.info();
    for (auto& t : schema.tables)
      if (t.name == key.table) {
        t.has_key = true;
        t.replica_identity = 'i';
        t.replica_identity_index = key.index;
      }
  }
}

// Every key the task's tables need before the snapshot: unique indexes
// standing in for primary keys, then REPLICA IDENTITY FULL where asked.
void key_tables(pg::Connection& source, schema::SourceSchema schema, const Options& o) {
  use_unique_keys(source, schema);
  if (o.replica_identity_full) set_replica_identity_full(source, schema, o);
}

schema::SourceSchema read_schema_at(pg::Connection& source, const Options& o,
                                    const std::string& snapshot) {
  return schema::read_schema_in_snapshot(source, o.selection, snapshot);
}

// The tables as schema sync creates them and full sync copies them: with
// the columns that column expressions add (docs/etl.md), whose types cost
// a round trip each, so only here.
schema::SourceSchema copied_schema_at(pg::Connection& source, const Options& o,
                                      const std::string& snapshot) {
  schema::SourceSchema schema = read_schema_at(source, o, snapshot);
  schema::add_expression_columns(source, schema, o.transforms);
  return schema;
}

// Who owns what schema sync creates: the source's owners, or with
// --no-owner --owner-role (or, without it, the --target user).
schema::Ownership ownership(const Options& o) { return {!o.no_owner, o.owner_role}; }

void refuse_conflicts(pg::Connection& dest, const schema::SourceSchema& schema, const Options& o) {
  std::vector<model::TableName> existing = schema::existing_tables(dest, schema, o.names);
  if (existing.empty()) return;
  std::string names;
  for (std::size_t i = 0; i < existing.size() && i < 5; ++i)
    names += (i ? ", " : "") + model::display_name(existing[i]);
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
  std::vector<model::TableName> existing = schema::existing_tables(dest, schema, o.names);
  std::set<model::TableName> have(existing.begin(), existing.end());
  std::string missing;
  int count = 0;
  for (const auto& t : schema.tables) {
    model::TableName dest_name = o.names.table(t.name);
    if (have.count(dest_name)) continue;
    if (count++ < 5) missing += (missing.empty() ? "" : ", ") + model::display_name(dest_name);
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
    std::vector<model::TableName> rule_names = schema::rule_names(schema, t);
    for (const auto& c : t.columns) {
      if (c.generated) continue;  // computed again on the destination
      job.source_columns.push_back(c.name);
      const model::ColumnTransform* x = model::nearest_transform(o.transforms, rule_names, c.name);
      job.source_expressions.push_back(x ? model::select_expression(*x) : "");
      // Schema sync creates columns under their source names and renames
      // them after the copy (see schema_sync.h).
      job.dest_columns.push_back(columns_renamed ? o.names.column(t.name, c.name) : c.name);
    }
    job.pages = t.bytes / 8192;  // pg_relation_size in blocks: relpages may be stale
    job.rows_estimate = t.rows_estimate;
    job.bytes_estimate = t.bytes;
    if (const model::RowFilter* f = model::nearest_filter(o.filters, rule_names))
      job.row_filter = model::where_condition(*f);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// The snapshot full sync copies under: the task slot's own on a first run
// (the change stream then starts exactly where the copy ends), otherwise a
// temporary slot's, whose position is recorded per table.
pg::ReplicationStream::ExportedSnapshot take_snapshot(pg::ReplicationStream& repl,
                                                      pg::Connection& dest, const Options& o) {
  std::string slot = store::slot_name(o.task);
  bool make_task_slot = false;
  if (o.has_phase("incremental")) {
    std::optional<pg::SlotInfo> found = repl.find_slot(slot);
    // A task that depends on its slot never gets a fresh one here.
    task::require_slot(o.task, store::TaskStore(dest).where(o.task),
                       apply::read_origin_progress(dest, store::origin_name(o.task)), found,
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
  if (make_task_slot) store::TaskStore(dest).set_snapshot_lsn(o.task, snap.consistent_point);
  return snap;
}

// What full sync and a resync's comparison are both told: the two sides,
// the task, the snapshot they read the source under, and how many workers.
template <class Config>
Config snapshot_reader_config(const Options& o, const pg::ReplicationStream::ExportedSnapshot& snap) {
  Config cfg;
  cfg.source = o.source;
  cfg.target = o.target;
  cfg.task = o.task;
  cfg.application_name = application_name(o);
  cfg.snapshot = snap.snapshot;
  cfg.snapshot_lsn = snap.consistent_point;
  cfg.jobs = o.jobs;
  return cfg;
}

fullsync::FullSyncConfig full_sync_config(const Options& o,
                                          const pg::ReplicationStream::ExportedSnapshot& snap,
                                          fullsync::Throttle& throttle, bool recopy) {
  auto cfg = snapshot_reader_config<fullsync::FullSyncConfig>(o, snap);
  cfg.throttle = &throttle;
  cfg.keep_existing_rows = o.conflict_ignore;
  cfg.empty_first = recopy;
  return cfg;
}

// A resync's copy (resync/differential.h): every table compared with the
// destination under the snapshot, only what differs written again. False
// when stopped; left_to_full_sync: some table must still be copied by full
// sync (its rows are written as its owner).
bool resync_differences(const Options& o, const pg::ReplicationStream::ExportedSnapshot& snap,
                        const schema::SourceSchema& schema, const std::atomic<bool>& stop,
                        bool& left_to_full_sync) {
  auto cfg = snapshot_reader_config<resync::Config>(o, snap);
  cfg.names = o.names;
  cfg.filters = o.filters;
  cfg.transforms = o.transforms;
  // Tests cut small tables into several ranges with this.
  if (const char* rows = std::getenv("PGDTS_TEST_RESYNC_RANGE_ROWS")) cfg.range_rows = std::max(1, std::atoi(rows));
  auto started = std::chrono::steady_clock::now();
  std::optional<std::vector<resync::TableOutcome>> done = resync::resync_tables(cfg, schema, stop);
  if (!done) return false;
  left_to_full_sync = std::any_of(done->begin(), done->end(),
                                  [](const resync::TableOutcome& t) { return t.left_to_full_sync; });
  resync::log_summary(o.task, *done,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return true;
}

std::set<model::TableName> table_names(const schema::SourceSchema& schema) {
  std::set<model::TableName> names;
  for (const auto& t : schema.tables) names.insert(t.name);
  return names;
}

// Keys, indexes and foreign keys. Tables copied under different snapshots
// (a resumed full sync) get their foreign keys validated only once the
// stream has passed the latest copy (task/deferred_fks.h); a task without
// the incremental phase has no stream to wait for.
void create_post_data(pg::Connection& dest, const schema::SourceSchema& schema, const Options& o) {
  std::map<model::TableName, pg::Lsn> copied = store::copied_positions(dest, o.task);
  pg::Lsn first = 0, last = 0;
  for (const auto& [table, lsn] : copied) {
    first = first ? std::min(first, lsn) : lsn;
    last = std::max(last, lsn);
  }
  bool defer = o.has_phase("incremental") && first != last;
  std::vector<schema::DeferredForeignKey> deferred = schema::create_post_data(dest, schema, o.names, defer);
  if (!deferred.empty()) task::defer_foreign_keys(dest, o.task, deferred, last);
}

// Functions, views, triggers and comments of the schemas selected whole
// (schema/objects.h), as the source has them now; those the destination
// has already are left alone.
void create_schema_objects(pg::Connection& source, pg::Connection& dest,
                           const schema::SourceSchema& schema, const Options& o) {
  schema::create_schema_objects(dest, schema::read_schema_objects(source, schema, o.selection),
                                o.names, ownership(o));
}

// A partition's root table (itself when it is none).
model::TableName root_of(const schema::SourceSchema& schema, const schema::Table& t) {
  const schema::Table* at = &t;
  while (at->partition_parent) {
    const schema::Table* parent = schema.find(*at->partition_parent);
    if (!parent) return *at->partition_parent;
    at = parent;
  }
  return at->name;
}

// Tables the selection of the task's last start left out (a partition
// follows its root; a table created since in a schema it selected was
// streamed, not added) get a pending row in pgdts.table_sync, in one
// transaction: from then on they are the task's to copy, whatever stops
// this run. Refuses (ConflictError) one that exists on the destination
// already, unless --conflict ignore.
void mark_added_tables(pg::Connection& dest, const schema::SourceSchema& schema, const Options& o,
                       const std::optional<model::Selection>& selected_before) {
  if (!selected_before) return;
  // Marked by an attempt of this run that failed: add_tables resumes them.
  std::set<model::TableName> marked;
  for (const store::TableSyncRow& row : store::load_table_sync(dest, o.task))
    if (row.state != "copied") marked.insert(row.source);
  std::vector<const schema::Table*> added;
  for (const auto& t : schema.tables)
    if (!selected_before->includes(root_of(schema, t)) && !marked.count(t.name)) added.push_back(&t);
  if (added.empty()) return;
  if (!o.conflict_ignore) {
    schema::SourceSchema only = schema;
    only.tables.clear();
    for (const schema::Table* t : added) only.tables.push_back(*t);
    std::vector<model::TableName> existing = schema::existing_tables(dest, only, o.names);
    if (!existing.empty())
      throw ConflictError("table " + model::display_name(existing.front()) + ", added to task \"" +
                          o.task + "\", exists on the destination already; drop it there (or run "
                          "with --conflict ignore to copy into it) and run pgdts sync again");
  }
  store::ensure_table_sync(dest);
  pg::Transaction txn(dest);
  for (const schema::Table* t : added) {
    store::plan_table_copy(dest, o.task, t->name, o.names.table(t->name), t->rows_estimate, t->bytes, 0);
    log::Event("table_added").field("task", o.task).field("table", model::display_name(t->name)).info();
  }
  txn.commit();
}

// The tables whose copy is pending while the task streams, ready to be
// copied: keyed like a first run's, created on the destination, and the
// snapshot they are copied under (a temporary slot's, kept by repl until
// the copy has imported it; its position becomes their sync_lsn, so the
// stream applies their changes from there on).
struct AddedTables {
  std::unique_ptr<pg::ReplicationStream> repl;
  pg::ReplicationStream::ExportedSnapshot snap;
  schema::SourceSchema schema;
};

std::optional<AddedTables> prepare_added_tables(const Options& o, pg::Connection& source,
                                                pg::Connection& dest) {
  std::set<model::TableName> pending;
  for (const store::TableSyncRow& row : store::load_table_sync(dest, o.task))
    if (row.state != "copied") pending.insert(row.source);
  if (pending.empty()) return std::nullopt;
  schema::SourceSchema now = read_schema_at(source, o, "");
  std::erase_if(now.tables, [&](const schema::Table& t) { return !pending.count(t.name); });
  key_tables(source, std::move(now), o);
  AddedTables added;
  added.repl = std::make_unique<pg::ReplicationStream>(
      pg::Connection::open(o.source, {"source", true, application_name(o), ""}));
  added.snap = take_snapshot(*added.repl, dest, o);
  added.schema = copied_schema_at(source, o, added.snap.snapshot);
  std::erase_if(added.schema.tables, [&](const schema::Table& t) {
    return !pending.count(t.name) && !(t.partition_parent && pending.count(*t.partition_parent));
  });
  log::Event("tables_adding").field("task", o.task).field("tables", added.schema.tables.size()).info();
  pg::Transaction txn(dest);
  schema::create_pre_data(dest, added.schema, o.names, ownership(o));
  txn.commit();
  return added;
}

// Their rows, then their keys, indexes, foreign keys and sequences. False
// on a stop request.
bool copy_added_tables(const Options& o, pg::Connection& source, pg::Connection& dest,
                       AddedTables& added, const std::atomic<bool>& stop,
                       fullsync::Throttle& throttle, fullsync::ProgressObserver* observer) {
  fullsync::FullSyncConfig copy = full_sync_config(o, added.snap, throttle, false);
  copy.observer = observer;
  if (!fullsync::run_full_sync(copy, copy_jobs(added.schema, o, false), stop)) return false;
  added.repl->connection().close();
  create_post_data(dest, added.schema, o);
  create_schema_objects(source, dest, added.schema, o);
  schema::sync_sequences(source, dest, added.schema, o.names);
  log::Event("tables_added_copied")
      .field("task", o.task)
      .field("tables", added.schema.tables.size())
      .info();
  return true;
}

}  // namespace

InitialSyncResult run_initial_sync(const Options& o, const std::atomic<bool>& stop,
                                   const std::function<void()>& prepared,
                                   fullsync::Throttle& throttle,
                                   fullsync::ProgressObserver* observer,
                                   const std::optional<model::Selection>& selected_before) {
  pg::Connection dest = open_side(o.target, "destination", o);
  store::TaskStore store(dest);
  store::TaskPhase where = store.where(o.task);
  std::string phase = where.phase;
  // A resync's copy (sync/resync.h): the tables are complete but for their
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
      if (post_data) create_schema_objects(source, dest, schema, o);
      if (o.has_phase("full")) schema::sync_sequences(source, dest, schema, o.names);
      store.set_phase(o.task, o.has_phase("incremental") ? "incremental" : "copied");
    } else if (phase == "incremental") {
      mark_added_tables(dest, schema, o, selected_before);
      if (std::optional<AddedTables> added = prepare_added_tables(o, source, dest)) {
        result.copied_at = store::copied_positions(dest, o.task);
        result.copying_from = added->snap.consistent_point;
        for (const auto& t : added->schema.tables) {
          result.copying.insert(t.name);
          result.copied_at[t.name] = result.copying_from;
        }
        // The copy owns these connections from here on, in its own thread.
        auto work = std::make_shared<std::tuple<Options, pg::Connection, pg::Connection, AddedTables>>(
            o, std::move(source), std::move(dest), std::move(*added));
        result.adding = std::make_shared<AddedTablesCopy>(
            [work, &throttle, observer](const std::atomic<bool>& stop_copy) {
              auto& [opts, src, dst, tables] = *work;
              return copy_added_tables(opts, src, dst, tables, stop_copy, throttle, observer);
            });
        return result;
      }
    }
    result.copied_at = store::copied_positions(dest, o.task);
    return result;
  }

  key_tables(source, read_schema_at(source, o, ""), o);

  pg::ReplicationStream repl(
      pg::Connection::open(o.source, {"source", true, application_name(o), ""}));
  auto snap = take_snapshot(repl, dest, o);
  schema::SourceSchema schema = copied_schema_at(source, o, snap.snapshot);
  result.tables = table_names(schema);
  log::Event("tables_selected").field("tables", schema.tables.size()).info();

  if (phase == "schema") {
    if (!o.conflict_ignore) refuse_conflicts(dest, schema, o);
    // One transaction: a run killed half-way leaves nothing to mistake for
    // a conflicting table the next time.
    pg::Transaction txn(dest);
    schema::create_pre_data(dest, schema, o.names, ownership(o));
    store.set_phase(o.task, "full");
    txn.commit();
    phase = "full";
    log::Event("schema_pre_data_created").field("tables", schema.tables.size()).info();
  }
  if (recopy) require_destination_tables(dest, schema, o);
  prepared();

  // Full sync skips what the comparison recorded as copied.
  bool full_sync = o.has_phase("full");
  if (recopy && !o.resync_copy_all) {
    if (!resync_differences(o, snap, schema, stop, full_sync)) {
      result.stopped = true;
      return result;
    }
  }
  if (full_sync) {
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
  if (post_data) create_schema_objects(source, dest, schema, o);
  if (o.has_phase("full")) schema::sync_sequences(source, dest, schema, o.names);
  store.set_phase(o.task, o.has_phase("incremental") ? "incremental" : "copied");
  log::Event("initial_sync_done").field("tables", schema.tables.size()).info();
  result.copied_at = store::copied_positions(dest, o.task);
  return result;
}

AddedTablesCopy::AddedTablesCopy(std::function<bool(const std::atomic<bool>&)> copy)
    : done_(std::make_shared<std::atomic<bool>>(false)),
      thread_([this, copy = std::move(copy)] { run(copy); }) {}

AddedTablesCopy::~AddedTablesCopy() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void AddedTablesCopy::run(const std::function<bool(const std::atomic<bool>&)>& copy) {
  try {
    copied_ = copy(stop_);
  } catch (...) {
    error_ = std::current_exception();
  }
  if (copied_) done_->store(true);
  finished_.store(true);
}

bool AddedTablesCopy::wait() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
  return copied_;
}

void AddedTablesCopy::rethrow_if_failed() {
  if (finished_.load() && error_) wait();
}

}  // namespace pgdts::sync
