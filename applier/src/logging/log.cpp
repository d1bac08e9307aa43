// spdlog set-up and the event line format.
#include "logging/log.h"

#include <cstdio>
#include <memory>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "secrets/redact.h"

namespace pgdts::log {
namespace {

// Upper-case level names (INFO, WARN, ...) instead of spdlog's "info",
// "warning": shorter, and what log readers expect to grep for.
class LevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view name;
    switch (msg.level) {
      case spdlog::level::trace: name = "TRACE"; break;
      case spdlog::level::debug: name = "DEBUG"; break;
      case spdlog::level::info: name = "INFO"; break;
      case spdlog::level::warn: name = "WARN"; break;
      case spdlog::level::err: name = "ERROR"; break;
      case spdlog::level::critical: name = "FATAL"; break;
      default: name = "OFF"; break;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelFlag>();
  }
};

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::error: return spdlog::level::err;
    case Level::warn: return spdlog::level::warn;
    case Level::info: return spdlog::level::info;
    case Level::debug: return spdlog::level::debug;
  }
  return spdlog::level::info;
}

// The live block kept below the log lines (see set_status_block).
std::mutex block_mutex;
std::string block;
int block_lines = 0;

void erase_block() {
  if (block_lines == 0) return;
  // to the first column of the block's first line, clear to the end of screen
  std::fprintf(stderr, "\x1b[%dF\x1b[J", block_lines);
}

void print_block() {
  if (block.empty()) return;
  std::fputs(block.c_str(), stderr);
  std::fflush(stderr);
}

template <typename Write>
void write_line(Write write) {
  std::lock_guard lock(block_mutex);
  erase_block();
  std::fflush(stderr);
  write();
  print_block();
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  return false;
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
  if (text == "error") return Level::error;
  if (text == "warn" || text == "warning") return Level::warn;
  if (text == "info") return Level::info;
  if (text == "debug") return Level::debug;
  return std::nullopt;
}

void init(Level level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("pgdts", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %* %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(to_spdlog(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

bool enabled(Level level) { return spdlog::default_logger_raw()->should_log(to_spdlog(level)); }

void append_field(std::string& line, std::string_view key, std::string_view value) {
  if (!line.empty()) line += ' ';
  line.append(key);
  line += '=';
  if (!needs_quotes(value)) {
    line.append(value);
    return;
  }
  line += '"';
  for (char c : value) {
    switch (c) {
      case '"': line += "\\\""; break;
      case '\\': line += "\\\\"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      case '\t': line += "\\t"; break;
      default: line += c;
    }
  }
  line += '"';
}

Event::Event(std::string_view name) { append_field(line_, "event", name); }

// Values are redacted before they are quoted (quoting doubles backslashes,
// which would hide a quoted password's end from the redactor), and the
// whole line again as it is written.
Event& Event::field(std::string_view key, std::string_view value) {
  append_field(line_, key, secrets::redact(value));
  return *this;
}

void Event::error() const {
  std::string line = secrets::redact(line_);
  write_line([&] { spdlog::error("{}", line); });
}
void Event::warn() const {
  std::string line = secrets::redact(line_);
  write_line([&] { spdlog::warn("{}", line); });
}
void Event::info() const {
  if (!enabled(Level::info)) return;
  std::string line = secrets::redact(line_);
  write_line([&] { spdlog::info("{}", line); });
}
void Event::debug() const {
  if (!enabled(Level::debug)) return;
  std::string line = secrets::redact(line_);
  write_line([&] { spdlog::debug("{}", line); });
}

void set_status_block(std::string text, bool keep) {
  std::lock_guard lock(block_mutex);
  erase_block();
  block = secrets::redact(text);
  block_lines = 0;
  for (char c : block) block_lines += c == '\n';
  print_block();
  if (keep) {
    block.clear();
    block_lines = 0;
  }
}

}  // namespace pgdts::log
