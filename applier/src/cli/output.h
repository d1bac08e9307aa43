// What commands print: results on stdout, one error line on stderr. Both
// pass through secrets::redact, so no password reaches a terminal or a
// script, whatever a message quotes.
#pragma once

#include <string>
#include <string_view>

namespace pgdts::cli {

// Writes text (a command's result: a report, JSON, status) to stdout.
void print(std::string_view text);

// Prints `pgdts: error: <message>` (on one line) to stderr; returns status.
int report_error(const std::string& message, int status);

}  // namespace pgdts::cli
