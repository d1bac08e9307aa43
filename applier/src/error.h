// Exceptions of pgdts. Each carries one line saying what failed and on which
// object; the command that catches it prints `pgdts: error: <what>` and picks
// the exit status from the type (UsageError: 2, anything else: 1).
// ConnectionError and SqlError live in pg/errors.h: they come from libpq.
#pragma once

#include <stdexcept>
#include <string>

namespace pgdts {

// An operation failed (exit status 1).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad command line or configuration (exit status 2).
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace pgdts
