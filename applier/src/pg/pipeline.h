// libpq pipeline mode over one connection: commands are queued without
// waiting for their results, results are taken as they arrive, and the
// number of commands in flight is bounded so that memory stays flat however
// long the pipeline runs (a 2,000,000-row transaction streams through).
//
// The connection is switched to non-blocking mode: sending never blocks on
// a full socket while the server is itself blocked sending us results.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/connection.h"
#include "pg/errors.h"

struct pollfd;  // <poll.h>

namespace pgdts::pg {

// What a queued command is, for error messages and row-count checks. The
// views must outlive the command (the statement cache keeps the strings).
struct CommandTag {
  std::string_view what;   // e.g. "UPDATE of public.t", "COMMIT"
  std::string_view sql;    // the statement text, for the log
  std::uint64_t lsn = 0;   // source LSN of the change (0: none)
  // Rows the command must touch; fewer are reported through on_missing_rows.
  std::uint32_t expect_rows = 0;
};

// A pipelined command the server rejected.
class PipelineError : public SqlError {
 public:
  PipelineError(const std::string& message, std::string sqlstate, const CommandTag& tag)
      : SqlError(message, std::move(sqlstate)),
        what_(tag.what),
        sql_(tag.sql),
        lsn_(tag.lsn) {}
  const std::string& what_failed() const { return what_; }
  const std::string& statement() const { return sql_; }
  std::uint64_t lsn() const { return lsn_; }

 private:
  std::string what_, sql_;
  std::uint64_t lsn_;
};

class Pipeline {
 public:
  // Enters pipeline mode on conn, which must stay alive and idle otherwise.
  explicit Pipeline(Connection& conn, std::size_t max_in_flight = 4096);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Queue commands. Parameters are copied into libpq's buffer before these
  // return, so the caller's buffers may be reused at once.
  void prepare(const char* name, const std::string& sql, int nparams, const CommandTag& tag);
  void execute(const char* name, int nparams, const char* const* values, const int* lengths,
               const int* formats, const CommandTag& tag);
  void query(const char* sql, int nparams, const char* const* values, const CommandTag& tag);
  // A sync point: ends the server's error skipping, and is counted as a
  // pending sync until its result arrives.
  void sync();

  // Sends everything queued and takes the results that have arrived,
  // without waiting for more.
  void poll();
  // Waits until every queued command has its result.
  void wait_all();

  std::size_t in_flight() const { return count_; }
  std::size_t pending_syncs() const { return syncs_; }
  int socket() const { return conn_.socket(); }

  // Called for a command that touched fewer than its expect_rows rows, with
  // how many fewer.
  std::function<void(const CommandTag&, std::uint64_t missing)> on_missing_rows;
  // Called about once a second while waiting for the server (a long DDL, a
  // row lock some other session holds), and at once when a signal
  // interrupts the wait: the caller keeps its other connections alive
  // meanwhile, and checks for a stop request. It may throw to abandon the
  // wait (a stop); the pipeline is then out of step, and the caller must
  // close the connection, which rolls back the open transaction.
  std::function<void()> on_wait;

 private:
  struct Entry {
    CommandTag tag;
    bool is_sync = false;
  };

  void push(const CommandTag& tag, bool is_sync);
  void after_send();
  void flush();
  void take_results();
  void wait_until_at_most(std::size_t n);
  bool wait_for(::pollfd& p);
  [[noreturn]] void fail_send(std::string_view what);

  Connection& conn_;
  std::size_t max_in_flight_;
  // ring of commands in flight, oldest at head_
  std::vector<Entry> ring_;
  std::size_t head_ = 0, count_ = 0, syncs_ = 0;
  std::size_t unflushed_ = 0;
};

}  // namespace pgdts::pg
