// pgdts stream: the task's change records as JSON lines on stdout, like
// pg_recvlogical, for debugging. It confirms nothing (flush 0/0: the slot
// does not move) unless --consume, and then only what it has written out.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/stop_signal.h"
#include "error.h"
#include "model/etl_plugin_options.h"
#include "logging/log.h"
#include "pg/replication_stream.h"
#include "stream/format_version.h"
#include "stream/json_printer.h"
#include "stream/record_decoder.h"
#include "stream/relation_cache.h"
#include "store/task_store.h"

namespace pgdts::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kStatusEvery = 10s;

void write_out(std::string& out) {
  if (out.empty()) return;
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    throw Error(std::string("could not write to stdout: ") + std::strerror(errno));
  out.clear();
}


void open_slot(pg::ReplicationStream& stream, const Options& o, const std::string& slot) {
  auto info = stream.find_slot(slot);
  if (!info) {
    if (!o.create_slot)
      throw Error("replication slot \"" + slot + "\" does not exist on the source; run pgdts sync "
                  "--task " + o.task + " first, or pass --create-slot");
    pg::Lsn at = stream.create_slot(slot, "pgdts");
    log::Event("slot_created").field("slot", slot).field("consistent_lsn", pg::format_lsn(at)).info();
  } else if (info->plugin != "pgdts") {
    throw Error("replication slot \"" + slot + "\" uses output plugin \"" + info->plugin +
                "\", not pgdts");
  }
  try {
    std::vector<std::pair<std::string, std::string>> options = {
        {"format_version", std::to_string(stream::format_version())}};
    for (auto& option : model::plugin_options(o.filters, o.transforms)) options.push_back(option);
    stream.start(slot, o.start_lsn.value_or(0), options);
  } catch (const pg::SqlError& e) {
    if (auto refused = stream::refused_format(e.sqlstate(), e.what()))
      throw stream::FormatMismatchError(*refused);
    if (e.sqlstate() == "55006")
      throw Error("replication slot \"" + slot + "\" is in use by another process (PID " +
                  pg::pid_in_message(e.what()) + ")");
    throw;
  }
}

}  // namespace

int run_stream(const Options& o) {
  const std::atomic<bool>& stop = install_stop_signals();
  std::string slot = store::slot_name(o.task);
  try {
    pg::ReplicationStream stream(pg::Connection::open(
        o.source, {"source", true, store::application_name(o.task), "-c timezone=UTC"}));
    open_slot(stream, o, slot);
    log::Event("stream_started")
        .field("slot", slot)
        .field("start_lsn", pg::format_lsn(o.start_lsn.value_or(0)))
        .flag("consume", o.consume)
        .info();

    stream::RecordDecoder decoder;
    stream::RelationCache relations;
    std::string out;
    pg::Lsn received = 0, confirmed = 0;
    bool in_txn = false;
    auto last_data = Clock::now();
    auto next_status = Clock::now() + kStatusEvery;

    auto send_status = [&] {
      write_out(out);  // confirm only what is out
      stream.send_status(received, o.consume ? confirmed : 0, o.consume ? confirmed : 0, false);
    };

    while (true) {
      if (stop) break;
      auto m = stream.read();
      using Kind = pg::ReplicationStream::Message::Kind;
      if (m.kind == Kind::data) {
        received = std::max(received, m.wal_end);
        const pgdts::Record& record = decoder.decode(m.payload, m.data_start);
        if (record.has_relation()) relations.update(record.relation());
        stream::append_json_line(record, m.data_start, relations, out);
        if (record.has_begin()) in_txn = true;
        if (record.has_commit()) {
          in_txn = false;
          confirmed = std::max(confirmed, record.commit().end_lsn());
        }
        if (out.size() > (1 << 16)) write_out(out);
        last_data = Clock::now();
        continue;
      }
      if (m.kind == Kind::keepalive) {
        received = std::max(received, m.wal_end);
        if (!in_txn) confirmed = std::max(confirmed, m.wal_end);
        if (m.reply_requested) send_status();
        continue;
      }
      write_out(out);
      auto now = Clock::now();
      if (now >= next_status) {
        send_status();
        next_status = now + kStatusEvery;
      }
      if (o.idle_exit_seconds && now - last_data >= std::chrono::seconds(*o.idle_exit_seconds))
        break;
      pollfd p{stream.socket(), POLLIN, 0};
      ::poll(&p, 1, 100);
    }
    send_status();
    log::Event("stream_stopped")
        .field("slot", slot)
        .field("received_lsn", pg::format_lsn(received))
        .field("confirmed_lsn", pg::format_lsn(o.consume ? confirmed : 0))
        .info();
    return 0;
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
}

}  // namespace pgdts::cli
