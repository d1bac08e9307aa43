// JSON text that leaves the process (status, precheck, verify reports,
// alerts, pgdts stream): every string is redacted (redact.h) before it is
// escaped, so no caller can forget it.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace pgdts::secrets {

// A JSON string of utf8, its secrets masked.
void append_json_string(std::string& out, std::string_view utf8);

// A flat JSON object for the documents commands print: fields in the order
// given, nested documents as raw JSON.
class JsonObject {
 public:
  JsonObject& field(const char* key, const std::string& value) {
    start(key);
    append_json_string(out_, value);  // redacts
    return *this;
  }
  JsonObject& field(const char* key, const std::optional<std::string>& value) {
    if (!value) return raw(key, "null");
    return field(key, *value);
  }
  JsonObject& number(const char* key, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", value);
    return raw(key, buf);
  }
  JsonObject& raw(const char* key, const std::string& json) {
    start(key);
    out_ += json;
    return *this;
  }
  std::string str() const { return "{" + out_ + "}"; }

 private:
  void start(const char* key) {
    if (!out_.empty()) out_ += ',';
    append_json_string(out_, key);
    out_ += ':';
  }
  std::string out_;
};

}  // namespace pgdts::secrets
