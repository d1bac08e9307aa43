#include "stream/format_version.h"

#include <cstdlib>
#include <regex>

#include "pgdts.pb.h"

namespace pgdts::stream {

std::uint32_t format_version() {
  static const std::uint32_t version = [] {
    const char* forced = std::getenv("PGDTS_FORMAT_VERSION");
    if (forced && *forced) {
      char* end = nullptr;
      unsigned long v = std::strtoul(forced, &end, 10);
      if (*end == '\0' && v <= 1000) return static_cast<std::uint32_t>(v);
    }
    return static_cast<std::uint32_t>(pgdts::FORMAT_VERSION);
  }();
  return version;
}

std::string which_side_to_upgrade(std::uint32_t written, std::uint32_t read) {
  std::string versions = "the source's pgdts output plugin writes record format version " +
                         std::to_string(written) + ", this pgdts reads " + std::to_string(read);
  if (written < read)
    return versions + ": upgrade the pgdts extension on the source (its postgresql-<major>-pgdts "
                      "package), then restart the task";
  return versions + ": upgrade pgdts, the applier (package pgdts)";
}

std::optional<std::string> refused_format(const std::string& sqlstate, const std::string& message) {
  // 22023 from a plugin of 0.3 or older, which writes this format but
  // knows no record batches (stream/record_batch.h).
  if (sqlstate == "22023" &&
      message.find("unrecognized pgdts output plugin option \"batch\"") != std::string::npos)
    return "the source's pgdts output plugin is older than this pgdts and cannot send record "
           "batches: upgrade the pgdts extension on the source (its postgresql-<major>-pgdts "
           "package), then restart the task";
  // 0A000 feature_not_supported, from the plugin's startup callback. Its
  // detail names the one version it writes: "supports format version N
  // only" (0.1 and 0.2.0 before this) or "writes record format version N only".
  if (sqlstate != "0A000" || message.find("does not support format version") == std::string::npos)
    return std::nullopt;
  static const std::regex written(R"((?:supports|writes record) format version (\d+) only)");
  std::smatch m;
  if (std::regex_search(message, m, written))
    return which_side_to_upgrade(static_cast<std::uint32_t>(std::stoul(m[1].str())),
                                 format_version());
  return "the source's pgdts output plugin refused record format version " +
         std::to_string(format_version()) + ": install the pgdts extension and pgdts of one release";
}

void check_begin_format(std::uint32_t written, const std::string& at_lsn) {
  if (written != format_version())
    throw FormatMismatchError(which_side_to_upgrade(written, format_version()) +
                              " (BEGIN at source LSN " + at_lsn + ")");
}

}  // namespace pgdts::stream
