// A flat JSON object writer for the documents commands print (status,
// precheck): fields in the order given, nested documents as raw JSON.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "stream/json_printer.h"

namespace pgdts::cli {

class JsonObject {
 public:
  JsonObject& field(const char* key, const std::string& value) {
    start(key);
    stream::append_json_string(out_, value);  // redacts
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
    stream::append_json_string(out_, key);
    out_ += ':';
  }
  std::string out_;
};

}  // namespace pgdts::cli
