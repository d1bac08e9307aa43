// Replication protocol messages (CopyBoth sub-protocol):
//   XLogData   'w' dataStart(8) walEnd(8) sendTime(8) payload
//   keepalive  'k' walEnd(8) sendTime(8) replyRequested(1)
//   status     'r' write(8) flush(8) apply(8) sendTime(8) replyRequested(1)
// All integers big-endian.
#include "pg/replication_stream.h"

#include <charconv>
#include <chrono>

#include <libpq-fe.h>

namespace pgdts::pg {
namespace {

std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void put_u64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace

std::int64_t postgres_now() {
  constexpr std::int64_t kUnixToPostgresUs = 946684800LL * 1000000LL;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return us - kUnixToPostgresUs;
}

void ReplicationStream::CopyBufferDeleter::operator()(char* p) const { PQfreemem(p); }

ReplicationStream::ReplicationStream(Connection conn) : conn_(std::move(conn)) {}

SystemIdentity ReplicationStream::identify_system() {
  Result r = conn_.exec("IDENTIFY_SYSTEM");
  if (r.rows() != 1) throw Error(conn_.side() + ": IDENTIFY_SYSTEM returned no row");
  SystemIdentity id;
  id.system_id = std::string(r.value(0, 0));
  auto tl = r.value(0, 1);
  std::from_chars(tl.data(), tl.data() + tl.size(), id.timeline);
  id.xlogpos = parse_lsn(r.value(0, 2)).value_or(0);
  id.dbname = r.optional(0, 3).value_or("");
  return id;
}

std::optional<SlotInfo> ReplicationStream::find_slot(const std::string& name) {
  Result r = conn_.exec(
      "SELECT plugin, database, slot_type, active_pid, confirmed_flush_lsn "
      "FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
      conn_.literal(name));
  if (r.rows() == 0) return std::nullopt;
  SlotInfo s;
  s.plugin = r.optional(0, 0).value_or("");
  s.database = r.optional(0, 1).value_or("");
  s.slot_type = r.optional(0, 2).value_or("");
  if (!r.is_null(0, 3)) {
    int pid = 0;
    auto v = r.value(0, 3);
    std::from_chars(v.data(), v.data() + v.size(), pid);
    s.active_pid = pid;
  }
  if (!r.is_null(0, 4)) s.confirmed_flush = parse_lsn(r.value(0, 4)).value_or(0);
  return s;
}

Lsn ReplicationStream::create_slot(const std::string& name, const std::string& plugin) {
  Result r = conn_.exec("CREATE_REPLICATION_SLOT " + conn_.identifier(name) + " LOGICAL " +
                        conn_.identifier(plugin) + " (SNAPSHOT 'nothing')");
  if (r.rows() != 1) throw Error(conn_.side() + ": CREATE_REPLICATION_SLOT returned no row");
  return parse_lsn(r.value(0, 1)).value_or(0);
}

ReplicationStream::ExportedSnapshot ReplicationStream::create_slot_exporting(
    const std::string& name, const std::string& plugin, bool temporary) {
  Result r = conn_.exec("CREATE_REPLICATION_SLOT " + conn_.identifier(name) +
                        (temporary ? " TEMPORARY" : "") + " LOGICAL " + conn_.identifier(plugin) +
                        " (SNAPSHOT 'export')");
  if (r.rows() != 1 || r.is_null(0, 2))
    throw Error(conn_.side() + ": CREATE_REPLICATION_SLOT exported no snapshot");
  return {parse_lsn(r.value(0, 1)).value_or(0), std::string(r.value(0, 2))};
}

void ReplicationStream::start(const std::string& slot, Lsn start,
                              const std::vector<std::pair<std::string, std::string>>& options) {
  std::string sql = "START_REPLICATION SLOT " + conn_.identifier(slot) + " LOGICAL " +
                    format_lsn(start);
  if (!options.empty()) {
    sql += " (";
    for (size_t i = 0; i < options.size(); ++i) {
      if (i) sql += ", ";
      sql += conn_.identifier(options[i].first) + " " + conn_.literal(options[i].second);
    }
    sql += ")";
  }
  PGresult* res = PQexec(conn_.native(), sql.c_str());
  Result owner(res);
  if (!res || PQresultStatus(res) != PGRES_COPY_BOTH) conn_.raise(res, "START_REPLICATION");
  // Messages are read with PQgetCopyData(async); keep the socket non-blocking
  // for reads only: status updates are tiny and sent in blocking mode.
}

ReplicationStream::Message ReplicationStream::read() {
  buffer_.reset();
  PGconn* c = conn_.native();
  char* raw = nullptr;
  int n = PQgetCopyData(c, &raw, 1);
  if (n == 0) {
    if (!PQconsumeInput(c))
      throw ConnectionError(conn_.side() + ": replication connection lost: " + conn_.error_message());
    n = PQgetCopyData(c, &raw, 1);
  }
  if (n == 0) return {};
  if (n == -1) {
    PGresult* res = PQgetResult(c);
    Result owner(res);
    std::string why = res && *PQresultErrorMessage(res) ? one_line(PQresultErrorMessage(res))
                                                        : std::string("no error reported");
    throw ConnectionError(conn_.side() + ": the server ended the replication stream: " + why);
  }
  if (n < 0)
    throw ConnectionError(conn_.side() + ": replication connection lost: " + conn_.error_message());
  buffer_.reset(raw);

  Message m;
  if (raw[0] == 'w' && n >= 25) {
    m.kind = Message::Kind::data;
    m.data_start = get_u64(raw + 1);
    m.wal_end = get_u64(raw + 9);
    m.payload = std::string_view(raw + 25, static_cast<size_t>(n - 25));
    return m;
  }
  if (raw[0] == 'k' && n >= 18) {
    m.kind = Message::Kind::keepalive;
    m.wal_end = get_u64(raw + 1);
    m.reply_requested = raw[17] != 0;
    return m;
  }
  throw ConnectionError(conn_.side() + ": unexpected replication message of type '" +
                        std::string(1, raw[0]) + "' (" + std::to_string(n) + " bytes)");
}

void ReplicationStream::send_status(Lsn write, Lsn flush, Lsn apply, bool reply_requested) {
  char buf[34];
  buf[0] = 'r';
  put_u64(buf + 1, write);
  put_u64(buf + 9, flush);
  put_u64(buf + 17, apply);
  put_u64(buf + 25, static_cast<std::uint64_t>(postgres_now()));
  buf[33] = reply_requested ? 1 : 0;
  PGconn* c = conn_.native();
  if (PQputCopyData(c, buf, sizeof buf) <= 0 || PQflush(c) != 0)
    throw ConnectionError(conn_.side() + ": could not send a status update: " +
                          conn_.error_message());
}

}  // namespace pgdts::pg
