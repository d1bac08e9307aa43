// One transaction on a connection, rolled back unless committed: leaving
// its scope by an exception or an early return undoes what it did, so no
// caller writes its own ROLLBACK. (The apply session's pipelined
// transactions are the pipeline's, apply/applier.cpp.)
#pragma once

#include "pg/connection.h"

namespace pgdts::pg {

// A consistent, read-only view: what verify, precheck and snapshot readers
// open on a source.
inline constexpr const char* kBeginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

class Transaction {
 public:
  explicit Transaction(Connection& conn, const char* begin = "BEGIN") : conn_(conn) {
    conn_.exec(begin);
  }
  ~Transaction() { rollback_quietly(); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    open_ = false;
    conn_.exec("COMMIT");
  }
  void rollback() {
    open_ = false;
    conn_.exec("ROLLBACK");
  }

 private:
  // A connection that failed has nothing to roll back, and a destructor
  // must not throw over the error that is unwinding.
  void rollback_quietly() noexcept {
    if (!open_) return;
    open_ = false;
    try {
      if (conn_.is_healthy() && conn_.in_transaction()) conn_.exec("ROLLBACK");
    } catch (...) {
    }
  }

  Connection& conn_;
  bool open_ = true;
};

}  // namespace pgdts::pg
