#include "cli/options.h"

#include <fstream>
#include <set>
#include <sstream>

#include <boost/program_options.hpp>

#include "error.h"

namespace po = boost::program_options;

namespace pgdts::cli {
namespace {

constexpr const char* kCommands = "precheck, sync, status, verify, cutover, release, stream";

// sync options of the specification that later releases implement; accepted
// by the parser so that they get a clear message instead of "unrecognised".
const std::vector<std::string> kNotYetSyncOptions = {
    "schemas",   "tables",    "exclude",      "map",           "case",
    "conflict",  "jobs",      "full-qps",     "full-rps",      "full-mbps",
    "incr-rps",  "incr-mbps", "metrics-port", "alert-command", "alert-latency",
    "filter",    "transform"};

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

po::options_description sync_options(bool with_not_yet) {
  po::options_description d("sync options");
  d.add_options()
      ("phases", po::value<std::string>()->value_name("LIST"),
       "comma list of schema, full, incremental (default: all three; only incremental is "
       "available yet)")
      ("retry-connection", po::value<int>()->value_name("MINUTES"),
       "how long lost connections are retried (10-1440, default 720)")
      ("retry-other", po::value<int>()->value_name("MINUTES"),
       "how long other apply errors are retried (1-1440, default 10, less than "
       "--retry-connection)");
  if (with_not_yet)
    for (const auto& name : kNotYetSyncOptions)
      d.add_options()(name.c_str(), po::value<std::vector<std::string>>(), "not supported yet");
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
  d.add(common_options()).add(sync_options(true)).add(stream_options());
  return d;
}

po::options_description command_options(Command c) {
  po::options_description d;
  d.add(common_options());
  if (c == Command::sync) d.add(sync_options(true));
  if (c == Command::stream) d.add(stream_options());
  return d;
}

std::string usage_line(Command c) {
  switch (c) {
    case Command::sync:
      return "pgdts sync --source CONNINFO --target CONNINFO [--task NAME] --phases incremental "
             "[options]";
    case Command::stream:
      return "pgdts stream --source CONNINFO [--task NAME] [--consume] [--create-slot] "
             "[--idle-exit SECONDS] [--start LSN]";
    case Command::release:
      return "pgdts release --source CONNINFO --target CONNINFO [--task NAME]";
    default:
      return "pgdts <command> [options]";
  }
}

std::string general_help() {
  std::ostringstream out;
  out << "pgdts: continuous PostgreSQL-to-PostgreSQL sync\n\n"
         "Usage: pgdts <command> [options]\n\n"
         "Commands:\n"
         "  sync      run the task: --phases incremental streams every committed change of the\n"
         "            source into the destination until SIGINT/SIGTERM; resumable\n"
         "  stream    print the task's change records as JSON lines (debugging)\n"
         "  release   drop the task's slot, origin and state\n"
         "  precheck, status, verify, cutover: not available yet\n\n"
         "Run pgdts <command> --help for the options of a command.\n\n"
      << common_options()
      << "\nExit status: 0 success, 1 the operation failed, 2 bad usage or configuration.\n";
  return out.str();
}

std::string command_help(Command c) {
  std::ostringstream out;
  out << "Usage: " << usage_line(c) << "\n\n" << common_options();
  if (c == Command::sync) out << "\n" << sync_options(false);
  if (c == Command::stream) out << "\n" << stream_options();
  return out.str();
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

void validate_sync(const po::variables_map& vm, Options& o) {
  for (const auto& name : kNotYetSyncOptions)
    if (vm.count(name)) throw UsageError("option --" + name + " is not supported yet");
  o.phases = parse_phases(get(vm, "phases", "schema,full,incremental"));
  for (const auto& phase : o.phases)
    if (phase != "incremental")
      throw UsageError("phase \"" + phase + "\" is not available yet; use --phases incremental");
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
}

void validate_stream(const po::variables_map& vm, Options& o) {
  o.consume = vm.count("consume") && vm["consume"].as<bool>();
  o.create_slot = vm.count("create-slot") && vm["create-slot"].as<bool>();
  if (vm.count("idle-exit")) {
    int s = vm["idle-exit"].as<int>();
    if (s < 1) throw UsageError("--idle-exit must be at least 1 second, not " + std::to_string(s));
    o.idle_exit_seconds = s;
  }
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
  std::optional<Command> command = command_from(name);
  if (!command)
    throw UsageError("unknown command \"" + name + "\"; commands: " + std::string(kCommands));
  if (*command != Command::sync && *command != Command::stream && *command != Command::release)
    throw UsageError("command \"" + name +
                     "\" is not available yet; available: sync --phases incremental, stream, "
                     "release");

  po::variables_map vm;
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
    if (vm.count("config")) {
      std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) throw UsageError("cannot read config file \"" + path + "\"");
      try {
        // Stored after the command line: boost keeps the first value stored,
        // so the command line wins.
        po::store(po::parse_config_file(file, config_file_options(), false), vm);
      } catch (const po::error& e) {
        throw UsageError("config file \"" + path + "\": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }

  Options o;
  o.command = *command;
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

  if (!vm.count("source")) throw UsageError("--source is required");
  o.source = pg::ConnInfo::parse(vm["source"].as<std::string>(), "--source");
  if (o.command == Command::sync || o.command == Command::release) {
    if (!vm.count("target")) throw UsageError("--target is required");
    o.target = pg::ConnInfo::parse(vm["target"].as<std::string>(), "--target");
  }
  return {std::move(o), {}};
}

}  // namespace pgdts::cli
