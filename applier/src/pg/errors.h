// Errors raised by the libpq wrappers.
//
// ConnectionError is its own type because lost connections are retried under
// a different window (--retry-connection) than statements the server rejects
// (SqlError, retried under --retry-other).
#pragma once

#include <string>

#include "error.h"

namespace pgdts::pg {

// A connection could not be made, or was lost.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// The server rejected a statement; the connection is still usable (unless
// the caller is in a pipeline, which it then abandons).
class SqlError : public Error {
 public:
  SqlError(const std::string& message, std::string sqlstate)
      : Error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

}  // namespace pgdts::pg
