// COPY TO STDOUT / FROM STDIN over libpq's copy functions.
#include "pg/copy.h"

#include <charconv>

#include <libpq-fe.h>

namespace pgdts::pg {
namespace {

// Sends a COPY statement and checks that the server entered the expected
// copy state.
void start_copy(Connection& conn, const std::string& sql, ExecStatusType expected,
                std::string_view what) {
  if (!conn.is_open()) throw ConnectionError(conn.side() + ": not connected");
  PGresult* res = PQexec(conn.native(), sql.c_str());
  Result owner(res);
  if (res && PQresultStatus(res) == expected) return;
  if (res && (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK))
    throw Error(conn.side() + ": " + std::string(what) + " did not start a COPY");
  conn.raise(res, what);
}

}  // namespace

void CopyOut::BufferDeleter::operator()(char* p) const { PQfreemem(p); }

CopyOut::CopyOut(Connection& conn, const std::string& sql) : conn_(conn) {
  start_copy(conn_, sql, PGRES_COPY_OUT, "COPY TO STDOUT");
}

CopyOut::~CopyOut() {
  if (!done_) abandon();
}

bool CopyOut::next(std::string_view& row) {
  if (done_) return false;
  buffer_.reset();
  char* buf = nullptr;
  int n = PQgetCopyData(conn_.native(), &buf, 0);
  if (n >= 0) {
    buffer_.reset(buf);
    row = std::string_view(buf, static_cast<std::size_t>(n));
    return true;
  }
  done_ = true;
  if (n == -2) conn_.raise(nullptr, "reading COPY data");
  // End of data: the COPY's own result says whether it succeeded.
  while (PGresult* res = PQgetResult(conn_.native())) {
    Result owner(res);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) conn_.raise(res, "COPY TO STDOUT");
  }
  return false;
}

void CopyOut::abandon() noexcept {
  if (done_) return;
  done_ = true;
  buffer_.reset();
  if (!conn_.is_healthy()) return;
  if (PGcancel* cancel = PQgetCancel(conn_.native())) {
    char err[256];
    PQcancel(cancel, err, sizeof err);
    PQfreeCancel(cancel);
  }
  // Read what is still on its way until the server reports the cancel.
  char* buf = nullptr;
  int n;
  while ((n = PQgetCopyData(conn_.native(), &buf, 0)) >= 0) PQfreemem(buf);
  while (PGresult* res = PQgetResult(conn_.native())) PQclear(res);
}

CopyIn::CopyIn(Connection& conn, const std::string& sql) : conn_(conn) {
  start_copy(conn_, sql, PGRES_COPY_IN, "COPY FROM STDIN");
}

CopyIn::~CopyIn() {
  if (!done_) abandon("pgdts abandoned the COPY");
}

void CopyIn::put(std::string_view data) {
  if (PQputCopyData(conn_.native(), data.data(), static_cast<int>(data.size())) != 1) {
    done_ = true;
    throw ConnectionError(conn_.side() + ": could not send COPY data: " + conn_.error_message());
  }
}

std::int64_t CopyIn::finish() {
  done_ = true;
  if (PQputCopyEnd(conn_.native(), nullptr) != 1)
    throw ConnectionError(conn_.side() + ": could not end the COPY: " + conn_.error_message());
  std::int64_t rows = 0;
  bool failed = false;
  Result failure;
  while (PGresult* res = PQgetResult(conn_.native())) {
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
      const char* tuples = PQcmdTuples(res);
      std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), rows);
      PQclear(res);
    } else {
      failed = true;
      failure = Result(res);
      // keep reading: libpq wants every result taken before the next command
      while (PGresult* more = PQgetResult(conn_.native())) PQclear(more);
      break;
    }
  }
  if (failed) conn_.raise(failure.native(), "COPY FROM STDIN");
  return rows;
}

void CopyIn::abandon(const char* reason) noexcept {
  if (done_) return;
  done_ = true;
  if (!conn_.is_healthy()) return;
  if (PQputCopyEnd(conn_.native(), reason) != 1) return;
  while (PGresult* res = PQgetResult(conn_.native())) PQclear(res);
}

}  // namespace pgdts::pg
