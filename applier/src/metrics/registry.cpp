#include "metrics/registry.h"

#include <cmath>
#include <cstdio>

#include "error.h"
#include "secrets/redact.h"

namespace pgdts::metrics {

std::string escape_help(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_label_value(const std::string& raw) {
  std::string value = secrets::redact(raw);  // before escaping
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Counts and LSNs are integers below 2^53: printed exactly, as integers.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Family::Family(Registry& registry, std::string name, std::string help, Kind kind,
               std::vector<std::string> label_names)
    : registry_(registry),
      name_(std::move(name)),
      help_(std::move(help)),
      kind_(kind),
      label_names_(std::move(label_names)) {}

Series& Family::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size())
    throw Error("internal error: metric " + name_ + " takes " +
                std::to_string(label_names_.size()) + " label values, got " +
                std::to_string(label_values.size()));
  std::lock_guard lock(registry_.mutex_);
  return series_[label_values];  // std::map nodes never move
}

Family& Registry::counter(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names) {
  return declare(name, help, Kind::counter, std::move(label_names));
}

Family& Registry::gauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names) {
  return declare(name, help, Kind::gauge, std::move(label_names));
}

Family& Registry::declare(const std::string& name, const std::string& help, Kind kind,
                          std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  for (Family& f : families_)
    if (f.name_ == name) return f;
  // Family's constructor is private: construct in place through a friend.
  families_.push_back(Family(*this, name, help, kind, std::move(label_names)));
  return families_.back();
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name_ + " " + escape_help(f.help_) + "\n";
    out += "# TYPE " + f.name_ + (f.kind_ == Kind::counter ? " counter\n" : " gauge\n");
    for (const auto& [values, series] : f.series_) {
      out += f.name_;
      if (!values.empty()) {
        out += '{';
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (i > 0) out += ',';
          out += f.label_names_[i] + "=\"" + escape_label_value(values[i]) + "\"";
        }
        out += '}';
      }
      out += ' ' + format_value(series.value()) + '\n';
    }
  }
  return out;
}

}  // namespace pgdts::metrics
