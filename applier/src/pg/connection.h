// RAII wrappers over libpq connections and results. With pipeline.h and
// replication_stream.h, the only code that calls PQ* functions.
#pragma once

#include <initializer_list>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg/conninfo.h"
#include "pg/errors.h"

struct pg_conn;
struct pg_result;
struct pg_cancel;

namespace pgdts::pg {

struct ConnDeleter {
  void operator()(pg_conn* conn) const;
};
struct ResultDeleter {
  void operator()(pg_result* res) const;
};

// One query result. Values are borrowed views into it.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* res) : res_(res) {}

  int rows() const;
  bool is_null(int row, int col) const;
  std::string_view value(int row, int col) const;
  std::optional<std::string> optional(int row, int col) const;
  // For the other pg/ wrappers only.
  const pg_result* native() const { return res_.get(); }

 private:
  std::unique_ptr<pg_result, ResultDeleter> res_;
};

struct CancelDeleter {
  void operator()(pg_cancel* cancel) const;
};

// Asks the server to cancel what a connection is running. Usable from
// another thread than the connection's while that one is blocked in it.
class CancelHandle {
 public:
  explicit CancelHandle(pg_cancel* cancel) : cancel_(cancel) {}
  // Best effort; false when the request could not be sent.
  bool cancel() const noexcept;

 private:
  std::unique_ptr<pg_cancel, CancelDeleter> cancel_;
};

struct ConnectOptions {
  std::string side;                       // "source" / "destination", named in errors
  bool replication = false;               // adds replication=database
  std::string fallback_application_name;  // used unless the conninfo or PGAPPNAME sets one
  std::string extra_options;              // appended to the "options" parameter (-c ...)
};

// The keywords Connection::open gives libpq, in order (a later repeat of a
// key overrides an earlier one): pgdts' defaults (connect_timeout, TCP
// keepalives, tcp_user_timeout), the user's conninfo, then what pgdts must
// set (options, replication).
std::vector<std::pair<std::string, std::string>> connection_parameters(
    const ConnInfo& info, const ConnectOptions& options);

class Connection {
 public:
  // Connects (blocking, bounded by connect_timeout, 10 s unless the conninfo
  // says otherwise). Throws ConnectionError naming the side.
  static Connection open(const ConnInfo& info, const ConnectOptions& options);

  Connection() = default;
  Connection(Connection&&) = default;
  Connection& operator=(Connection&&) = default;

  // Runs one statement over the simple query protocol (the only one a
  // walsender speaks). Throws SqlError, or ConnectionError if the connection
  // is gone.
  Result exec(const std::string& sql);
  // Runs one statement with text parameters (nullptr is NULL).
  Result exec(const std::string& sql, std::initializer_list<const char*> params);
  // Like exec(sql), for a statement that may run long (an index build):
  // calls waiting about once a second until it completes. When waiting
  // throws, the statement is cancelled, its results drained, and the
  // exception passed on.
  Result exec_while(const std::string& sql, const std::function<void()>& waiting);

  const std::string& side() const { return side_; }
  bool is_open() const { return conn_ != nullptr; }
  bool is_healthy() const;
  // Inside a transaction block (also a failed one), as of the last result.
  bool in_transaction() const;
  int socket() const;
  int backend_pid() const;
  std::string parameter_status(const char* name) const;
  // Quoted for SQL text, escaped for the connection's encoding.
  std::string literal(std::string_view text) const;
  std::string identifier(std::string_view text) const;
  void close() { conn_.reset(); }
  CancelHandle cancel_handle() const;

  // For the other pg/ wrappers only.
  pg_conn* native() const { return conn_.get(); }
  // Throws the right exception for a failed result (nullptr: see the
  // connection's error message); context says what was being done.
  [[noreturn]] void raise(const pg_result* res, std::string_view context) const;
  // The connection's current error message, on one line.
  std::string error_message() const;

 private:
  Result checked(pg_result* res) const;

  // Declared before conn_ so that it outlives it: the notice receiver's argument.
  std::unique_ptr<std::string> side_name_;
  std::unique_ptr<pg_conn, ConnDeleter> conn_;
  std::string side_;
};

// libpq messages span lines (ERROR:  ...\nDETAIL: ...); logs and the final
// error line want one: lines are joined with "; ", tabs and runs of spaces
// collapsed.
std::string one_line(std::string_view message);

// The process id in a server message such as 'replication slot "x" is
// active for PID 4242' ("?" when there is none).
std::string pid_in_message(std::string_view message);

// Whether an SQLSTATE means the connection, not the statement, failed
// (class 08, admin shutdown, crash shutdown, cannot connect now).
bool is_connection_sqlstate(std::string_view sqlstate);

}  // namespace pgdts::pg
