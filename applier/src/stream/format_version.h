// The record format version: what pgdts asks the output plugin for
// (START_REPLICATION option format_version), what it accepts in each BEGIN,
// and the one line it stops with when the two sides disagree, naming the
// side to upgrade (docs/protocol.md, "Compatibility").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "error.h"

namespace pgdts::stream {

// The plugin and this pgdts speak different record formats: retrying
// cannot help, an upgrade can. Never retried.
class FormatMismatchError : public Error {
 public:
  using Error::Error;
};

// The format this pgdts reads: proto's FORMAT_VERSION, unless the
// environment variable PGDTS_FORMAT_VERSION names another (compatibility
// tests use it to play an older or newer pgdts against this plugin).
std::uint32_t format_version();

// The plugin's refusal of START_REPLICATION, when that is what `message`
// (of SQLSTATE `sqlstate`) is: the one line saying which side to upgrade.
std::optional<std::string> refused_format(const std::string& sqlstate, const std::string& message);

// Throws FormatMismatchError unless a BEGIN's format version is ours.
void check_begin_format(std::uint32_t written, const std::string& at_lsn);

// "upgrade ..." for a plugin that writes `written` while we read `read`.
std::string which_side_to_upgrade(std::uint32_t written, std::uint32_t read);

}  // namespace pgdts::stream
