// verify --repair: repair messages written on the source, then the keys
// compared again once the sync applied them (see repair.h).
#include "verify/repair.h"

#include <algorithm>
#include <map>

#include "error.h"
#include "logging/log.h"
#include "model/repair_message.h"
#include "pg/connection.h"
#include "pg/errors.h"
#include "pg/literals.h"
#include "pg/transaction.h"
#include "store/task_store.h"
#include "verify/sql.h"

namespace pgdts::verify {
namespace {

using Clock = std::chrono::steady_clock;

// Keys (or row values) per message: bounds the message, the statement that
// reads them and the time the table stays locked.
constexpr std::size_t kBatch = 1000;
// A writer holding its lock long must not keep every other writer of the
// table queued behind verify's lock request: give up after this long, and
// try again a few times.
constexpr const char* kLockTimeout = "2s";
constexpr int kLockAttempts = 5;
constexpr const char* kLockNotAvailable = "55P03";

// The columns a repair writes: every compared one but generated columns
// (the destination computes them; an INSERT naming one fails), unless the
// key holds one (the repair of that table then fails on the destination).
std::vector<std::size_t> written_columns(const TablePair& pair) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < pair.columns.size(); ++i)
    if (!pair.columns[i].generated || std::find(pair.key.begin(), pair.key.end(), i) != pair.key.end())
      out.push_back(i);
  return out;
}

model::RepairMessage message_for(const TablePair& pair) {
  model::RepairMessage m;
  m.table = pair.source;
  std::vector<std::size_t> written = written_columns(pair);
  for (std::size_t i : written) m.columns.push_back(pair.columns[i].source);
  for (std::size_t k : pair.key)
    if (auto at = std::find(written.begin(), written.end(), k); at != written.end())
      m.key.push_back(static_cast<std::size_t>(at - written.begin()));
  return m;
}

// The written columns' values of a result row whose columns start at first.
std::vector<model::RepairValue> values_at(const pg::Result& r, int row, int first, const TablePair& pair) {
  std::vector<model::RepairValue> out;
  for (std::size_t i : written_columns(pair)) out.push_back(r.optional(row, first + static_cast<int>(i)));
  return out;
}

// The source's rows of these keys; a key without one is "absent".
model::RepairMessage keyed_message(pg::Connection& source, const TableSql& sql, const TablePair& pair,
                                   const std::vector<Key>& keys) {
  model::RepairMessage m = message_for(pair);
  std::size_t nk = pair.key.size();
  auto r = source.exec(sql.values_of_keys(keys));
  std::map<Key, std::vector<model::RepairValue>> found;
  for (int row = 0; row < r.rows(); ++row) {
    Key k;
    for (std::size_t i = 0; i < nk; ++i) k.emplace_back(r.value(row, static_cast<int>(i)));
    found.emplace(std::move(k), values_at(r, row, static_cast<int>(nk), pair));
  }
  for (const Key& k : keys) {
    model::RepairRow row;
    if (auto it = found.find(k); it != found.end())
      row.values = it->second;
    else
      row.absent = k;
    m.rows.push_back(std::move(row));
  }
  return m;
}

struct Copies {
  std::int64_t count = 0;
  std::vector<model::RepairValue> values;
};

// Per row text: how many times the side holds it, and one copy's values.
std::map<std::string, Copies> copies_of(pg::Connection& conn, const TableSql& sql, const TablePair& pair,
                                        const std::vector<std::string>& texts) {
  std::map<std::string, Copies> out;
  auto r = conn.exec(sql.values_of_rows(texts));
  for (int row = 0; row < r.rows(); ++row)
    out.emplace(std::string(r.value(row, 0)), Copies{pg::to_int64(r.value(row, 1)), values_at(r, row, 2, pair)});
  return out;
}

// The source's count of each row text, with its values; a row the source
// no longer holds is named by the destination's values, with 0 copies.
model::RepairMessage keyless_message(pg::Connection& source, const TableSql& sql,
                                     const std::map<std::string, Copies>& on_target, const TablePair& pair,
                                     const std::vector<std::string>& texts) {
  model::RepairMessage m = message_for(pair);
  std::map<std::string, Copies> on_source = copies_of(source, sql, pair, texts);
  for (const std::string& text : texts) {
    model::RepairRow row;
    if (auto s = on_source.find(text); s != on_source.end()) {
      row.values = s->second.values;
      row.copies = s->second.count;
    } else if (auto t = on_target.find(text); t != on_target.end()) {
      row.values = t->second.values;
    } else {
      continue;  // on neither side any more: nothing to repair
    }
    m.rows.push_back(std::move(row));
  }
  return m;
}

// The message's bytes, signed with the task's key on the destination. The
// signature covers the payload as the source will store it: in the
// source's encoding (the server converts the text verify sends).
std::string signed_message(pg::Connection& source, pg::Connection& target, const std::string& task,
                           const std::string& payload) {
  std::string stored = std::string(
      source.exec("SELECT pg_catalog.convert_to($1, pg_catalog.current_setting('server_encoding'))::text",
                  {payload.c_str()})
          .value(0, 0));
  return model::signed_repair(store::TaskStore(target).repair_signature(task, stored), payload);
}

// One batch: lock, read, emit, commit. Returns the source's WAL insert
// position after the commit (at or past the commit record's end).
template <typename Read>
std::string emit_locked(pg::Connection& source, pg::Connection& target, const std::string& task, const TableSql& sql,
                        const TablePair& pair, Read read) {
  for (int attempt = 1;; ++attempt) {
    try {
      pg::Transaction tx(source);
      source.exec(std::string("SET LOCAL lock_timeout = '") + kLockTimeout + "'");
      source.exec(sql.lock());
      std::string message = signed_message(source, target, task, model::encode_repair_message(read()));
      source.exec("SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)", {model::kRepairPrefix, message.c_str()});
      tx.commit();
      return std::string(source.exec("SELECT pg_catalog.pg_current_wal_insert_lsn()::text").value(0, 0));
    } catch (const pg::SqlError& e) {
      if (e.sqlstate() != kLockNotAvailable || attempt >= kLockAttempts) throw;
      log::Event("repair_lock_waiting")
          .field("table", model::display_name(pair.source))
          .field("attempt", attempt)
          .warn();
    }
  }
}

// Writes one table's repair messages; lsn: the position after the last one
// written (also when a later batch fails).
void emit_table(pg::Connection& source, pg::Connection& target, const std::string& task, const Suspects& s,
                std::string& lsn) {
  const TablePair& pair = *s.table;
  TableSql src(pair, Side::source, quoting_of(source));
  if (pair.keyed()) {
    for (std::size_t at = 0; at < s.keys.size(); at += kBatch) {
      std::vector<Key> batch(s.keys.begin() + static_cast<std::ptrdiff_t>(at),
                             s.keys.begin() + static_cast<std::ptrdiff_t>(std::min(s.keys.size(), at + kBatch)));
      lsn = emit_locked(source, target, task, src, pair, [&] { return keyed_message(source, src, pair, batch); });
    }
    return;
  }
  TableSql dst(pair, Side::target, quoting_of(target));
  for (std::size_t at = 0; at < s.rows.size(); at += kBatch) {
    std::vector<std::string> texts;
    for (std::size_t i = at; i < std::min(s.rows.size(), at + kBatch); ++i) texts.push_back(s.rows[i].row);
    // Read before the lock: only what the source lacks is taken from here.
    std::map<std::string, Copies> on_target = copies_of(target, dst, pair, texts);
    lsn = emit_locked(source, target, task, src, pair,
                      [&] { return keyless_message(source, src, on_target, pair, texts); });
  }
}

std::int64_t size_of(const Suspects& s) { return static_cast<std::int64_t>(s.keys.size() + s.rows.size()); }

}  // namespace

RepairOutcome repair_differences(pg::Connection& source, pg::Connection& target, std::vector<Suspects>& suspects,
                                 std::vector<TableResult>& results, const RepairOptions& options) {
  RepairOutcome out;
  if (options.dry_run) {
    for (std::size_t i = 0; i < suspects.size(); ++i)
      if (size_of(suspects[i]) > 0) results[i].would_repair = size_of(suspects[i]);
    return out;
  }
  std::vector<Suspects> written(suspects.size());
  std::string last_lsn;
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    if (size_of(suspects[i]) == 0) continue;
    try {
      emit_table(source, target, options.task, suspects[i], last_lsn);
      written[i] = suspects[i];
      results[i].repaired = 0;
      log::Event("repair_written")
          .field("table", model::display_name(suspects[i].table->source))
          .field("keys_or_rows", size_of(suspects[i]))
          .field("lsn", last_lsn)
          .info();
    } catch (const pg::ConnectionError&) {
      throw;
    } catch (const pg::SqlError& e) {
      results[i].repair_error = pg::one_line(e.what());
    } catch (const Error& e) {  // e.g. no task row to sign with
      results[i].repair_error = e.what();
    }
  }
  if (last_lsn.empty()) return out;
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(options.recheck.wait_seconds * 1000));
  OriginWait waited = wait_for_origin(target, options.recheck.origin, last_lsn, deadline, options.recheck.stall_seconds);
  if (waited != OriginWait::reached) {
    out.pending = true;
    out.notes.push_back(std::string("the repair was written into the source's stream (up to ") + last_lsn +
                        ") but the destination's origin " + options.recheck.origin + " has not reached it " +
                        (waited == OriginWait::stalled ? "and did not move for " + seconds_text(options.recheck.stall_seconds) +
                                                             " (is pgdts sync running for this task?)"
                                                       : "within " + seconds_text(options.recheck.wait_seconds)) +
                        ". It applies when pgdts sync runs for the task; run verify again then");
    return out;
  }
  // Applied: what still differs is rechecked like any difference (a key
  // the source changed again meanwhile is only in flight).
  std::vector<Suspects> still = written;
  RecheckOutcome rc = recheck(source, target, still, options.recheck);
  out.rechecked = rc.rechecked;
  out.rounds = rc.rounds;
  for (auto& n : rc.notes) out.notes.push_back(std::move(n));
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    if (!written[i].table) continue;
    std::int64_t repaired = size_of(written[i]) - size_of(still[i]);
    results[i].repaired = repaired;
    suspects[i].keys = std::move(still[i].keys);
    suspects[i].rows = std::move(still[i].rows);
    log::Event("table_repaired")
        .field("table", model::display_name(written[i].table->source))
        .field("repaired", repaired)
        .field("still_differing", size_of(suspects[i]))
        .info();
  }
  return out;
}

}  // namespace pgdts::verify
