#include "ddl/parser.h"

#include <memory>

#include <pg_query.h>

#include "error.h"

namespace pgdts::ddl {
namespace {

struct ParseDeleter {
  void operator()(PgQueryProtobufParseResult* r) const {
    pg_query_free_protobuf_parse_result(*r);
    delete r;
  }
};
struct DeparseDeleter {
  void operator()(PgQueryDeparseResult* r) const {
    pg_query_free_deparse_result(*r);
    delete r;
  }
};

}  // namespace

pg_query::ParseResult parse(const std::string& sql) {
  std::unique_ptr<PgQueryProtobufParseResult, ParseDeleter> result(
      new PgQueryProtobufParseResult(pg_query_parse_protobuf(sql.c_str())));
  if (result->error)
    throw Error("cannot parse the statement: " + std::string(result->error->message) +
                " at character " + std::to_string(result->error->cursorpos));
  pg_query::ParseResult tree;
  if (!tree.ParseFromArray(result->parse_tree.data, static_cast<int>(result->parse_tree.len)))
    throw Error("cannot read libpg_query's parse tree of the statement");
  return tree;
}

std::string deparse(const pg_query::ParseResult& tree) {
  std::string bytes = tree.SerializeAsString();
  PgQueryProtobuf buffer{bytes.size(), bytes.data()};
  std::unique_ptr<PgQueryDeparseResult, DeparseDeleter> result(
      new PgQueryDeparseResult(pg_query_deparse_protobuf(buffer)));
  if (result->error)
    throw Error("cannot turn the rewritten statement back into SQL: " +
                std::string(result->error->message));
  return result->query;
}

}  // namespace pgdts::ddl
