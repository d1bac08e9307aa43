// full_sync_tool: a test-only driver of fullsync::run_full_sync, until
// `pgdts sync --phases full` exists. It creates a TEMPORARY logical slot
// with an exported snapshot (as the orchestration does on a resumed run),
// builds one CopyJob per --tables entry (same name on the destination),
// optionally logs each table's fingerprint as of the snapshot (count and md5
// of the rows' text, as test/integration/harness.py computes it), and runs
// the full sync.
//
//   full_sync_tool --source C --target C --task T --tables s.a,s.b
//                  [--jobs N] [--full-rps R] [--full-qps Q] [--full-mbps M]
//                  [--keep-existing] [--min-chunk-kb K] [--fingerprint]
//                  [--log-level L]
// Exit status: 0 all copied, 3 stopped (SIGINT/SIGTERM), 1 failed, 2 usage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/stop_signal.h"
#include "error.h"
#include "fullsync/full_sync.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "task/selection.h"

using namespace pgdts;

namespace {

struct Args {
  std::string source, target, task = "it", log_level = "info";
  std::vector<std::string> tables;
  int jobs = 1;
  fullsync::Limits limits;
  bool keep_existing = false, fingerprint = false;
  std::int64_t min_chunk_kb = -1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(k + " needs a value");
      return argv[++i];
    };
    if (k == "--source") a.source = value();
    else if (k == "--target") a.target = value();
    else if (k == "--task") a.task = value();
    else if (k == "--jobs") a.jobs = std::stoi(value());
    else if (k == "--full-rps") a.limits.rows_per_second = std::stod(value());
    else if (k == "--full-qps") a.limits.queries_per_second = std::stod(value());
    else if (k == "--full-mbps") a.limits.megabytes_per_second = std::stod(value());
    else if (k == "--keep-existing") a.keep_existing = true;
    else if (k == "--fingerprint") a.fingerprint = true;
    else if (k == "--min-chunk-kb") a.min_chunk_kb = std::stoll(value());
    else if (k == "--log-level") a.log_level = value();
    else if (k == "--tables") {
      std::string list = value();
      std::size_t start = 0;
      while (start <= list.size()) {
        std::size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) a.tables.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else throw UsageError("unknown option " + k);
  }
  if (a.source.empty() || a.target.empty() || a.tables.empty())
    throw UsageError("--source, --target and --tables are required");
  return a;
}

task::TableName table_name(const std::string& text) {
  auto parts = task::split_dotted(text, "--tables");
  if (parts.size() != 2) throw UsageError("--tables wants schema.table, not " + text);
  return {parts[0], parts[1]};
}

fullsync::CopyJob describe(pg::Connection& src, const task::TableName& t) {
  fullsync::CopyJob job;
  job.source = job.dest = t;
  std::string rel = src.identifier(t.schema) + "." + src.identifier(t.name);
  pg::Result cols = src.exec(
      "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = $1::regclass "
      "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
      {rel.c_str()});
  for (int i = 0; i < cols.rows(); ++i) job.source_columns.emplace_back(cols.value(i, 0));
  job.dest_columns = job.source_columns;
  pg::Result size = src.exec(
      "SELECT pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::bigint,"
      "  greatest(c.reltuples, 0)::bigint, pg_catalog.pg_relation_size(c.oid) "
      "FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass",
      {rel.c_str()});
  job.pages = std::stoll(std::string(size.value(0, 0)));
  job.rows_estimate = std::stoll(std::string(size.value(0, 1)));
  job.bytes_estimate = std::stoll(std::string(size.value(0, 2)));
  return job;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  try {
    a = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "full_sync_tool: %s\n", e.what());
    return 2;
  }
  log::init(log::parse_level(a.log_level).value_or(log::Level::info));
  const std::atomic<bool>& stop = cli::install_stop_signals();
  try {
    fullsync::FullSyncConfig cfg;
    cfg.source = pg::ConnInfo::parse(a.source, "--source");
    cfg.target = pg::ConnInfo::parse(a.target, "--target");
    cfg.task = a.task;
    cfg.application_name = "pgdts_" + a.task;
    cfg.jobs = a.jobs;
    cfg.limits = a.limits;
    cfg.keep_existing_rows = a.keep_existing;
    if (a.min_chunk_kb >= 0) cfg.min_chunk_bytes = a.min_chunk_kb * 1024;

    // The exporting connection stays open (and idle) until the copy ends.
    pg::Connection exporter =
        pg::Connection::open(cfg.source, {"source", true, cfg.application_name, ""});
    std::string slot = "pgdts_fs_tool_" + std::to_string(getpid());
    pg::Result created = exporter.exec("CREATE_REPLICATION_SLOT " + exporter.identifier(slot) +
                                       " TEMPORARY LOGICAL pgdts (SNAPSHOT 'export')");
    cfg.snapshot_lsn = pg::parse_lsn(created.value(0, 1)).value_or(0);
    cfg.snapshot = std::string(created.value(0, 2));
    log::Event("tool_snapshot")
        .field("slot", slot)
        .field("snapshot", cfg.snapshot)
        .field("lsn", pg::format_lsn(cfg.snapshot_lsn))
        .info();

    pg::Connection src = pg::Connection::open(cfg.source, {"source", false, cfg.application_name, ""});
    std::vector<fullsync::CopyJob> jobs;
    for (const auto& t : a.tables) jobs.push_back(describe(src, table_name(t)));

    if (a.fingerprint) {
      src.exec("SET datestyle = 'ISO, MDY'; SET intervalstyle = 'postgres'; SET timezone = 'UTC';"
               "SET extra_float_digits = 1; SET bytea_output = 'hex'");
      src.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      src.exec("SET TRANSACTION SNAPSHOT " + src.literal(cfg.snapshot));
      for (const auto& job : jobs) {
        std::string rel = src.identifier(job.source.schema) + "." + src.identifier(job.source.name);
        pg::Result r = src.exec(
            "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "
            "\"C\")), '') FROM " + rel + " t");
        log::Event("snapshot_fingerprint")
            .field("table", job.source.schema + "." + job.source.name)
            .field("count", std::string(r.value(0, 0)))
            .field("md5", std::string(r.value(0, 1)))
            .field("lsn", pg::format_lsn(cfg.snapshot_lsn))
            .info();
      }
      src.exec("COMMIT");
    }
    src.close();

    bool done = fullsync::run_full_sync(cfg, jobs, stop);
    return done ? 0 : 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgdts: error: %s\n", pg::one_line(e.what()).c_str());
    return 1;
  }
}
