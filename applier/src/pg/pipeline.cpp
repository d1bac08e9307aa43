// Pipeline mode: queue, flush, and take results as they come.
//
// Result order in pipeline mode (libpq): each command yields its result(s)
// and then a NULL; a sync yields one PGRES_PIPELINE_SYNC and no NULL. After
// an error the server skips every command up to the next sync; we never get
// that far: the first error is thrown, and the caller drops the connection,
// which rolls back the open transaction.
#include "pg/pipeline.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <poll.h>

#include <libpq-fe.h>

namespace pgdts::pg {
namespace {

// Commands queued between two flush requests: small enough that results
// come back steadily, large enough that the flushes cost nothing.
constexpr std::size_t kFlushEvery = 128;

}  // namespace

Pipeline::Pipeline(Connection& conn, std::size_t max_in_flight)
    : conn_(conn), max_in_flight_(max_in_flight), ring_(max_in_flight + 16) {
  if (PQsetnonblocking(conn_.native(), 1) != 0 || PQenterPipelineMode(conn_.native()) != 1)
    throw ConnectionError(conn_.side() + ": could not enter pipeline mode: " + conn_.error_message());
}

void Pipeline::fail_send(std::string_view what) {
  throw ConnectionError(conn_.side() + ": could not send " + std::string(what) + ": " +
                        conn_.error_message());
}

void Pipeline::push(const CommandTag& tag, bool is_sync) {
  if (count_ == ring_.size()) {
    // Only reachable if max_in_flight was exceeded by syncs; grow in order.
    std::vector<Entry> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  ring_[(head_ + count_) % ring_.size()] = Entry{tag, is_sync};
  ++count_;
  if (is_sync) ++syncs_;
}

void Pipeline::prepare(const char* name, const std::string& sql, int nparams,
                       const CommandTag& tag) {
  if (!PQsendPrepare(conn_.native(), name, sql.c_str(), nparams, nullptr)) fail_send(tag.what);
  push(tag, false);
  after_send();
}

void Pipeline::execute(const char* name, int nparams, const char* const* values,
                       const int* lengths, const int* formats, const CommandTag& tag) {
  if (!PQsendQueryPrepared(conn_.native(), name, nparams, values, lengths, formats, 0))
    fail_send(tag.what);
  push(tag, false);
  after_send();
}

void Pipeline::query(const char* sql, int nparams, const char* const* values,
                     const CommandTag& tag) {
  if (!PQsendQueryParams(conn_.native(), sql, nparams, nullptr, values, nullptr, nullptr, 0))
    fail_send(tag.what);
  push(tag, false);
  after_send();
}

void Pipeline::sync() {
  if (!PQpipelineSync(conn_.native())) fail_send("a pipeline sync");
  push(CommandTag{"pipeline sync", {}, 0, false}, true);
  unflushed_ = 0;
  flush();
  take_results();
}

void Pipeline::after_send() {
  if (++unflushed_ >= kFlushEvery) {
    // Ask the server to send the results it holds, so that they do not pile
    // up on its side until the next sync.
    if (!PQsendFlushRequest(conn_.native())) fail_send("a flush request");
    unflushed_ = 0;
    flush();
    take_results();
  }
  if (count_ >= max_in_flight_) wait_until_at_most(max_in_flight_ / 2);
}

void Pipeline::poll() {
  if (unflushed_ > 0) {
    if (!PQsendFlushRequest(conn_.native())) fail_send("a flush request");
    unflushed_ = 0;
  }
  flush();
  take_results();
}

// Sends libpq's buffered output. When the socket is full, takes results
// meanwhile: the server may be waiting for us to read before it reads more.
void Pipeline::flush() {
  PGconn* c = conn_.native();
  while (true) {
    int r = PQflush(c);
    if (r < 0) fail_send("queued commands");
    if (r == 0) return;
    pollfd p{conn_.socket(), POLLOUT | POLLIN, 0};
    if (!wait_for(p)) continue;
    if (p.revents & (POLLIN | POLLERR | POLLHUP)) take_results();
  }
}

void Pipeline::take_results() {
  PGconn* c = conn_.native();
  if (!PQconsumeInput(c))
    throw ConnectionError(conn_.side() + ": connection lost: " + conn_.error_message());
  while (count_ > 0 && !PQisBusy(c)) {
    Entry& front = ring_[head_];
    PGresult* res = PQgetResult(c);
    if (res == nullptr) {
      if (front.is_sync) throw ConnectionError(conn_.side() + ": pipeline out of step at a sync");
      head_ = (head_ + 1) % ring_.size();
      --count_;
      continue;
    }
    Result owner(res);
    switch (PQresultStatus(res)) {
      case PGRES_PIPELINE_SYNC:
        if (!front.is_sync)
          throw ConnectionError(conn_.side() + ": pipeline out of step: sync result for " +
                                std::string(front.tag.what));
        head_ = (head_ + 1) % ring_.size();
        --count_;
        --syncs_;
        break;
      case PGRES_COMMAND_OK:
      case PGRES_TUPLES_OK:
        if (front.tag.expect_rows > 0 && on_missing_rows) {
          std::uint64_t touched = std::strtoull(PQcmdTuples(res), nullptr, 10);
          if (touched < front.tag.expect_rows)
            on_missing_rows(front.tag, front.tag.expect_rows - touched);
        }
        break;
      case PGRES_FATAL_ERROR: {
        const char* sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (PQstatus(c) == CONNECTION_BAD || !sqlstate || is_connection_sqlstate(sqlstate))
          throw ConnectionError(conn_.side() + ": " + std::string(front.tag.what) + ": " +
                                one_line(PQresultErrorMessage(res)));
        std::string message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                  ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                  : one_line(PQresultErrorMessage(res));
        if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
          message += std::string(" (") + detail + ")";
        throw PipelineError(one_line(message), sqlstate, front.tag);
      }
      default:
        throw ConnectionError(conn_.side() + ": unexpected result " +
                              PQresStatus(PQresultStatus(res)) + " for " +
                              std::string(front.tag.what) + ": " +
                              one_line(PQresultErrorMessage(res)));
    }
  }
}

// One poll of at most a second. A second without news, or a signal (a stop
// request interrupts poll: the handlers are installed without SA_RESTART),
// calls on_wait, which may throw to abandon the wait. True when the socket
// is ready.
bool Pipeline::wait_for(pollfd& p) {
  int ready = ::poll(&p, 1, 1000);
  if (ready < 0 && errno != EINTR)
    throw ConnectionError(conn_.side() + ": poll failed: " + std::strerror(errno));
  if (ready <= 0) {
    if (on_wait) on_wait();
    return false;
  }
  return true;
}

void Pipeline::wait_until_at_most(std::size_t n) {
  if (unflushed_ > 0 || count_ > n) {
    if (!PQsendFlushRequest(conn_.native())) fail_send("a flush request");
    unflushed_ = 0;
  }
  flush();
  take_results();
  while (count_ > n) {
    pollfd p{conn_.socket(), POLLIN, 0};
    if (wait_for(p)) take_results();
  }
}

void Pipeline::wait_all() { wait_until_at_most(0); }

}  // namespace pgdts::pg
