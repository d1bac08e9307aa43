// COPY streams over a regular (non-replication) connection: CopyOut reads
// the rows of a `COPY ... TO STDOUT`, CopyIn feeds a `COPY ... FROM STDIN`.
// Full sync relays rows from one to the other without parsing them: one
// CopyData message of a text-format COPY is one row, and is handed over as
// the bytes the source sent.
//
// Both run on blocking connections (not in pipeline mode). A stream that is
// destroyed before it ended is abandoned: CopyOut cancels the source query
// (which fails the source transaction), CopyIn ends the COPY with an error
// (which fails the destination transaction; the caller rolls it back).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pg/connection.h"

namespace pgdts::pg {

class CopyOut {
 public:
  // Sends sql (a COPY ... TO STDOUT). Throws SqlError / ConnectionError.
  CopyOut(Connection& conn, const std::string& sql);
  CopyOut(const CopyOut&) = delete;
  CopyOut& operator=(const CopyOut&) = delete;
  ~CopyOut();

  // The next row, valid until the next call; false at the end of the data
  // (the COPY's result has then been checked). Blocks until a row arrives.
  bool next(std::string_view& row);
  // Cancels the COPY and waits for the server to end it; the connection's
  // transaction is failed afterwards. Never throws.
  void abandon() noexcept;
  bool finished() const { return done_; }

 private:
  struct BufferDeleter {
    void operator()(char* p) const;
  };
  Connection& conn_;
  std::unique_ptr<char, BufferDeleter> buffer_;
  bool done_ = false;
};

class CopyIn {
 public:
  // Sends sql (a COPY ... FROM STDIN). Throws SqlError / ConnectionError.
  CopyIn(Connection& conn, const std::string& sql);
  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;
  ~CopyIn();

  // Queues data (libpq buffers it and sends full buffers).
  void put(std::string_view data);
  // Ends the COPY and checks its result; returns the rows the server took.
  std::int64_t finish();
  // Ends the COPY with an error so that the server discards it. Never throws.
  void abandon(const char* reason) noexcept;
  bool finished() const { return done_; }

 private:
  Connection& conn_;
  bool done_ = false;
};

}  // namespace pgdts::pg
