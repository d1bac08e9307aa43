// Live progress of a full sync: workers count rows and bytes into a
// ProgressBoard (atomics, no locks on the row path); once a second the run
// hands a snapshot of it to its observers. The default observer draws a
// per-table block on stderr when stderr is a terminal (rows, MB, rate, ETA
// and a total line), and otherwise logs a full_sync_progress event every
// 10 s. Other observers (metrics, status) can be added by the caller.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace pgdts::fullsync {

enum class TableState { pending, copying, copied, skipped };

// One table's counters. Rows and bytes are those streamed in this run
// (committed or still in a destination transaction).
struct TableProgress {
  std::string name;  // source table, for display
  std::int64_t rows_estimate = 0, bytes_estimate = 0;
  int chunks_total = 1;
  std::atomic<std::int64_t> rows{0}, bytes{0};
  std::atomic<int> chunks_done{0};
  std::atomic<TableState> state{TableState::pending};
  std::atomic<std::int64_t> started_ms{0}, finished_ms{0};  // since the board's start
};

struct TableSnapshot {
  std::string name;
  TableState state = TableState::pending;
  std::int64_t rows = 0, bytes = 0, rows_estimate = 0, bytes_estimate = 0;
  int chunks_done = 0, chunks_total = 1;
  double seconds = 0;  // copying time so far (0 if not started)
};

struct BoardSnapshot {
  double seconds = 0;  // since the run started
  int tables_total = 0, tables_done = 0;  // done includes skipped (copied before)
  std::int64_t rows = 0, bytes = 0, rows_estimate = 0, bytes_estimate = 0;
  std::vector<TableSnapshot> tables;
};

class ProgressBoard {
 public:
  ProgressBoard();
  TableProgress& add(std::string name, std::int64_t rows_estimate, std::int64_t bytes_estimate,
                     int chunks_total);
  // True for the call that moved the table from pending to copying.
  bool start(TableProgress& table);
  void finish(TableProgress& table, TableState state);
  BoardSnapshot snapshot() const;

 private:
  std::int64_t now_ms() const;
  std::chrono::steady_clock::time_point start_;
  std::deque<TableProgress> tables_;  // stable addresses
};

class ProgressObserver {
 public:
  virtual ~ProgressObserver() = default;
  // Called about once a second, and once more with final = true at the end.
  virtual void tick(const BoardSnapshot& board, bool final) = 0;
};

// Terminal display when stderr is a tty, else a log event every 10 s.
std::unique_ptr<ProgressObserver> default_progress_observer();

// "12.3 MB", "1.2 GB" (1 MB = 1,000,000 bytes, as --full-mbps counts).
std::string format_bytes(double bytes);
// "1h02m", "3m05s", "42s", "-" when unknown.
std::string format_eta(double seconds);

}  // namespace pgdts::fullsync
