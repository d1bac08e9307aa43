// The differential copy of a resync (see differential.h).
#include "resync/differential.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>
#include <unordered_map>

#include "error.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "pg/copy.h"
#include "pg/literals.h"
#include "pg/transaction.h"
#include "rights/table_rights.h"
#include "store/table_sync.h"
#include "verify/parallel.h"
#include "verify/ranges.h"
#include "verify/recheck.h"
#include "verify/sql.h"
#include "verify/tables.h"
#include "verify/verify.h"

namespace pgdts::resync {
namespace {

using Clock = std::chrono::steady_clock;
using verify::Key;
using verify::TablePair;
using verify::TableSql;

// The source side: one REPEATABLE READ transaction on the exported
// snapshot for the whole run, so that every range is read as of the new
// slot's consistent point.
pg::Connection open_source(const Config& cfg) {
  pg::Connection src = verify::open_comparable(cfg.source, "source", cfg.application_name);
  src.exec(pg::kBeginSnapshot);
  try {
    src.exec("SET TRANSACTION SNAPSHOT " + src.literal(cfg.snapshot));
  } catch (const pg::SqlError& e) {
    throw Error("source: could not import snapshot " + cfg.snapshot + " (" + e.what() +
                "); the connection that exported it must stay open until the resync has started");
  }
  return src;
}

// The destination side, in replica mode as full sync's workers are: the
// rows rewritten fire no trigger and no foreign key action (the referencing
// tables are resynced on their own).
pg::Connection open_destination(const Config& cfg) {
  pg::Connection dst = verify::open_comparable(cfg.target, "destination", cfg.application_name);
  try {
    dst.exec("SET session_replication_role = replica");
  } catch (const pg::SqlError& e) {
    log::Event("replica_role_unavailable")
        .field("side", "destination")
        .field("reason", e.what())
        .field("effect", "triggers and foreign keys fire while the resync rewrites rows")
        .warn();
  }
  return dst;
}

// A row's key as one string: the value itself for a one-column key (short
// keys stay in the string's own buffer), else each value prefixed with its
// length, so that no two keys join alike.
std::string joined_key(const pg::Result& r, int row, std::size_t key_size) {
  if (key_size == 1) return std::string(r.value(row, 0));
  std::string out;
  for (std::size_t i = 0; i < key_size; ++i) {
    std::string_view v = r.value(row, static_cast<int>(i));
    out += std::to_string(v.size());
    out += ':';
    out += v;
  }
  return out;
}

Key key_at(const pg::Result& r, int row, std::size_t key_size) {
  Key key;
  for (std::size_t i = 0; i < key_size; ++i) key.emplace_back(r.value(row, static_cast<int>(i)));
  return key;
}

// The keys of two range_row_hashes results whose hashes differ or that one
// side lacks. A hash table of key text to row number in the result, instead
// of verify's ordered maps of whole copies (verify::differing_keys): after
// changes spread over the whole table every range is compared key by key,
// and a short key then costs no allocation.
std::vector<Key> differing_keys_by_hash(const pg::Result& source, const pg::Result& dest,
                                        std::size_t key_size) {
  int hash_column = static_cast<int>(key_size);
  std::unordered_map<std::string, int> dest_rows;
  dest_rows.reserve(static_cast<std::size_t>(dest.rows()));
  for (int row = 0; row < dest.rows(); ++row) dest_rows.emplace(joined_key(dest, row, key_size), row);
  std::vector<Key> out;
  for (int row = 0; row < source.rows(); ++row) {
    auto it = dest_rows.find(joined_key(source, row, key_size));
    if (it == dest_rows.end()) {
      out.push_back(key_at(source, row, key_size));
      continue;
    }
    if (source.value(row, hash_column) != dest.value(it->second, hash_column))
      out.push_back(key_at(source, row, key_size));
    dest_rows.erase(it);
  }
  for (const auto& [key, row] : dest_rows) out.push_back(key_at(dest, row, key_size));
  return out;
}

// One worker's pair of sessions: the source in the snapshot, the
// destination in replica mode.
struct Sessions {
  pg::Connection source, dest;
};

// One table's statements on one worker's sessions.
class TableSides {
 public:
  TableSides(Sessions& sessions, const TablePair& pair)
      : source_(sessions.source),
        dest_(sessions.dest),
        pair_(pair),
        src_sql_(pair, verify::Side::source, verify::quoting_of(sessions.source)),
        dst_sql_(pair, verify::Side::target, verify::quoting_of(sessions.dest)) {}

  // Numbering every row in key order costs a second per 3,000,000 rows; a
  // big table's boundaries come from a sample of its pages instead. Ranges
  // need not hold equal numbers of rows, only cover the key space (the
  // first and last are open), and the sample's keys are raw column values
  // even under a column expression: still keys of the right type.
  std::vector<Key> boundaries(std::int64_t range_rows) {
    constexpr std::int64_t kSampledPerRange = 200;
    bool big = pair_.rows_estimate > 50 * range_rows;
    double percent = std::min(100.0, 100.0 * kSampledPerRange / static_cast<double>(range_rows));
    auto step = std::max<std::int64_t>(1, std::llround(static_cast<double>(range_rows) * percent / 100));
    pg::Result r = source_.exec(big ? src_sql_.sampled_boundaries(percent, step)
                                    : src_sql_.boundaries(range_rows));
    std::vector<Key> out;
    for (int row = 0; row < r.rows(); ++row) out.push_back(key_at(r, row, pair_.key.size()));
    return out;
  }

  // One range in one destination transaction; true when it differed.
  bool resync_range(const std::optional<Key>& lower, const std::optional<Key>& upper, bool skip_hash,
                    TableOutcome& out) {
    std::string src_cond = src_sql_.range_condition(lower, upper);
    std::string dst_cond = dst_sql_.range_condition(lower, upper);
    ++out.ranges;
    pg::Transaction txn(dest_);
    if (!skip_hash) {
      auto [s, t] = verify::on_both(
          [&] { return verify::range_hash_of(source_.exec(src_sql_.range_hash_sum(src_cond)), 0, 0); },
          [&] { return verify::range_hash_of(dest_.exec(dst_sql_.range_hash_sum(dst_cond)), 0, 0); });
      if (s == t) return false;
    }
    auto [srows, trows] = verify::on_both([&] { return source_.exec(src_sql_.range_row_hashes(src_cond)); },
                                          [&] { return dest_.exec(dst_sql_.range_row_hashes(dst_cond)); });
    std::vector<Key> keys = differing_keys_by_hash(srows, trows, pair_.key.size());
    if (keys.empty()) return false;
    rewrite(src_sql_.keys_condition(keys), dst_sql_.keys_condition(keys), out);
    txn.commit();
    ++out.ranges_recopied;
    return true;
  }

  // A table without a key: its rows as a multiset, in buckets of row texts;
  // copied whole in one transaction when they differ. False when stopped.
  bool resync_whole(std::int64_t range_rows, const std::atomic<bool>& stop, TableOutcome& out) {
    out.whole = true;
    std::int64_t rows = pg::to_int64(source_.exec(src_sql_.count()).value(0, 0));
    std::int64_t buckets = std::max<std::int64_t>(1, (rows + range_rows - 1) / range_rows);
    out.ranges = buckets;
    pg::Transaction txn(dest_);
    auto [s, t] = verify::on_both(
        [&] { return verify::bucket_hashes_of(source_.exec(src_sql_.bucket_hashes(buckets))); },
        [&] { return verify::bucket_hashes_of(dest_.exec(dst_sql_.bucket_hashes(buckets))); });
    if (s == t) return true;
    if (stop.load()) return false;
    rewrite("true", "true", out);
    txn.commit();
    out.ranges_recopied = 1;
    return true;
  }

 private:
  // In the caller's destination transaction: the destination's rows meeting
  // dst_cond go, the source's rows meeting src_cond come.
  void rewrite(const std::string& src_cond, const std::string& dst_cond, TableOutcome& out) {
    out.rows_deleted += pg::to_int64(dest_.exec(dst_sql_.delete_where(dst_cond)).value(0, 0));
    pg::CopyIn in(dest_, dst_sql_.copy_in());
    pg::CopyOut rows(source_, src_sql_.copy_out(src_cond));
    std::string_view row;
    while (rows.next(row)) in.put(row);
    out.rows_copied += in.finish();
  }

  pg::Connection& source_;
  pg::Connection& dest_;
  const TablePair& pair_;
  TableSql src_sql_, dst_sql_;
};

void add_counts(TableOutcome& total, const TableOutcome& part) {
  total.ranges += part.ranges;
  total.ranges_recopied += part.ranges_recopied;
  total.rows_copied += part.rows_copied;
  total.rows_deleted += part.rows_deleted;
}

// The ranges of a keyed table, as verify cuts them ((-inf, b1], (b1, b2],
// ..., (bn, +inf)), shared out to the workers: while one writes its range,
// another's is being hashed on both servers. False when stopped.
bool resync_keyed(std::vector<Sessions>& workers, const TablePair& pair, const Config& cfg,
                  const std::atomic<bool>& stop, TableOutcome& out) {
  std::vector<Key> bounds = TableSides(workers.front(), pair).boundaries(cfg.range_rows);
  std::size_t ranges = bounds.size() + 1;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> halt{false};
  std::vector<TableOutcome> parts(workers.size());
  std::vector<std::exception_ptr> errors(workers.size());
  auto work = [&](std::size_t w) {
    try {
      TableSides sides(workers[w], pair);
      // Changes spread over the table make most ranges differ: after a
      // differing range the next is compared key by key at once, which
      // finds an equal range equal as well, for one read of it instead of two.
      bool previous_differed = false;
      for (std::size_t i = next++; i < ranges && !halt.load() && !stop.load(); i = next++) {
        std::optional<Key> lower, upper;
        if (i > 0) lower = bounds[i - 1];
        if (i < bounds.size()) upper = bounds[i];
        previous_differed = sides.resync_range(lower, upper, previous_differed, parts[w]);
      }
    } catch (...) {
      errors[w] = std::current_exception();
      halt.store(true);
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < workers.size(); ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (const auto& part : parts) add_counts(out, part);
  return !stop.load();
}

std::string seconds_text(double seconds) {
  std::string s = std::to_string(seconds);
  return s.substr(0, s.find('.') + 3);
}

log::Event& table_fields(log::Event& event, const TableOutcome& t) {
  return event.field("table", model::display_name(t.source))
      .field("dest_table", model::display_name(t.dest))
      .field("method", t.skipped              ? "already_resynced"
                       : t.left_to_full_sync ? "full_copy_as_owner"
                       : t.whole             ? "whole_table"
                                             : "key_ranges")
      .field("ranges", t.ranges)
      .field("ranges_recopied", t.ranges_recopied)
      .field("rows_copied", t.rows_copied)
      .field("rows_deleted", t.rows_deleted)
      .field("seconds", seconds_text(t.seconds));
}

// Whether writing the table's rows would run code its non-superuser owner
// (or a source role) could have written: such rows must not be written with
// pgdts' own rights (differential.h). Ordinary triggers count as if they
// fire, as in full sync: replica mode is asked for, not known to be in force.
bool runs_owners_code(pg::Connection& dest, const TablePair& pair) {
  std::vector<std::string> written;
  for (const verify::ColumnPair& c : pair.columns)
    if (!c.generated) written.push_back(c.target);
  rights::TableRights r =
      rights::read_table_rights(dest, pair.target.schema, pair.target.name, written, false);
  if (!r.runs_code() || r.owner_superuser) return false;
  log::Event("resync_table_as_owner")
      .field("table", model::display_name(pair.source))
      .field("owner", r.owner)
      .field("code", r.code)
      .field("effect", "not compared: emptied and copied by full sync, through pgdts.run_as_<owner>")
      .info();
  return true;
}

// A table without a key has no range to repair: it is compared as a whole
// and, when it differs, copied whole. Said once per table, as a reason.
void log_keyless(const TablePair& pair) {
  if (pair.keyed()) return;
  log::Event("resync_table_whole")
      .field("table", model::display_name(pair.source))
      .field("reason", "no primary key or unique index on NOT NULL columns: compared as a multiset "
                       "and copied whole when it differs")
      .info();
}

// In one transaction: the table is being resynced (pgdts status), nothing
// of it counted yet.
void mark_started(pg::Connection& dest, const Config& cfg, const TablePair& pair) {
  pg::Transaction txn(dest);
  store::plan_table_copy(dest, cfg.task, pair.source, pair.target, pair.rows_estimate, 0, 1);
  store::mark_copying(dest, cfg.task, pair.source);
  txn.commit();
}

// Every range is committed: the table is copied as of the snapshot, and
// the stream skips its changes before it.
void mark_done(pg::Connection& dest, const Config& cfg, const TableOutcome& t) {
  pg::Transaction txn(dest);
  store::record_chunk(dest, cfg.task, t.source, t.rows_copied, 0, cfg.snapshot_lsn);
  txn.commit();
}

}  // namespace

std::optional<std::vector<TableOutcome>> resync_tables(const Config& cfg,
                                                       const schema::SourceSchema& schema,
                                                       const std::atomic<bool>& stop) {
  std::vector<Sessions> workers;
  for (int w = 0; w < std::max(1, cfg.jobs); ++w) workers.push_back({open_source(cfg), open_destination(cfg)});
  pg::Connection& dest = workers.front().dest;
  std::vector<TablePair> pairs = verify::plan_tables(workers.front().source, dest, schema, cfg.names);
  verify::apply_rules(pairs, schema, cfg.filters, cfg.transforms);

  std::set<model::TableName> copied;
  for (const store::TableSyncRow& row : store::load_table_sync(dest, cfg.task))
    if (row.state == "copied") copied.insert(row.source);
  log::Event("resync_comparing")
      .field("task", cfg.task)
      .field("tables", static_cast<std::int64_t>(pairs.size()))
      .field("tables_done", static_cast<std::int64_t>(copied.size()))
      .field("jobs", static_cast<std::int64_t>(workers.size()))
      .field("snapshot_lsn", pg::format_lsn(cfg.snapshot_lsn))
      .info();

  std::vector<TableOutcome> out;
  for (const TablePair& pair : pairs) {
    TableOutcome table{pair.source, pair.target};
    if (copied.count(pair.source)) {
      table.skipped = true;
      out.push_back(table);
      continue;
    }
    if (runs_owners_code(dest, pair)) {
      table.left_to_full_sync = true;
      out.push_back(table);
      continue;
    }
    log_keyless(pair);
    mark_started(dest, cfg, pair);
    auto started = Clock::now();
    bool done = pair.keyed() ? resync_keyed(workers, pair, cfg, stop, table)
                             : TableSides(workers.front(), pair).resync_whole(cfg.range_rows, stop, table);
    if (!done) return std::nullopt;
    table.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    mark_done(dest, cfg, table);
    log::Event event("resync_table");
    table_fields(event.field("task", cfg.task), table).info();
    out.push_back(table);
  }
  return out;
}

void log_summary(const std::string& task, const std::vector<TableOutcome>& tables, double seconds) {
  std::int64_t ranges = 0, recopied = 0, rows = 0, deleted = 0;
  for (const TableOutcome& t : tables) {
    log::Event event("resync_summary");
    table_fields(event.field("task", task), t).info();
    ranges += t.ranges;
    recopied += t.ranges_recopied;
    rows += t.rows_copied;
    deleted += t.rows_deleted;
  }
  log::Event("resync_finished")
      .field("task", task)
      .field("tables", static_cast<std::int64_t>(tables.size()))
      .field("ranges", ranges)
      .field("ranges_recopied", recopied)
      .field("rows_copied", rows)
      .field("rows_deleted", deleted)
      .field("seconds", seconds_text(seconds))
      .info();
}

}  // namespace pgdts::resync
