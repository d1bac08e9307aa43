// Rechecking suspect keys while changes flow (see recheck.h).
#include "verify/recheck.h"

#include <chrono>
#include <thread>

#include "pg/connection.h"
#include "pg/literals.h"
#include "verify/parallel.h"
#include "verify/row_diff.h"
#include "verify/sql.h"

namespace pgdts::verify {
namespace {

using Clock = std::chrono::steady_clock;

// Keys per statement: bounds the statement text.
constexpr std::size_t kBatch = 1000;

Quoting quoting_of(pg::Connection& conn) {
  return {[&conn](std::string_view s) { return conn.identifier(s); },
          [&conn](std::string_view s) { return conn.literal(s); }};
}

// What one side holds of each suspect table: by key the row text, or for a
// keyless table by row text its count (as text; absent: 0).
using Reading = std::vector<KeyedRows>;

KeyedRows read_one(pg::Connection& conn, Side side, const Suspects& s) {
  TableSql sql(*s.table, side, quoting_of(conn));
  KeyedRows out;
  if (s.table->keyed()) {
    std::size_t n = s.table->key.size();
    for (std::size_t at = 0; at < s.keys.size(); at += kBatch) {
      std::vector<Key> batch(s.keys.begin() + at, s.keys.begin() + std::min(s.keys.size(), at + kBatch));
      auto r = conn.exec(sql.rows_of_keys(batch));
      for (int row = 0; row < r.rows(); ++row) {
        Key k;
        for (std::size_t i = 0; i < n; ++i) k.emplace_back(r.value(row, static_cast<int>(i)));
        out.emplace(std::move(k), std::string(r.value(row, static_cast<int>(n))));
      }
    }
  } else {
    for (std::size_t at = 0; at < s.rows.size(); at += kBatch) {
      std::vector<std::string> texts;
      for (std::size_t i = at; i < std::min(s.rows.size(), at + kBatch); ++i) texts.push_back(s.rows[i].row);
      auto r = conn.exec(sql.row_counts(texts));
      for (int row = 0; row < r.rows(); ++row) out.emplace(Key{std::string(r.value(row, 0))}, std::string(r.value(row, 1)));
    }
  }
  return out;
}

Reading read_all(pg::Connection& conn, Side side, const std::vector<Suspects>& suspects) {
  Reading out;
  for (const auto& s : suspects) out.push_back(read_one(conn, side, s));
  return out;
}

std::string current_lsn(pg::Connection& source) {
  return std::string(source.exec("SELECT pg_catalog.pg_current_wal_lsn()::text").value(0, 0));
}

std::optional<std::string> found(const KeyedRows& rows, const Key& key) {
  auto it = rows.find(key);
  if (it == rows.end()) return std::nullopt;
  return it->second;
}

// Keyless rows: a count of 0 is the row's absence.
std::optional<std::string> count_of(const KeyedRows& rows, const std::string& text) {
  auto it = rows.find(Key{text});
  return it == rows.end() ? std::optional<std::string>("0") : it->second;
}

// Polls the origin until it reaches lsn or the deadline passes.
bool wait_for_origin(pg::Connection& target, const std::string& origin, const std::string& lsn,
                     Clock::time_point deadline) {
  while (true) {
    auto r = target.exec("SELECT COALESCE(pg_catalog.pg_replication_origin_progress($1, true) >= $2::pg_lsn, false)",
                         {origin.c_str(), lsn.c_str()});
    if (r.value(0, 0) == "t") return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool empty(const std::vector<Suspects>& suspects) {
  for (const auto& s : suspects)
    if (!s.keys.empty() || !s.rows.empty()) return false;
  return true;
}

// Drops what settled between before and after.
void settle(std::vector<Suspects>& suspects, const Reading& before, const Reading& target, const Reading& after) {
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    Suspects& s = suspects[i];
    std::vector<Key> keys;
    for (auto& k : s.keys)
      if (!settles(found(target[i], k), found(before[i], k), found(after[i], k))) keys.push_back(std::move(k));
    s.keys = std::move(keys);
    std::vector<RowCount> rows;
    for (auto& row : s.rows) {
      auto t = count_of(target[i], row.row);
      if (settles(t, count_of(before[i], row.row), count_of(after[i], row.row))) continue;
      row.source = pg::to_int64(*count_of(after[i], row.row));
      row.target = pg::to_int64(*t);
      rows.push_back(std::move(row));
    }
    s.rows = std::move(rows);
  }
}

}  // namespace

std::string origin_unavailable(pg::Connection& target, const std::string& origin) {
  try {
    auto r = target.exec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1)",
                         {origin.c_str()});
    if (r.value(0, 0) != "t")
      return "replication origin " + origin + " does not exist on the destination (no sync has run for this task)";
    target.exec("SELECT pg_catalog.pg_replication_origin_progress($1, false)", {origin.c_str()});
    return "";
  } catch (const pg::SqlError& e) {
    return "replication origin " + origin + " cannot be read: " + pg::one_line(e.what());
  }
}

RecheckOutcome recheck(pg::Connection& source, pg::Connection& target, std::vector<Suspects>& suspects,
                       const RecheckOptions& options) {
  RecheckOutcome out;
  if (empty(suspects)) return out;
  for (const auto& s : suspects) out.rechecked += static_cast<std::int64_t>(s.keys.size() + s.rows.size());
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(options.wait_seconds * 1000));
  Reading before = read_all(source, Side::source, suspects);
  std::string lsn = current_lsn(source);
  for (int round = 1; round <= options.rounds; ++round) {
    if (!wait_for_origin(target, options.origin, lsn, deadline)) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.0f", options.wait_seconds);
      out.notes.push_back("replication origin " + options.origin + " did not reach the source's position " + lsn +
                          " within " + seconds + " s (is pgdts sync running?): the differences of the last " +
                          "comparison stand");
      break;
    }
    Reading dest = read_all(target, Side::target, suspects);
    Reading after = read_all(source, Side::source, suspects);
    std::string after_lsn = current_lsn(source);
    ++out.rounds;
    settle(suspects, before, dest, after);
    if (empty(suspects)) break;
    before = std::move(after);
    lsn = after_lsn;
  }
  return out;
}

}  // namespace pgdts::verify
