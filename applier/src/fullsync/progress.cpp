// The progress board and its two displays (see progress.h).
#include "fullsync/progress.h"

#include <cmath>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "logging/log.h"

namespace pgdts::fullsync {
namespace {

using Clock = std::chrono::steady_clock;

double rate_of(double amount, double seconds) { return seconds > 0.5 ? amount / seconds : 0; }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Time left, from rows when the row estimate is known (reltuples), else
// from bytes (COPY text bytes against the relation's size: rougher).
std::string eta_of(std::int64_t rows, std::int64_t rows_estimate, double rps, std::int64_t bytes,
                   std::int64_t bytes_estimate, double bps) {
  if (rows_estimate > 0 && rps > 0) return format_eta(std::max<double>(rows_estimate - rows, 0) / rps);
  if (bytes_estimate > 0 && bps > 0) return format_eta(std::max<double>(bytes_estimate - bytes, 0) / bps);
  return "-";
}

// A block of lines on stderr redrawn in place, below the log lines
// (log::set_status_block).
class TerminalDisplay : public ProgressObserver {
 public:
  void tick(const BoardSnapshot& b, bool final) override {
    std::string out;
    auto line = [&](const char* text) {
      out += text;
      out += "\x1b[K\n";
    };
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-40s %12s %10s %12s %10s %8s", "table", "rows", "MB",
                  "rows/s", "MB/s", final ? "time" : "ETA");
    line(buf);
    int shown = 0, waiting = 0, recent = 0;
    for (auto it = b.tables.rbegin(); it != b.tables.rend(); ++it)
      recent += it->state == TableState::copied;
    for (const TableSnapshot& t : b.tables) {
      if (t.state == TableState::pending) ++waiting;
      bool show = t.state == TableState::copying ||
                  (t.state == TableState::copied && !final && recent-- <= 3);
      if (!show || shown >= 12) continue;
      ++shown;
      double rps = rate_of(static_cast<double>(t.rows), t.seconds);
      double bps = rate_of(static_cast<double>(t.bytes), t.seconds);
      std::string eta = t.state == TableState::copied ? "done" : eta_of(t.rows, t.rows_estimate, rps,
                                                                         t.bytes, t.bytes_estimate, bps);
      std::string name = t.name.size() > 40 ? t.name.substr(0, 37) + "..." : t.name;
      std::string chunks = t.chunks_total > 1 ? " [" + std::to_string(t.chunks_done) + "/" +
                                                    std::to_string(t.chunks_total) + "]"
                                              : "";
      std::snprintf(buf, sizeof buf, "%-40s %12lld %10s %12s %10s %8s%s", name.c_str(),
                    static_cast<long long>(t.rows), fixed(t.bytes / 1e6, 1).c_str(),
                    fixed(rps, 0).c_str(), fixed(bps / 1e6, 2).c_str(), eta.c_str(),
                    chunks.c_str());
      line(buf);
    }
    double rps = rate_of(static_cast<double>(b.rows), b.seconds);
    double bps = rate_of(static_cast<double>(b.bytes), b.seconds);
    std::string total = "total: " + std::to_string(b.tables_done) + "/" +
                        std::to_string(b.tables_total) + " tables" +
                        (waiting ? ", " + std::to_string(waiting) + " waiting" : "");
    std::snprintf(buf, sizeof buf, "%-40s %12lld %10s %12s %10s %8s", total.c_str(),
                  static_cast<long long>(b.rows), fixed(b.bytes / 1e6, 1).c_str(),
                  fixed(rps, 0).c_str(), fixed(bps / 1e6, 2).c_str(),
                  final ? fixed(b.seconds, 0).append("s").c_str()
                        : eta_of(b.rows, b.rows_estimate, rps, b.bytes, b.bytes_estimate, bps).c_str());
    line(buf);
    log::set_status_block(std::move(out), final);
  }

};

// A full_sync_progress event every 10 s (and at the end).
class LogReporter : public ProgressObserver {
 public:
  void tick(const BoardSnapshot& b, bool final) override {
    auto now = Clock::now();
    if (!final && now - last_ < std::chrono::seconds(10)) return;
    double seconds = std::chrono::duration<double>(now - last_).count();
    double rps = last_rows_ >= 0 ? rate_of(static_cast<double>(b.rows - last_rows_), seconds) : 0;
    double bps = last_rows_ >= 0 ? rate_of(static_cast<double>(b.bytes - last_bytes_), seconds) : 0;
    if (last_rows_ < 0) {
      rps = rate_of(static_cast<double>(b.rows), b.seconds);
      bps = rate_of(static_cast<double>(b.bytes), b.seconds);
    }
    last_ = now;
    last_rows_ = b.rows;
    last_bytes_ = b.bytes;
    int copying = 0;
    for (const auto& t : b.tables) copying += t.state == TableState::copying;
    log::Event("full_sync_progress")
        .field("tables_done", b.tables_done)
        .field("tables_total", b.tables_total)
        .field("tables_copying", copying)
        .field("rows", b.rows)
        .field("bytes", b.bytes)
        .field("rows_per_second", static_cast<std::int64_t>(std::llround(rps)))
        .field("mb_per_second", fixed(bps / 1e6, 2))
        .field("eta", eta_of(b.rows, b.rows_estimate, rps, b.bytes, b.bytes_estimate, bps))
        .info();
  }

 private:
  Clock::time_point last_ = Clock::now();
  std::int64_t last_rows_ = -1, last_bytes_ = 0;
};

}  // namespace

ProgressBoard::ProgressBoard() : start_(Clock::now()) {}

std::int64_t ProgressBoard::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
}

TableProgress& ProgressBoard::add(std::string name, std::int64_t rows_estimate,
                                  std::int64_t bytes_estimate, int chunks_total) {
  TableProgress& t = tables_.emplace_back();
  t.name = std::move(name);
  t.rows_estimate = rows_estimate;
  t.bytes_estimate = bytes_estimate;
  t.chunks_total = chunks_total;
  return t;
}

bool ProgressBoard::start(TableProgress& t) {
  TableState expected = TableState::pending;
  if (!t.state.compare_exchange_strong(expected, TableState::copying)) return false;
  t.started_ms = std::max<std::int64_t>(now_ms(), 1);
  return true;
}

void ProgressBoard::finish(TableProgress& t, TableState state) {
  t.finished_ms = std::max<std::int64_t>(now_ms(), 1);
  t.state = state;
}

BoardSnapshot ProgressBoard::snapshot() const {
  BoardSnapshot b;
  std::int64_t now = now_ms();
  b.seconds = now / 1000.0;
  for (const TableProgress& t : tables_) {
    TableSnapshot s;
    s.name = t.name;
    s.state = t.state.load();
    s.rows = t.rows.load(std::memory_order_relaxed);
    s.bytes = t.bytes.load(std::memory_order_relaxed);
    s.rows_estimate = t.rows_estimate;
    s.bytes_estimate = t.bytes_estimate;
    s.chunks_done = t.chunks_done.load();
    s.chunks_total = t.chunks_total;
    std::int64_t started = t.started_ms.load(), finished = t.finished_ms.load();
    if (started > 0) s.seconds = ((finished > 0 ? finished : now) - started) / 1000.0;
    ++b.tables_total;
    if (s.state == TableState::copied || s.state == TableState::skipped) {
      ++b.tables_done;
    }
    if (s.state != TableState::skipped) {
      b.rows += s.rows;
      b.bytes += s.bytes;
      b.rows_estimate += s.rows_estimate;
      b.bytes_estimate += std::max(s.bytes_estimate, s.bytes);
    }
    b.tables.push_back(std::move(s));
  }
  return b;
}

std::unique_ptr<ProgressObserver> default_progress_observer() {
  if (isatty(STDERR_FILENO)) return std::make_unique<TerminalDisplay>();
  return std::make_unique<LogReporter>();
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e9) return fixed(bytes / 1e9, 1) + " GB";
  return fixed(bytes / 1e6, 1) + " MB";
}

std::string format_eta(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "-";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace pgdts::fullsync
