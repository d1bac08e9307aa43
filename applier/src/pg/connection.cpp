// libpq connections: connect with pgdts' parameters added to the user's,
// run statements, and turn failures into exceptions of the right type.
#include "pg/connection.h"

#include <poll.h>

#include <cstring>

#include <cerrno>

#include <chrono>

#include <cstdlib>
#include <vector>

#include <libpq-fe.h>

#include "logging/log.h"

namespace pgdts::pg {

namespace {

// Server notices (NOTICE, WARNING...) would otherwise be printed by libpq
// straight to stderr, breaking the one-event-per-line log: they become
// events, warnings as WARN, the rest as DEBUG.
void receive_notice(void* arg, const PGresult* res) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  log::Event event("server_notice");
  event.field("side", *static_cast<const std::string*>(arg))
      .field("severity", severity ? severity : "NOTICE")
      .field("message", message ? one_line(message) : one_line(PQresultErrorMessage(res)));
  if (severity && std::string_view(severity) == "WARNING")
    event.warn();
  else
    event.debug();
}

}  // namespace

void ConnDeleter::operator()(pg_conn* conn) const { PQfinish(conn); }
void CancelDeleter::operator()(pg_cancel* cancel) const { PQfreeCancel(cancel); }

bool CancelHandle::cancel() const noexcept {
  if (!cancel_) return false;
  char err[256];
  return PQcancel(cancel_.get(), err, sizeof err) == 1;
}

CancelHandle Connection::cancel_handle() const {
  return CancelHandle(conn_ ? PQgetCancel(conn_.get()) : nullptr);
}
void ResultDeleter::operator()(pg_result* res) const { PQclear(res); }

int Result::rows() const { return res_ ? PQntuples(res_.get()) : 0; }

bool Result::is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string_view Result::value(int row, int col) const {
  return {PQgetvalue(res_.get(), row, col),
          static_cast<size_t>(PQgetlength(res_.get(), row, col))};
}

std::optional<std::string> Result::optional(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return std::string(value(row, col));
}

std::string one_line(std::string_view message) {
  std::string out;
  bool pending_space = false, pending_sep = false;
  for (char c : message) {
    if (c == '\n' || c == '\r') {
      pending_sep = !out.empty();
      pending_space = false;
      continue;
    }
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_sep) out += "; ";
    else if (pending_space) out += ' ';
    pending_sep = pending_space = false;
    out += c;
  }
  return out;
}

std::string pid_in_message(std::string_view message) {
  std::size_t at = message.find("PID ");
  if (at == std::string_view::npos) return "?";
  std::size_t begin = at + 4, end = begin;
  while (end < message.size() && message[end] >= '0' && message[end] <= '9') ++end;
  return end > begin ? std::string(message.substr(begin, end - begin)) : "?";
}

bool is_connection_sqlstate(std::string_view s) {
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300";
}

std::vector<std::pair<std::string, std::string>> connection_parameters(
    const ConnInfo& info, const ConnectOptions& options) {
  // Defaults first (the user's values override them), then the user's
  // parameters, then what pgdts must set (overriding the user's).
  std::vector<std::pair<std::string, std::string>> params = {
      {"connect_timeout", "10"},
      // A peer whose host died or whose network went away sends nothing,
      // not even a reset: without these a wait for it lasts hours (Linux
      // retransmits for about 15 minutes, and an idle socket is never
      // probed at all), and a hang is a defect. With them, a lost peer is a
      // connection error within about a minute, and the sync retries.
      // Keepalives: an idle connection (the walsender of a quiet source, a
      // destination session waiting for the stream) is probed after 30 s
      // of silence, and dropped after 3 probes 10 s apart unanswered.
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
      // tcp_user_timeout: data sent and not acknowledged for 60 s (a
      // pipeline writing to a destination that vanished) ends the
      // connection; keepalives do not cover a socket with data in flight.
      {"tcp_user_timeout", "60000"},
  };
  if (!options.fallback_application_name.empty())
    params.emplace_back("fallback_application_name", options.fallback_application_name);
  std::string user_options;
  for (const auto& [key, value] : info.params()) {
    if (key == "options") {
      user_options = value;
      continue;
    }
    params.emplace_back(key, value);
  }
  if (user_options.empty()) {
    if (const char* env = std::getenv("PGOPTIONS")) user_options = env;
  }
  // The server's side of the same: a network cut leaves the server's
  // session of a lost connection waiting for its client, holding what it
  // held (the task's lock, an open transaction's row locks) until the OS
  // gives up on it, two hours later by default, and the sync's next
  // session would wait as long. With these, it ends within about a minute.
  // Set before the user's options, which may change them.
  std::string all_options =
      "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3 "
      "-c tcp_user_timeout=60000";
  if (!user_options.empty()) all_options += ' ' + user_options;
  // pgdts' queries are key lookups and catalog reads: JIT compilation,
  // which a catalog join's estimated cost triggers, costs them 100 ms and
  // more (a table's rights read: 270 ms with it, 16 ms without) and buys
  // nothing. Set after the user's options, so that it holds.
  all_options += " -c jit=off";
  if (!options.extra_options.empty()) all_options += ' ' + options.extra_options;
  params.emplace_back("options", all_options);
  if (options.replication) params.emplace_back("replication", "database");
  return params;
}

Connection Connection::open(const ConnInfo& info, const ConnectOptions& options) {
  // libpq takes the last of repeated keys: later entries override earlier ones.
  std::vector<std::pair<std::string, std::string>> params = connection_parameters(info, options);
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  Connection c;
  c.side_ = options.side;
  c.conn_.reset(PQconnectdbParams(keys.data(), values.data(), 0));
  if (!c.conn_) throw ConnectionError("could not connect to the " + options.side + ": out of memory");
  if (PQstatus(c.conn_.get()) != CONNECTION_OK)
    throw ConnectionError("could not connect to the " + options.side + ": " + c.error_message());
  c.side_name_ = std::make_unique<std::string>(options.side);  // stable address for the receiver
  PQsetNoticeReceiver(c.conn_.get(), receive_notice, c.side_name_.get());
  return c;
}

std::string Connection::error_message() const {
  return conn_ ? one_line(PQerrorMessage(conn_.get())) : "no connection";
}

bool Connection::is_healthy() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

bool Connection::in_transaction() const {
  if (!conn_) return false;
  auto status = PQtransactionStatus(conn_.get());
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

int Connection::socket() const { return conn_ ? PQsocket(conn_.get()) : -1; }

int Connection::backend_pid() const { return conn_ ? PQbackendPID(conn_.get()) : 0; }

std::string Connection::parameter_status(const char* name) const {
  const char* v = conn_ ? PQparameterStatus(conn_.get(), name) : nullptr;
  return v ? v : "";
}

std::string Connection::literal(std::string_view text) const {
  char* q = PQescapeLiteral(conn_.get(), text.data(), text.size());
  if (!q) throw Error(side_ + ": could not quote a literal: " + error_message());
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string Connection::identifier(std::string_view text) const {
  char* q = PQescapeIdentifier(conn_.get(), text.data(), text.size());
  if (!q) throw Error(side_ + ": could not quote an identifier: " + error_message());
  std::string out(q);
  PQfreemem(q);
  return out;
}

void Connection::raise(const pg_result* res, std::string_view context) const {
  std::string prefix = side_;
  if (!context.empty()) {
    prefix += ": ";
    prefix += context;
  }
  const char* sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string message;
  if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) {
    message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
      message += std::string(" (") + detail + ")";
  } else if (res && *PQresultErrorMessage(res)) {
    message = one_line(PQresultErrorMessage(res));
  } else {
    message = error_message();
  }
  bool lost = !conn_ || PQstatus(conn_.get()) == CONNECTION_BAD ||
              (sqlstate && is_connection_sqlstate(sqlstate)) || !sqlstate;
  if (lost) throw ConnectionError(prefix + ": " + one_line(message));
  throw SqlError(prefix + ": " + one_line(message), sqlstate);
}

Result Connection::checked(pg_result* res) const {
  Result owner(res);
  ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) raise(res, "");
  return owner;
}

Result Connection::exec(const std::string& sql) {
  if (!conn_) throw ConnectionError(side_ + ": not connected");
  return checked(PQexec(conn_.get(), sql.c_str()));
}

Result Connection::exec(const std::string& sql, std::initializer_list<const char*> params) {
  if (!conn_) throw ConnectionError(side_ + ": not connected");
  std::vector<const char*> values(params);
  return checked(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
}

Result Connection::exec_while(const std::string& sql, const std::function<void()>& waiting) {
  if (!conn_) throw ConnectionError(side_ + ": not connected");
  pg_conn* c = conn_.get();
  if (!PQsendQuery(c, sql.c_str())) raise(nullptr, "");
  try {
    auto next_call = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (true) {
      if (!PQconsumeInput(c)) raise(nullptr, "");
      if (!PQisBusy(c)) break;
      pollfd p{PQsocket(c), POLLIN, 0};
      bool interrupted = ::poll(&p, 1, 1000) < 0;  // a signal (a stop request) is worth a look
      if (interrupted && errno != EINTR)
        throw ConnectionError(side_ + ": poll failed: " + std::strerror(errno));
      auto now = std::chrono::steady_clock::now();
      if (now >= next_call || interrupted) {
        next_call = now + std::chrono::seconds(1);
        waiting();
      }
    }
  } catch (...) {
    cancel_handle().cancel();
    while (pg_result* r = PQgetResult(c)) PQclear(r);
    throw;
  }
  // The statement's result; an error result wins over what follows it.
  pg_result* kept = nullptr;
  while (pg_result* r = PQgetResult(c)) {
    bool failed = PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK;
    bool kept_failed = kept && PQresultStatus(kept) != PGRES_COMMAND_OK &&
                       PQresultStatus(kept) != PGRES_TUPLES_OK;
    if (kept_failed && !failed) {
      PQclear(r);
      continue;
    }
    if (kept) PQclear(kept);
    kept = r;
  }
  return checked(kept);
}

}  // namespace pgdts::pg
