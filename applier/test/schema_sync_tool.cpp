// Test-only driver of schema sync, for the integration tests until `pgdts
// sync --phases schema` runs it: reads the source's schema and creates it on
// the destination, as the sync command does around full sync.
//
//   pgdts_schema_tool SOURCE TARGET [--phase pre|post|sequences|all]
//                     (the test copies the rows between pre and post)
//                     [--map RULE]... [--case keep|lower|upper]
//                     [--schemas S] [--tables S.T] [--exclude X] [--existing]
//
// --existing prints the selected tables that already exist on the
// destination, one "schema.table" a line, and does nothing else.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "schema/schema_sync.h"

using namespace pgdts;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SOURCE TARGET [options]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> maps, schemas, tables, exclude;
  std::string phase = "all", case_policy = "keep";
  bool existing = false;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--map") maps.push_back(next());
    else if (a == "--case") case_policy = next();
    else if (a == "--schemas") schemas.push_back(next());
    else if (a == "--tables") tables.push_back(next());
    else if (a == "--exclude") exclude.push_back(next());
    else if (a == "--phase") phase = next();
    else if (a == "--existing") existing = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  log::init(log::Level::info);
  try {
    auto policy = case_policy == "lower"   ? task::CasePolicy::lower
                  : case_policy == "upper" ? task::CasePolicy::upper
                                           : task::CasePolicy::keep;
    task::NameMap map = task::NameMap::parse(maps, policy);
    task::Selection selection = task::Selection::parse(schemas, tables, exclude);
    auto source = pg::Connection::open(pg::ConnInfo::parse(argv[1], "SOURCE"), {"source", false, "pgdts_schema_tool", ""});
    auto dest = pg::Connection::open(pg::ConnInfo::parse(argv[2], "TARGET"), {"destination", false, "pgdts_schema_tool", ""});

    source.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
    schema::SourceSchema model = schema::read_source_schema(source, selection);
    source.exec("COMMIT");
    if (existing) {
      for (const auto& t : schema::existing_tables(dest, model, map))
        std::printf("%s\n", task::display_name(t).c_str());
      return 0;
    }
    if (phase == "pre" || phase == "all") schema::create_pre_data(dest, model, map);
    if (phase == "post" || phase == "all") schema::create_post_data(dest, model, map);
    if (phase == "sequences" || phase == "all") schema::sync_sequences(source, dest, model, map);
    std::printf("tables=%zu types=%zu sequences=%zu schemas=%zu\n", model.tables.size(), model.types.size(),
                model.sequences.size(), model.schemas.size());
  } catch (const UsageError& e) {
    std::fprintf(stderr, "pgdts_schema_tool: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgdts_schema_tool: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
