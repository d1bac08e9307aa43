#include "cli/output.h"

#include <cstdio>

#include "pg/connection.h"
#include "secrets/redact.h"

namespace pgdts::cli {

void print(std::string_view text) {
  std::string out = secrets::redact(text);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

int report_error(const std::string& message, int status) {
  std::string line = secrets::redact(pg::one_line(message));
  std::fprintf(stderr, "pgdts: error: %s\n", line.c_str());
  std::fflush(stderr);
  return status;
}

}  // namespace pgdts::cli
