// A small Prometheus metrics registry: families of counters and gauges with
// labels, rendered in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Debian 12 has no prometheus-cpp; this is the part of it pgdts needs.
// Series are created under the registry's lock (rarely: a new table, a new
// phase); their values are atomics, so updating one takes no lock and the
// HTTP thread may render while the task updates.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace pgdts::metrics {

enum class Kind { counter, gauge };

// One time series: a family's metric with one set of label values.
class Series {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Registry;

// A metric name with its help text and label names; its series by label values.
class Family {
 public:
  // The series with these label values (one per label name, in order),
  // created at 0 on first use. The reference stays valid for the registry's life.
  Series& with(const std::vector<std::string>& label_values);

  const std::string& name() const { return name_; }

 private:
  friend class Registry;
  Family(Registry& registry, std::string name, std::string help, Kind kind,
         std::vector<std::string> label_names);

  Registry& registry_;
  std::string name_, help_;
  Kind kind_;
  std::vector<std::string> label_names_;
  std::map<std::vector<std::string>, Series> series_;  // ordered: stable output
};

class Registry {
 public:
  // Declares a family; declaring the same name again returns the first one.
  Family& counter(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names);
  Family& gauge(const std::string& name, const std::string& help,
                std::vector<std::string> label_names);

  // Every family in declaration order, series in label order.
  std::string render() const;

 private:
  friend class Family;
  Family& declare(const std::string& name, const std::string& help, Kind kind,
                  std::vector<std::string> label_names);

  mutable std::mutex mutex_;
  std::deque<Family> families_;  // stable addresses
};

// Escaping of the exposition format: HELP text (backslash, newline) and
// label values (also the double quote).
std::string escape_help(const std::string& text);
std::string escape_label_value(const std::string& value);
// A sample value: integers without exponent or fraction, NaN, +Inf, -Inf.
std::string format_value(double v);

}  // namespace pgdts::metrics
