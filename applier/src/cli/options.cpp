#include "cli/options.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/program_options.hpp>

#include "error.h"
#include "cli/version.h"
#include "secrets/redact.h"

namespace po = boost::program_options;

namespace pgdts::cli {
namespace {

constexpr const char* kCommands = "precheck, sync, status, verify, cutover, release, stream";

std::optional<Command> command_from(const std::string& name) {
  if (name == "precheck") return Command::precheck;
  if (name == "sync") return Command::sync;
  if (name == "status") return Command::status;
  if (name == "verify") return Command::verify;
  if (name == "cutover") return Command::cutover;
  if (name == "release") return Command::release;
  if (name == "stream") return Command::stream;
  return std::nullopt;
}

po::options_description common_options() {
  po::options_description d("Options of every command");
  d.add_options()
      ("help,h", "show this help")
      ("config", po::value<std::string>()->value_name("FILE"),
       "INI file; every long option may be given there (key = value), the command line wins")
      ("source", po::value<std::string>()->value_name("CONNINFO"),
       "source database (libpq key/value string or URI)")
      ("target", po::value<std::string>()->value_name("CONNINFO"),
       "destination database (libpq key/value string or URI)")
      ("task", po::value<std::string>()->value_name("NAME"),
       "task name (default \"default\"): slot dts_sync_NAME, origin pgdts_NAME")
      ("log-level", po::value<std::string>()->value_name("LEVEL"),
       "error, warn, info (default) or debug");
  return d;
}

// The task's ETL rules (docs/etl.md): task options, and pgdts stream's too,
// so that it shows what sync streams.
po::options_description etl_options() {
  po::options_description d("ETL rules (sync, precheck, verify, cutover, stream)");
  d.add_options()
      ("filter", po::value<std::vector<std::string>>()->value_name("TABLE: CONDITION"),
       "row filter \"schema.table: SQL condition\": only the rows for which it is true "
       "are copied and streamed (repeatable, one per table; see docs/etl.md)")
      ("transform", po::value<std::vector<std::string>>()->value_name("COLUMN: EXPRESSION"),
       "column expression \"schema.table.column: SQL expression\": the destination column "
       "gets its value, computed on the source (repeatable, one per column; docs/etl.md)");
  return d;
}

// What a task moves and how: sync runs it, precheck checks it.
po::options_description task_options() {
  po::options_description d("task options (sync, precheck)");
  d.add_options()
      ("phases", po::value<std::string>()->value_name("LIST"),
       "comma list of schema, full, incremental (default: all three)")
      ("schemas", po::value<std::vector<std::string>>()->value_name("LIST"),
       "schemas to move (comma list, repeatable; default: every user schema)")
      ("tables", po::value<std::vector<std::string>>()->value_name("LIST"),
       "single tables to move, schema.table (comma list, repeatable)")
      ("exclude", po::value<std::vector<std::string>>()->value_name("LIST"),
       "schemas or schema.table to leave out; '*' matches any text (comma list, repeatable)")
      ("map", po::value<std::vector<std::string>>()->value_name("OLD=NEW"),
       "destination name of a schema, schema.table or schema.table.column; bulk rules with "
       "'*' (repeatable; see README)")
      ("case", po::value<std::string>()->value_name("POLICY"),
       "spelling of destination names no --map names: keep (default), lower or upper")

      ("conflict", po::value<std::string>()->value_name("MODE"),
       "precheck (default): refuse to start when a selected table exists on the "
       "destination; ignore: use it (full sync keeps its rows on a key clash, an "
       "incremental INSERT overwrites the row with its key)")
      ("replica-identity-full", po::bool_switch(),
       "set REPLICA IDENTITY FULL on selected source tables without a key, so that their "
       "UPDATEs and DELETEs can be replayed")
      ("no-owner", po::bool_switch(),
       "do not keep the source's owners: --owner-role owns every object created and runs "
       "every replayed DDL (default: each object keeps its source owner, each DDL runs as "
       "the role that ran it; those roles must exist on the destination)")
      ("owner-role", po::value<std::string>()->value_name("ROLE"),
       "with --no-owner: the destination role that owns and runs everything (default: the "
       "--target user); refused if it is a superuser, unless --trust-source")
      ("trust-source", po::bool_switch(),
       "with --no-owner: let a superuser owner role run what any source role sends "
       "(every source role can then act as that superuser on the destination)");
  d.add(etl_options());
  return d;
}

// How sync runs the task.
po::options_description sync_options() {
  po::options_description d("sync options");
  d.add_options()
      ("jobs", po::value<int>()->value_name("N"), "full sync workers (default 2)")
      ("full-qps", po::value<double>()->value_name("N"),
       "full sync: at most N queries per second against the source")
      ("full-rps", po::value<double>()->value_name("N"), "full sync: at most N rows per second")
      ("full-mbps", po::value<double>()->value_name("N"),
       "full sync: at most N MB (10^6 bytes) per second")
      ("retry-connection", po::value<int>()->value_name("MINUTES"),
       "how long lost connections are retried (10-1440, default 720)")
      ("retry-other", po::value<int>()->value_name("MINUTES"),
       "how long other apply errors are retried (1-1440, default 10, less than "
       "--retry-connection)")
      ("incr-rps", po::value<double>()->value_name("N"),
       "incremental sync: at most N changes per second")
      ("incr-mbps", po::value<double>()->value_name("N"),
       "incremental sync: at most N MB (10^6 bytes) of change records per second")
      ("metrics-port", po::value<int>()->value_name("PORT"),
       "serve Prometheus metrics at http://HOST:PORT/metrics")
      ("alert-command", po::value<std::string>()->value_name("CMD"),
       "run CMD (by /bin/sh) with a JSON event on stdin when the task fails or its latency "
       "stays high, and when it recovers")
      ("alert-latency", po::value<int>()->value_name("SECONDS"),
       "latency that, held for a minute, raises an alert (default 60)")
      ("forward-origins", po::bool_switch(),
       "also send changes that reached the source by replication (a cascade A -> B -> C); "
       "without it they are left out, which keeps two-way setups from looping");
  return d;
}

// Command line only: a config file that said it would recopy every run.
po::options_description recovery_options() {
  po::options_description d("recovery (sync, command line only)");
  d.add_options()
      ("resync", po::bool_switch(),
       "the task's slot was lost (dropped, or replaced by another plugin's): create a new "
       "slot, compare every table of the task with its snapshot by key ranges and copy "
       "again only the rows that differ, then stream on (docs/task-state.md)")
      ("copy-all", po::bool_switch(),
       "with --resync: empty every table and copy it whole instead of comparing (every row "
       "written again; for a destination most of whose rows differ anyway)");
  return d;
}

po::options_description format_options() {
  po::options_description d("output options (status, precheck)");
  d.add_options()("format", po::value<std::string>()->value_name("FORMAT"), "text (default) or json");
  return d;
}

po::options_description cutover_options() {
  po::options_description d("cutover options");
  d.add_options()
      ("sequence-margin", po::value<std::int64_t>()->value_name("N"),
       "set each destination sequence N steps past the source's value (default 0)")
      ("timeout", po::value<int>()->value_name("SECONDS"),
       "how long to wait for latency zero (default 300)");
  return d;
}

// Repair is on the command line only: a config file shared with sync must
// not make every verify change the destination.
po::options_description verify_options() {
  po::options_description d("verify options (command line only)");
  d.add_options()
      ("repair", po::bool_switch(),
       "write the rows that differ from the source, through the running sync's stream, then "
       "compare them again (docs/verify.md, Repair); metadata differences are only reported")
      ("dry-run", po::bool_switch(), "with --repair: list what would be repaired, change nothing");
  return d;
}

po::options_description stream_options() {
  po::options_description d("stream options");
  d.add_options()
      ("consume", po::bool_switch(), "confirm what was printed, moving the slot")
      ("create-slot", po::bool_switch(), "create the slot if it does not exist")
      ("idle-exit", po::value<int>()->value_name("SECONDS"),
       "exit 0 after SECONDS without change records")
      ("start", po::value<std::string>()->value_name("LSN"),
       "start position (default: where the slot is)");
  return d;
}

// Every option of every command: what a config file may hold (a config file
// may be shared by several commands; each takes what applies to it).
po::options_description config_file_options() {
  po::options_description d;
  d.add(common_options()).add(task_options()).add(sync_options()).add(stream_options())
      .add(cutover_options()).add(format_options());
  return d;
}

// Commands that work on the task's tables: they take the options that select
// and name them.
bool takes_task_options(Command c) {
  return c == Command::sync || c == Command::precheck || c == Command::verify ||
         c == Command::cutover;
}

bool takes_format(Command c) {
  return c == Command::status || c == Command::precheck || c == Command::verify;
}

po::options_description command_options(Command c) {
  po::options_description d;
  d.add(common_options());
  if (takes_task_options(c)) d.add(task_options());
  if (c == Command::sync) d.add(sync_options()).add(recovery_options());
  if (c == Command::stream) d.add(stream_options()).add(etl_options());
  if (c == Command::cutover) d.add(cutover_options());
  if (c == Command::verify) d.add(verify_options());
  if (takes_format(c)) d.add(format_options());
  return d;
}

std::string usage_line(Command c) {
  switch (c) {
    case Command::sync:
      return "pgdts sync --source CONNINFO --target CONNINFO [--task NAME] [options]";
    case Command::precheck:
      return "pgdts precheck --source CONNINFO --target CONNINFO [--task NAME] [task options] "
             "[--format json]";
    case Command::status:
      return "pgdts status --target CONNINFO [--source CONNINFO] [--task NAME] [--format json]";
    case Command::stream:
      return "pgdts stream --source CONNINFO [--task NAME] [--consume] [--create-slot] "
             "[--idle-exit SECONDS] [--start LSN] [--filter RULE] [--transform RULE]";
    case Command::release:
      return "pgdts release --source CONNINFO --target CONNINFO [--task NAME]";
    case Command::verify:
      return "pgdts verify --source CONNINFO --target CONNINFO [--task NAME] [task options] "
             "[--repair [--dry-run]] [--format json]";
    case Command::cutover:
      return "pgdts cutover --source CONNINFO --target CONNINFO [--task NAME] [task options] "
             "[--sequence-margin N] [--timeout SECONDS]";
    default:
      return "pgdts <command> [options]";
  }
}

std::string general_help() {
  std::ostringstream out;
  out << "pgdts: continuous PostgreSQL-to-PostgreSQL sync\n\n"
         "Usage: pgdts <command> [options]\n\n"
         "Commands:\n"
         "  precheck  check source, destination and task options before a sync: one line\n"
         "            per check (pass, warning, failure with its fix); exit 1 on a failure\n"
         "  sync      run the task: schema sync, full sync from one snapshot, then every\n"
         "            committed change of the source until SIGINT/SIGTERM; resumable\n"
         "  status    the task's phase and progress, from the destination\n"
         "  stream    print the task's change records as JSON lines (debugging)\n"
         "  verify    compare every table of the task (rows and metadata) while changes\n"
         "            flow; exit 1 when they differ\n"
         "  cutover   wait until latency is zero, then move the destination's sequences\n"
         "            to the source's values\n"
         "  release   drop the task's slot, origin and state\n\n"
         "Run pgdts <command> --help for the options of a command; pgdts --version prints\n"
         "the version and the record format version.\n\n"
      << common_options()
      << "\nExit status: 0 success, 1 the operation failed, 2 bad usage or configuration.\n";
  return out.str();
}

std::string command_help(Command c) {
  std::ostringstream out;
  out << "Usage: " << usage_line(c) << "\n\n" << common_options();
  if (takes_task_options(c)) out << "\n" << task_options();
  if (c == Command::sync) out << "\n" << sync_options() << "\n" << recovery_options();
  if (c == Command::stream) out << "\n" << stream_options() << "\n" << etl_options();
  if (c == Command::cutover) out << "\n" << cutover_options();
  if (c == Command::verify) out << "\n" << verify_options();
  if (takes_format(c)) out << "\n" << format_options();
  return out.str();
}

// boost's error messages are templates whose %placeholders% what() replaces
// until none is left: an option or value that holds its own placeholder
// ("--jobs %value%", found by fuzzing) made what() loop forever. Such an
// error is named here without the template. (A member pointer formed in a
// derived class is the one way to read boost's protected substitutions.)
class ErrorSubstitutions : public po::error_with_option_name {
 public:
  static bool hold_placeholder(const po::error_with_option_name& e) {
    for (const auto& substitution : e.*(&ErrorSubstitutions::m_substitutions))
      if (substitution.second.find('%') != std::string::npos) return true;
    return false;
  }
};

std::string error_text(const po::error& e) {
  auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  if (named && ErrorSubstitutions::hold_placeholder(*named))
    return "option '" + named->get_option_name() + "' is unknown, or its value is invalid";
  return e.what();
}

std::string get(const po::variables_map& vm, const char* name, std::string fallback = {}) {
  return vm.count(name) ? vm[name].as<std::string>() : fallback;
}

bool valid_task_name(const std::string& task) {
  if (task.empty() || task.size() > 54) return false;  // slot names: 63 bytes with "dts_sync_"
  for (char c : task)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

std::vector<std::string> parse_phases(const std::string& list) {
  static const std::vector<std::string> known = {"schema", "full", "incremental"};
  std::vector<std::string> phases;
  std::set<std::string> seen;
  std::stringstream ss(list + ",");  // a trailing comma leaves an empty last entry
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item.empty()) throw UsageError("--phases \"" + list + "\" has an empty entry");
    if (std::find(known.begin(), known.end(), item) == known.end())
      throw UsageError("unknown phase \"" + item + "\" in --phases; use schema, full, incremental");
    if (!seen.insert(item).second) throw UsageError("phase \"" + item + "\" given twice in --phases");
    phases.push_back(item);
  }
  if (phases.empty()) throw UsageError("--phases is empty; use incremental");
  return phases;
}

std::vector<std::string> list(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

const std::vector<std::string> kObjectOptions = {"schemas", "tables", "exclude", "map", "case",
                                                  "filter", "transform"};
const std::vector<std::string> kThrottleOptions = {"full-qps", "full-rps", "full-mbps", "incr-rps",
                                                   "incr-mbps"};

std::vector<std::string> object_args(const po::variables_map& vm) {
  std::vector<std::string> args;
  for (const auto& name : kObjectOptions) {
    if (!vm.count(name)) continue;
    if (name == "case") args.push_back("--case=" + vm[name].as<std::string>());
    else
      for (const auto& v : vm[name].as<std::vector<std::string>>()) args.push_back("--" + name + "=" + v);
  }
  return args;
}

void validate_ownership(const po::variables_map& vm, Options& o) {
  o.no_owner = vm.count("no-owner") && vm["no-owner"].as<bool>();
  o.trust_source = vm.count("trust-source") && vm["trust-source"].as<bool>();
  if (vm.count("owner-role")) {
    o.owner_role = vm["owner-role"].as<std::string>();
    if (!o.no_owner) throw UsageError("--owner-role is for --no-owner; without it objects keep the source's owners");
    if (o.owner_role.empty() || o.owner_role.size() > 63)
      throw UsageError("--owner-role must name a role (1 to 63 bytes)");
  }
  if (o.trust_source && !o.no_owner)
    throw UsageError("--trust-source is for --no-owner with a superuser owner role");
}

void validate_objects(const po::variables_map& vm, Options& o) {
  o.object_args = object_args(vm);
  o.selection = model::Selection::parse(list(vm, "schemas"), list(vm, "tables"), list(vm, "exclude"));
  std::string policy = get(vm, "case", "keep");
  model::CasePolicy case_policy = model::CasePolicy::keep;
  if (policy == "lower") case_policy = model::CasePolicy::lower;
  else if (policy == "upper") case_policy = model::CasePolicy::upper;
  else if (policy != "keep")
    throw UsageError("invalid --case \"" + policy + "\"; use keep, lower or upper");
  o.names = model::NameMap::parse(list(vm, "map"), case_policy);
  o.filters = model::parse_row_filters(list(vm, "filter"));
  o.transforms = model::parse_transforms(list(vm, "transform"));
  std::string conflict = get(vm, "conflict", "precheck");
  if (conflict != "precheck" && conflict != "ignore")
    throw UsageError("invalid --conflict \"" + conflict + "\"; use precheck or ignore");
  o.conflict_ignore = conflict == "ignore";
  o.replica_identity_full = vm.count("replica-identity-full") && vm["replica-identity-full"].as<bool>();
  validate_ownership(vm, o);
}

// Rates above this are no limit at all, and would overflow the throttles'
// byte and row arithmetic.
constexpr double kMaxRate = 1e9;
// Seconds options: more than a week is a typo, not a setting.
constexpr int kMaxSeconds = 7 * 24 * 3600;

std::optional<double> positive_rate(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::nullopt;
  double v = vm[name].as<double>();
  if (!std::isfinite(v) || !(v > 0) || v > kMaxRate)
    throw UsageError(std::string("--") + name + " must be a number above 0 and at most 1000000000");
  return v;
}

int seconds_option(const po::variables_map& vm, const char* name, int fallback) {
  if (!vm.count(name)) return fallback;
  int v = vm[name].as<int>();
  if (v < 1 || v > kMaxSeconds)
    throw UsageError(std::string("--") + name + " must be between 1 and " +
                     std::to_string(kMaxSeconds) + " seconds, not " + std::to_string(v));
  return v;
}

// A config file that is a directory opens (and reads as empty) on Linux.
std::ifstream open_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw UsageError("config file \"" + path + "\" is a directory; give an INI file");
  std::ifstream file(path);
  if (!file)
    throw UsageError("cannot read config file \"" + path + "\": " + std::strerror(errno));
  return file;
}

// After parse_config_file: a read error is not an empty file.
void check_read(const std::ifstream& file, const std::string& path) {
  if (file.bad()) throw UsageError("cannot read config file \"" + path + "\"");
}

void validate_throttles(const po::variables_map& vm, Options& o) {
  o.full_qps = positive_rate(vm, "full-qps");
  o.full_rps = positive_rate(vm, "full-rps");
  o.full_mbps = positive_rate(vm, "full-mbps");
  o.incr_rps = positive_rate(vm, "incr-rps");
  o.incr_mbps = positive_rate(vm, "incr-mbps");
}

void validate_full_sync(const po::variables_map& vm, Options& o) {
  if (vm.count("jobs")) o.jobs = vm["jobs"].as<int>();
  if (o.jobs < 1 || o.jobs > 64)
    throw UsageError("--jobs must be between 1 and 64, not " + std::to_string(o.jobs));
  validate_throttles(vm, o);
}

void validate_incremental(const po::variables_map& vm, Options& o) {
  if (vm.count("metrics-port")) {
    int port = vm["metrics-port"].as<int>();
    if (port < 1 || port > 65535)
      throw UsageError("--metrics-port must be between 1 and 65535, not " + std::to_string(port));
    o.metrics_port = port;
  }
  o.alert_command = get(vm, "alert-command");
  o.alert_latency_seconds = seconds_option(vm, "alert-latency", o.alert_latency_seconds);
}

void validate_cutover(const po::variables_map& vm, Options& o) {
  if (vm.count("sequence-margin")) o.sequence_margin = vm["sequence-margin"].as<std::int64_t>();
  if (o.sequence_margin < 0)
    throw UsageError("--sequence-margin must not be negative, not " +
                     std::to_string(o.sequence_margin));
  o.timeout_seconds = seconds_option(vm, "timeout", o.timeout_seconds);
}

void validate_format(const po::variables_map& vm, Options& o) {
  std::string format = get(vm, "format", "text");
  if (format != "text" && format != "json")
    throw UsageError("invalid --format \"" + format + "\"; use text or json");
  o.json = format == "json";
}

void validate_task(const po::variables_map& vm, Options& o) {
  o.phases = parse_phases(get(vm, "phases", "schema,full,incremental"));
  validate_objects(vm, o);
}

void validate_sync(const po::variables_map& vm, Options& o) {
  validate_task(vm, o);
  validate_full_sync(vm, o);
  if (vm.count("retry-connection")) o.retry_connection_minutes = vm["retry-connection"].as<int>();
  if (vm.count("retry-other")) o.retry_other_minutes = vm["retry-other"].as<int>();
  if (o.retry_connection_minutes < 10 || o.retry_connection_minutes > 1440)
    throw UsageError("--retry-connection must be between 10 and 1440 minutes, not " +
                     std::to_string(o.retry_connection_minutes));
  if (o.retry_other_minutes < 1 || o.retry_other_minutes > 1440)
    throw UsageError("--retry-other must be between 1 and 1440 minutes, not " +
                     std::to_string(o.retry_other_minutes));
  if (o.retry_other_minutes >= o.retry_connection_minutes)
    throw UsageError("--retry-other (" + std::to_string(o.retry_other_minutes) +
                     " minutes) must be less than --retry-connection (" +
                     std::to_string(o.retry_connection_minutes) + " minutes)");
  validate_incremental(vm, o);
  o.resync = vm.count("resync") && vm["resync"].as<bool>();
  o.forward_origins = vm.count("forward-origins") && vm["forward-origins"].as<bool>();
  o.resync_copy_all = vm.count("copy-all") && vm["copy-all"].as<bool>();
  if (o.resync_copy_all && !o.resync) throw UsageError("--copy-all goes with --resync");
  if (o.resync && (!o.has_phase("full") || !o.has_phase("incremental")))
    throw UsageError("--resync copies the tables again and streams on: its --phases must "
                     "include full and incremental");
}

void validate_stream(const po::variables_map& vm, Options& o) {
  o.filters = model::parse_row_filters(list(vm, "filter"));
  o.transforms = model::parse_transforms(list(vm, "transform"));
  o.consume = vm.count("consume") && vm["consume"].as<bool>();
  o.create_slot = vm.count("create-slot") && vm["create-slot"].as<bool>();
  if (vm.count("idle-exit")) o.idle_exit_seconds = seconds_option(vm, "idle-exit", 0);
  if (vm.count("start")) {
    std::string text = vm["start"].as<std::string>();
    o.start_lsn = pg::parse_lsn(text);
    if (!o.start_lsn) throw UsageError("--start \"" + text + "\" is not an LSN (like 0/16B3748)");
  }
}

}  // namespace

ParseResult parse_command_line(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("no command given; commands: " + std::string(kCommands));
  const std::string& name = args[0];
  if (name == "--help" || name == "-h" || name == "help") return {std::nullopt, general_help()};
  if (name == "--version" || name == "-V" || name == "version") return {std::nullopt, version_text()};
  std::optional<Command> command = command_from(name);
  if (!command)
    throw UsageError("unknown command \"" + name + "\"; commands: " + std::string(kCommands));

  po::variables_map vm;
  std::set<std::string> throttles_given;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::positional_options_description none;  // no positional arguments after the command
    po::store(po::command_line_parser(rest)
                  .options(command_options(*command))
                  .positional(none)
                  .style(style)
                  .run(),
              vm);
    if (vm.count("help")) return {std::nullopt, command_help(*command)};
    for (const auto& name : kThrottleOptions)
      if (vm.count(name)) throttles_given.insert(name);
    if (vm.count("config")) {
      std::string path = vm["config"].as<std::string>();
      std::ifstream file = open_config(path);
      try {
        // Stored after the command line: boost keeps the first value stored,
        // so the command line wins.
        po::store(po::parse_config_file(file, config_file_options(), false), vm);
        check_read(file, path);
      } catch (const po::error& e) {
        throw UsageError("config file \"" + path + "\": " + secrets::redact(error_text(e)));
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(secrets::redact(error_text(e)));
  }

  Options o;
  o.command = *command;
  o.throttles_on_command_line = std::move(throttles_given);
  o.task = get(vm, "task", "default");
  if (!valid_task_name(o.task))
    throw UsageError("invalid --task \"" + o.task +
                     "\": use 1 to 54 lower-case letters, digits and underscores");
  std::string level = get(vm, "log-level", "info");
  auto parsed_level = log::parse_level(level);
  if (!parsed_level)
    throw UsageError("invalid --log-level \"" + level + "\"; use error, warn, info or debug");
  o.log_level = *parsed_level;

  if (o.command == Command::sync) validate_sync(vm, o);
  if (o.command == Command::stream) validate_stream(vm, o);
  if (o.command == Command::status) validate_format(vm, o);
  if (o.command == Command::precheck || o.command == Command::verify) {
    validate_task(vm, o);
    validate_format(vm, o);
  }
  if (o.command == Command::verify) {
    o.repair = vm.count("repair") && vm["repair"].as<bool>();
    o.dry_run = vm.count("dry-run") && vm["dry-run"].as<bool>();
    if (o.dry_run && !o.repair) throw UsageError("--dry-run goes with --repair: pgdts verify --repair --dry-run");
  }
  if (o.command == Command::cutover) {
    validate_task(vm, o);
    validate_cutover(vm, o);
  }
  if (vm.count("config")) o.config_path = vm["config"].as<std::string>();

  if (vm.count("source")) o.source = pg::ConnInfo::parse(vm["source"].as<std::string>(), "--source");
  else if (o.command != Command::status) throw UsageError("--source is required");
  if (o.command != Command::stream) {
    if (!vm.count("target")) throw UsageError("--target is required");
    o.target = pg::ConnInfo::parse(vm["target"].as<std::string>(), "--target");
  }
  return {std::move(o), {}};
}

}  // namespace pgdts::cli

namespace pgdts::cli {

void use_stored_task_objects(Options& o, const std::vector<std::string>& stored) {
  if (!o.object_args.empty() || stored.empty()) return;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(stored).options(task_options()).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("the task's stored options do not parse (" + error_text(e) +
                     "); give the task options on the command line");
  }
  bool conflict_ignore = o.conflict_ignore, identity_full = o.replica_identity_full;
  validate_objects(vm, o);
  o.conflict_ignore = conflict_ignore;
  o.replica_identity_full = identity_full;
}

Options reread_throttles(const Options& o) {
  Options fresh = o;
  if (o.config_path.empty()) return fresh;
  std::ifstream file = open_config(o.config_path);
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(file, config_file_options(), false), vm);
    check_read(file, o.config_path);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("config file \"" + o.config_path + "\": " + secrets::redact(error_text(e)));
  }
  validate_throttles(vm, fresh);
  auto keep = [&](const char* name, std::optional<double>& field, const std::optional<double>& old) {
    if (o.throttles_on_command_line.count(name)) field = old;
  };
  keep("full-qps", fresh.full_qps, o.full_qps);
  keep("full-rps", fresh.full_rps, o.full_rps);
  keep("full-mbps", fresh.full_mbps, o.full_mbps);
  keep("incr-rps", fresh.incr_rps, o.incr_rps);
  keep("incr-mbps", fresh.incr_mbps, o.incr_mbps);
  return fresh;
}

}  // namespace pgdts::cli
