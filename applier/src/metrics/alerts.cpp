#include "metrics/alerts.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "logging/log.h"
#include "secrets/redact.h"
#include "secrets/json.h"
#include "stream/timestamp.h"

extern char** environ;

namespace pgdts::metrics {
namespace {

using namespace std::chrono_literals;

// A message goes to the command whole up to this size; the event then fits
// in a pipe's buffer (64 kB), so writing it never blocks.
constexpr std::size_t kMaxMessage = 8000;

// Redacted before it is cut (a cut could leave half a URI the redactor no
// longer recognises) and before it is escaped.
std::string limited(const std::string& message) {
  std::string s = secrets::redact(message);
  if (s.size() <= kMaxMessage) return s;
  return s.substr(0, kMaxMessage) + "...";
}

}  // namespace

std::string to_json(const AlertEvent& e) {
  std::string out = "{";
  auto key = [&](const char* k) {
    if (out.size() > 1) out += ',';
    secrets::append_json_string(out, k);
    out += ':';
  };
  key("task");
  secrets::append_json_string(out, secrets::redact(e.task));
  key("event");
  secrets::append_json_string(out, e.event);
  key("at");
  secrets::append_json_string(out, stream::format_utc(e.at_unix_micros, 'T', "Z"));
  key("message");
  secrets::append_json_string(out, limited(e.message));
  key("latency_seconds");
  if (e.latency_seconds) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", *e.latency_seconds);
    out += buf;
  } else {
    out += "null";
  }
  key("phase");
  secrets::append_json_string(out, secrets::redact(e.phase));
  out += "}\n";
  return out;
}

std::chrono::seconds latency_hold() {
  if (const char* v = std::getenv("PGDTS_TEST_ALERT_HOLD_SECONDS")) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && n >= 0) return std::chrono::seconds(n);
  }
  return 60s;
}

const char* AlertPolicy::failure_retried() {
  if (failing_) return nullptr;
  failing_ = true;
  return "task_failing";
}

const char* AlertPolicy::failure_final() {
  failing_ = true;
  return "task_failed";
}

const char* AlertPolicy::progressed() {
  if (!failing_) return nullptr;
  failing_ = false;
  return "task_recovered";
}

const char* AlertPolicy::latency(std::optional<double> seconds, Clock::time_point now) {
  if (!threshold_ || !seconds) return nullptr;
  if (*seconds > *threshold_) {
    if (!above_since_) above_since_ = now;
    if (!latency_high_ && now - *above_since_ >= hold_) {
      latency_high_ = true;
      return "latency_high";
    }
    return nullptr;
  }
  above_since_.reset();
  if (!latency_high_) return nullptr;
  latency_high_ = false;
  return "latency_recovered";
}

AlertCommand::AlertCommand(std::string command, std::chrono::seconds timeout)
    : command_(std::move(command)), timeout_(timeout), worker_([this] { work(); }) {}

AlertCommand::~AlertCommand() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
  worker_.join();
}

void AlertCommand::send(std::string event, std::string json) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(std::move(event), std::move(json));
  }
  wake_.notify_one();
}

void AlertCommand::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing, everything delivered
    auto [event, json] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    run(event, json);
    lock.lock();
  }
}

// The event is written into a pipe before the command starts (it fits in
// the pipe's buffer): no SIGPIPE when the command does not read it. The
// command gets a process group of its own, so that on timeout the shell and
// everything it started are killed together.
void AlertCommand::run(const std::string& event, const std::string& json) {
  auto warn = [&](const std::string& reason) {
    log::Event("alert_failed").field("alert", event).field("reason", reason).warn();
  };
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return warn(std::string("pipe: ") + std::strerror(errno));
  ssize_t written = ::write(fds[1], json.data(), json.size());
  ::close(fds[1]);
  if (written != static_cast<ssize_t>(json.size())) {
    ::close(fds[0]);
    return warn("could not write the event to the command's input");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  const char* argv[] = {"/bin/sh", "-c", command_.c_str(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[0]);
  if (rc != 0) return warn(std::string("cannot start /bin/sh: ") + std::strerror(rc));

  auto deadline = std::chrono::steady_clock::now() + timeout_;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return warn(std::string("waitpid: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);  // its process group: the shell and its children
      ::waitpid(pid, &status, 0);
      return warn("--alert-command did not finish within " + std::to_string(timeout_.count()) +
                  " s; killed");
    }
    std::this_thread::sleep_for(50ms);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    log::Event("alert_sent").field("alert", event).info();
    return;
  }
  if (WIFEXITED(status))
    return warn("--alert-command exited with status " + std::to_string(WEXITSTATUS(status)));
  return warn("--alert-command was killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace pgdts::metrics
