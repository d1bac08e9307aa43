#include "task/source_checks.h"

#include <sstream>

#include "error.h"

namespace pgdts::task {
namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool lists_pgdts(const std::string& setting) {
  std::stringstream ss(setting);
  std::string item;
  while (std::getline(ss, item, ','))
    if (trim(item) == "pgdts" || trim(item) == "*") return true;
  return false;
}

}  // namespace

SourceFacts check_source(pg::Connection& source) {
  pg::Result r = source.exec(
      "SELECT current_setting('wal_level'), current_database(), "
      "current_setting('server_encoding'), "
      "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgdts'), "
      "(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'output_plugin_libraries'), "
      "EXISTS (SELECT 1 FROM pg_catalog.pg_settings WHERE name = 'output_plugin_libraries')");
  SourceFacts facts;
  std::string wal_level(r.value(0, 0));
  facts.database = std::string(r.value(0, 1));
  facts.server_encoding = std::string(r.value(0, 2));
  if (wal_level != "logical")
    throw Error("source wal_level is \"" + wal_level +
                "\"; set wal_level = logical and restart the source");
  if (r.is_null(0, 3))
    throw Error("extension pgdts is not installed in source database \"" + facts.database +
                "\"; run CREATE EXTENSION pgdts in it (as a superuser)");
  if (r.value(0, 5) == "t") {
    std::string libs = r.optional(0, 4).value_or("");
    if (!lists_pgdts(libs))
      throw Error("source output_plugin_libraries is \"" + libs +
                  "\", which does not allow the pgdts output plugin; add pgdts to it "
                  "(output_plugin_libraries = '" + (libs.empty() ? "" : libs + ", ") +
                  "pgdts') in the source's postgresql.conf and reload or restart the source");
  }
  return facts;
}

}  // namespace pgdts::task
