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

bool empty(const std::vector<Suspects>& suspects) {
  for (const auto& s : suspects)
    if (!s.keys.empty() || !s.rows.empty()) return false;
  return true;
}

// Per suspect, how many rounds found it differing while the source held it
// still (before == after): only those rounds are conclusive.
struct Tally {
  std::vector<std::vector<int>> keys, rows;
};

// Drops what settled between before and after and counts conclusive rounds.
// Returns whether anything is left that has not differed in `rounds` rounds.
bool settle(std::vector<Suspects>& suspects, Tally& tally, const Reading& before, const Reading& target,
            const Reading& after, int rounds) {
  bool undecided = false;
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    Suspects& s = suspects[i];
    std::vector<Key> keys;
    std::vector<int> key_rounds;
    for (std::size_t k = 0; k < s.keys.size(); ++k) {
      auto b = found(before[i], s.keys[k]), a = found(after[i], s.keys[k]);
      if (settles(found(target[i], s.keys[k]), b, a)) continue;
      int n = tally.keys[i][k] + (b == a ? 1 : 0);
      undecided = undecided || n < rounds;
      keys.push_back(std::move(s.keys[k]));
      key_rounds.push_back(n);
    }
    s.keys = std::move(keys);
    tally.keys[i] = std::move(key_rounds);
    std::vector<RowCount> rows;
    std::vector<int> row_rounds;
    for (std::size_t r = 0; r < s.rows.size(); ++r) {
      RowCount& row = s.rows[r];
      auto t = count_of(target[i], row.row), b = count_of(before[i], row.row), a = count_of(after[i], row.row);
      if (settles(t, b, a)) continue;
      int n = tally.rows[i][r] + (b == a ? 1 : 0);
      undecided = undecided || n < rounds;
      row.source = pg::to_int64(*a);
      row.target = pg::to_int64(*t);
      rows.push_back(std::move(row));
      row_rounds.push_back(n);
    }
    s.rows = std::move(rows);
    tally.rows[i] = std::move(row_rounds);
  }
  return undecided;
}

std::int64_t still_changing(const Tally& tally, int rounds) {
  std::int64_t n = 0;
  for (const auto& t : tally.keys)
    for (int r : t) n += r < rounds ? 1 : 0;
  for (const auto& t : tally.rows)
    for (int r : t) n += r < rounds ? 1 : 0;
  return n;
}

}  // namespace

Quoting quoting_of(pg::Connection& conn) {
  return {[&conn](std::string_view s) { return conn.identifier(s); },
          [&conn](std::string_view s) { return conn.literal(s); }};
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f s", s);
  return std::string(buf);
}

OriginWait wait_for_origin(pg::Connection& target, const std::string& origin, const std::string& lsn,
                           Clock::time_point deadline, double stall_seconds) {
  std::optional<std::string> last;
  auto moved_at = Clock::now();
  while (true) {
    auto r = target.exec("SELECT COALESCE(pg_catalog.pg_replication_origin_progress($1, true) >= $2::pg_lsn, false), "
                         "pg_catalog.pg_replication_origin_progress($1, false)::text",
                         {origin.c_str(), lsn.c_str()});
    if (r.value(0, 0) == "t") return OriginWait::reached;
    auto now = Clock::now();
    if (r.optional(0, 1) != last) {
      last = r.optional(0, 1);
      moved_at = now;
    }
    if (now >= deadline) return OriginWait::deadline;
    if (now - moved_at >= std::chrono::milliseconds(static_cast<std::int64_t>(stall_seconds * 1000)))
      return OriginWait::stalled;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

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
  Tally tally;
  for (const auto& s : suspects) {
    tally.keys.emplace_back(s.keys.size(), 0);
    tally.rows.emplace_back(s.rows.size(), 0);
  }
  Reading before = read_all(source, Side::source, suspects);
  std::string lsn = current_lsn(source);
  bool undecided = true, timed_out = false;
  // A round whose suspect changed on the source meanwhile (before != after)
  // proves nothing either way, so up to max_rounds are run for `rounds`
  // conclusive ones, within the wait limit.
  while (undecided && out.rounds < options.max_rounds) {
    OriginWait waited = wait_for_origin(target, options.origin, lsn, deadline, options.stall_seconds);
    if (waited != OriginWait::reached) {
      if (waited == OriginWait::stalled)
        out.notes.push_back("replication origin " + options.origin + " did not move for " +
                            seconds_text(options.stall_seconds) + " (is pgdts sync running?): the differences of the " +
                            (out.rounds == 0 ? "first comparison" : "last round") + " stand");
      else
        out.notes.push_back("rechecking used up its " + seconds_text(options.wait_seconds) + " of waiting for the " +
                            "replication origin after " + std::to_string(out.rounds) +
                            " rounds: what has not settled is reported");
      timed_out = true;
      break;
    }
    Reading dest = read_all(target, Side::target, suspects);
    Reading after = read_all(source, Side::source, suspects);
    std::string after_lsn = current_lsn(source);
    ++out.rounds;
    undecided = settle(suspects, tally, before, dest, after, options.rounds);
    before = std::move(after);
    lsn = after_lsn;
  }
  if (std::int64_t n = still_changing(tally, options.rounds); n > 0 && !timed_out && !empty(suspects))
    out.notes.push_back(std::to_string(n) + " of the differing keys or rows kept changing on the source while " +
                        "rechecked; run verify again to tell whether they only were in flight");
  return out;
}

}  // namespace pgdts::verify
