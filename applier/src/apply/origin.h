// The task's replication origin on the destination (pgdts_<task>): it holds
// the source LSN up to which the destination has committed, atomically with
// the data (see Applier), and is where every restart resumes from.
#pragma once

#include <atomic>
#include <string>

#include "pg/connection.h"
#include "pg/lsn.h"

namespace pgdts::apply {

// Creates the origin unless it exists; true if it was created.
bool create_origin_if_missing(pg::Connection& dest, const std::string& origin);

// Drops the origin if it exists; true if it was dropped. Throws Error naming
// the PID when a session still uses it.
bool drop_origin_if_exists(pg::Connection& dest, const std::string& origin);

// The origin's position: the end LSN of the last source commit applied,
// 0 when none. Reads it with flush = true, which makes the destination
// flush its WAL up to the commit that recorded that position: what this
// returns is committed *and durable*, even though the apply session runs
// with synchronous_commit = off. This is the only position pgdts ever
// reports to the source as flushed.
pg::Lsn read_origin_progress(pg::Connection& dest, const std::string& origin);

// Binds the origin to the apply session (pg_replication_origin_session_setup).
// A previous applier's session may linger for a moment after it was killed:
// retried for about 10 s, then Error naming the PID.
void setup_origin_session(pg::Connection& apply, const std::string& origin,
                          const std::atomic<bool>& stop);

}  // namespace pgdts::apply
