// Logging: spdlog to stderr, one line per event, machine-parsable fields:
//
//   2026-11-25T21:40:01.123 INFO event=apply_started task=default slot=...
//
// An Event is built field by field and written at one level. Values that
// hold spaces, quotes or '=' are quoted ("..."), so every line splits into
// key=value pairs. Every value and every line is passed through
// secrets::redact: no password reaches the log, whatever a caller gives.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>

namespace pgdts::log {

enum class Level { error, warn, info, debug };

std::optional<Level> parse_level(std::string_view text);
void init(Level level);
bool enabled(Level level);

// Appends " key=value" to line, quoting value when it needs it.
void append_field(std::string& line, std::string_view key, std::string_view value);

// A block of live lines (full sync's progress display on a terminal) kept
// below the log lines on stderr: it replaces the previous block, and every
// event line is written above it. Each line of text ends with '\n'; "" removes
// the block; keep leaves text on the screen and forgets it (a final summary).
// Only for a stderr that is a terminal (it uses ANSI cursor movement).
void set_status_block(std::string text, bool keep = false);

class Event {
 public:
  explicit Event(std::string_view name);

  Event& field(std::string_view key, std::string_view value);
  Event& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view(value));
  }
  Event& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Event& field(std::string_view key, T value) {
    return field(key, std::string_view(std::to_string(value)));
  }
  Event& flag(std::string_view key, bool value) { return field(key, value ? "true" : "false"); }

  void error() const;
  void warn() const;
  void info() const;
  void debug() const;

  const std::string& text() const { return line_; }

 private:
  std::string line_;
};

}  // namespace pgdts::log
