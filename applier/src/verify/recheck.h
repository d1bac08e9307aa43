// Telling rows in flight from rows that differ, while pgdts sync keeps
// applying changes.
//
// The first pass reads each range on both sides at about the same time, but
// the destination shows the source as of its replication origin
// pgdts_<task>, a little behind. So the keys (and keyless row texts) it found
// are read again, by key, in rounds:
//
//   A  the source's rows, then L = pg_current_wal_lsn()
//   wait until pg_replication_origin_progress('pgdts_<task>') >= L
//   D  the destination's rows   (the source as of some position >= L)
//   C  the source's rows again, then L' = pg_current_wal_lsn()
//
// A key whose destination row equals the source's before (A) or after (C)
// settles: it was in flight. A round in which the source's row stayed the
// same (A = C) and the destination's differs from it is conclusive: the
// destination was read between A and C, as of a position past A. A key is
// reported when it differed in `rounds` conclusive rounds, or when it still
// has not settled after `max_rounds` rounds or `wait_seconds` of waiting in
// all (a row that changes on the source all the time; a note says so). The running
// sync writes a heartbeat on the source every few seconds, so the origin
// passes L even when the source is idle. Without an origin, or when it does
// not move for stall_seconds (sync not running) or does not reach L within
// wait_seconds, what was found last stands and a note says why.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "verify/model.h"
#include "verify/sql.h"

namespace pgdts::pg {
class Connection;
}

namespace pgdts::verify {

struct Suspects {
  const TablePair* table = nullptr;
  std::vector<Key> keys;       // keyed table
  std::vector<RowCount> rows;  // keyless table (counts as of the last round)
};

struct RecheckOptions {
  std::string origin;  // pgdts_<task>
  int rounds = 3;       // conclusive rounds a suspect must differ in to be reported
  int max_rounds = 10;  // rounds in all
  double wait_seconds = 60;
  double stall_seconds = 15;  // an origin that does not move this long: no sync running
};

struct RecheckOutcome {
  std::int64_t rechecked = 0;  // keys and rows read again
  int rounds = 0;
  std::vector<std::string> notes;
};

// Narrows suspects down to what differs in every round (in place).
RecheckOutcome recheck(pg::Connection& source, pg::Connection& target, std::vector<Suspects>& suspects,
                       const RecheckOptions& options);

// The connection's own quoting, for TableSql.
Quoting quoting_of(pg::Connection& conn);

enum class OriginWait { reached, deadline, stalled };

// Polls the origin (every 20 ms) until it reaches lsn, the deadline passes,
// or it has not moved at all for stall_seconds (a running sync moves it at
// least with every heartbeat, every 5 s, however far behind it is).
OriginWait wait_for_origin(pg::Connection& target, const std::string& origin, const std::string& lsn,
                           std::chrono::steady_clock::time_point deadline, double stall_seconds);

// "60 s", for notes.
std::string seconds_text(double seconds);

// Whether the replication origin exists on the destination (and can be read).
// Empty when it can; else why not, for a note.
std::string origin_unavailable(pg::Connection& target, const std::string& origin);

}  // namespace pgdts::verify
