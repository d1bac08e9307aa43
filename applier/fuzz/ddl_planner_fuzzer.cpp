// Fuzz target: the DDL planner (src/ddl/), which decides what a captured
// source DDL becomes on the destination. Its statement text is untrusted:
// any source role that may create objects in a synced schema writes it.
//
// An input is a few header lines, then the statement:
//
//   #schemas public            --schemas (the task's selection)
//   #tables s.t                --tables
//   #exclude public.x          --exclude
//   #map public=dst            --map (repeatable)
//   #case lower                --case
//   #no-owner                  PlannerOptions::keep_owners = false
//   #start public.t            a table selected at start
//   #seen public.u             a table the stream described
//   #has public.i              the destination has this index and sequence
//   #search_path "$user", public
//   #tag ALTER TABLE           the record's command tag
//   #identity public.t         the record's object identities (repeatable)
//   #resolved t public         how the source resolved a name (repeatable)
//   #setting DateStyle ISO     a setting it ran under (repeatable)
//   ALTER TABLE t ADD COLUMN c int
//
// Header values that the command line would refuse (UsageError) end the
// input quietly; they are the options fuzzer's business. So does a record
// the stream could not deliver: its string fields (all but the statement,
// which is bytes in the source's encoding) are UTF-8, or RecordDecoder
// refuses the record. Then the planner
// runs: a Plan, or pgdts::Error (the documented "cannot be replayed"
// stop). A replayed plan's SQL must parse again as one statement: the
// destination runs it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "ddl/parser.h"
#include "ddl/planner.h"
#include "error.h"

namespace {

using namespace pgdts;

struct Context {
  std::vector<std::string> schemas, tables, exclude, maps;
  model::CasePolicy policy = model::CasePolicy::keep;
  bool keep_owners = true;
  std::set<model::TableName> start, seen;
  std::set<std::string> destination;  // "schema.name" of indexes and sequences
  pgdts::Ddl record;
};

model::TableName table_name(const std::string& text) {
  auto parts = model::split_dotted(text, "#table");
  if (parts.size() != 2) throw UsageError("not schema.table: " + text);
  return {parts[0], parts[1]};
}

// One "#key value" header line into the context.
void take_header(Context& c, std::string_view key, const std::string& value) {
  if (key == "schemas") c.schemas.push_back(value);
  else if (key == "tables") c.tables.push_back(value);
  else if (key == "exclude") c.exclude.push_back(value);
  else if (key == "map") c.maps.push_back(value);
  else if (key == "case")
    c.policy = value == "lower" ? model::CasePolicy::lower
               : value == "upper" ? model::CasePolicy::upper : model::CasePolicy::keep;
  else if (key == "no-owner") c.keep_owners = false;
  else if (key == "start") c.start.insert(table_name(value));
  else if (key == "seen") c.seen.insert(table_name(value));
  else if (key == "has") c.destination.insert(value);
  else if (key == "search_path") c.record.set_search_path(value);
  else if (key == "tag") c.record.set_command_tag(value);
  else if (key == "identity") c.record.add_object_identities(value);
  else if (key == "resolved" || key == "setting") {
    auto space = value.find(' ');
    std::string first = value.substr(0, space);
    std::string second = space == std::string::npos ? "" : value.substr(space + 1);
    if (key == "resolved") {
      auto* r = c.record.add_resolved();
      r->set_name(first);
      r->set_schema(second);
    } else {
      auto* s = c.record.add_settings();
      s->set_name(first);
      s->set_value(second);
    }
  }
}

// Header lines, then the statement (the rest of the input).
Context read_input(std::string_view input) {
  Context c;
  c.record.set_statement_exact(true);
  c.record.set_toplevel(true);
  c.record.set_role("app");
  c.record.set_search_path("\"$user\", public");
  while (!input.empty() && input.front() == '#') {
    std::size_t eol = input.find('\n');
    std::string_view line = input.substr(1, eol == std::string_view::npos ? input.npos : eol - 1);
    std::size_t space = line.find(' ');
    std::string_view key = line.substr(0, space);
    std::string value(space == std::string_view::npos ? "" : line.substr(space + 1));
    take_header(c, key, value);
    input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
  }
  c.record.set_statement(std::string(input));
  return c;
}

// What RecordDecoder would make of the record: proto3 refuses strings that
// are not UTF-8.
bool deliverable(const pgdts::Ddl& record) {
  pgdts::Ddl decoded;
  return decoded.ParseFromString(record.SerializeAsString());
}

// A replayed statement is run by the destination: it must be one statement
// libpg_query reads back.
void check_replayable(const ddl::Plan& plan) {
  if (plan.action == ddl::Plan::Action::skip) return;
  pg_query::ParseResult tree;
  try {
    tree = ddl::parse(plan.sql);
  } catch (const Error& e) {
    std::fprintf(stderr, "planned SQL does not parse (%s): %s\n", e.what(), plan.sql.c_str());
    __builtin_trap();
  }
  if (tree.stmts_size() != 1) {
    std::fprintf(stderr, "planned SQL holds %d statements: %s\n", tree.stmts_size(),
                 plan.sql.c_str());
    __builtin_trap();  // one record, one statement
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // libprotobuf logs every string that is not UTF-8: inputs do that by the
  // thousand (the outcome is what counts, not the log line)
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Context c;
  model::Selection selection;
  model::NameMap names;
  try {
    c = read_input(input);
    selection = model::Selection::parse(c.schemas, c.tables, c.exclude);
    names = model::NameMap::parse(c.maps, c.policy);
  } catch (const UsageError&) {
    return -1;  // not a context a task can have: keep it out of the corpus
  }
  if (!deliverable(c.record)) return -1;
  auto has = [&c](const std::string& schema, const std::string& name) {
    return c.destination.count(schema + "." + name) > 0;
  };
  ddl::Planner planner(selection, names, c.start, ddl::DestinationLookup{has, has},
                       ddl::PlannerOptions{c.keep_owners});
  for (const auto& t : c.seen) planner.saw_table(t);
  try {
    check_replayable(planner.plan(c.record, 0x16B3748));
  } catch (const Error&) {
    // a clean error: the apply stops, naming the DDL
  }
  return 0;
}
