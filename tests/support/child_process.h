#pragma once
// A long-running child process for tests that start, signal and restart real binaries (the spindle server,
// spindle-loadgen) while the test keeps working: unlike run_command, start() returns at once.
//
// The child gets stdin from /dev/null and stdout + stderr in one file, created or truncated by the parent
// before the fork (so the parent never reads an earlier run's output from it). It runs in its own process
// group and gets SIGKILL if the test process dies (PR_SET_PDEATHSIG), so a crashed test leaves no server
// behind. The destructor SIGKILLs and reaps a child that is still running.
//
// Threading: one owner thread; start it from a test thread, never from a server shard thread.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace spindle {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // argv[0] is a path (no PATH lookup). FailedPrecondition if a child is still running; Internal if the
  // output file cannot be created or fork fails. An exec failure shows as exit code 127.
  Status start(std::vector<std::string> argv, const std::string& output_path);

  pid_t pid() const { return pid_; }
  // False once the child has exited (it is then reaped and exit_code() is set).
  bool running();
  // Sends `sig` to the child (not its group); nothing if it is not running.
  void signal(int sig);
  // Waits at most `limit` for the child to exit; true if it has (or was never started).
  bool wait_for_exit(std::chrono::milliseconds limit);
  // SIGKILL, then reaps: the child is gone when this returns.
  void kill_now();
  // The exit status, or 128 + the signal number that ended it; -1 while running or before start.
  int exit_code() const { return exit_code_; }

 private:
  void reaped(int status);

  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace spindle
