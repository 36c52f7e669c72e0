#include "tests/support/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptors it holds; keeps error paths in run_command short.
class FdCloser {
 public:
  explicit FdCloser(std::initializer_list<int*> fds) : fds_(fds) {}
  ~FdCloser() {
    for (int* fd : fds_) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

 private:
  std::vector<int*> fds_;
};

// Waits for the child until the deadline (a pidfd makes the wait pollable); false if it is still running.
bool wait_until(pid_t pid, Clock::time_point deadline) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return true;  // kernel < 5.3: fall back to an unbounded waitpid
  bool exited = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{pidfd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r > 0) {
      exited = true;
      break;
    }
    if (r < 0 && errno != EINTR) break;
  }
  ::close(pidfd);
  return exited;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<std::string> run_command(std::vector<std::string> argv, int timeout_s, int* exit_code) {
  if (argv.empty()) return invalid_argument("run_command: empty argv");
  // Everything the child touches is prepared before fork: after fork only async-signal-safe calls.
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null < 0) return internal_error("open /dev/null: " + std::string(std::strerror(errno)));
  FdCloser closer({&out_pipe[0], &out_pipe[1], &dev_null});
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return internal_error("pipe: " + std::string(std::strerror(errno)));
  }

  const pid_t pid = ::fork();
  if (pid < 0) return internal_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(dev_null, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before any kill below
  ::close(out_pipe[1]);
  out_pipe[1] = -1;

  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  std::string out;
  char buf[16384];
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the deadline check above ends the loop
    const ssize_t n = ::read(out_pipe[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child (and anything holding its stdout) is done
    out.append(buf, static_cast<size_t>(n));
  }
  // Stdout may close before the child exits; the exit is bounded by the same deadline.
  if (!timed_out && !wait_until(pid, deadline)) timed_out = true;
  if (timed_out) ::kill(-pid, SIGKILL);
  const int code = wait_exit_code(pid);
  if (exit_code) *exit_code = code;
  if (timed_out) {
    return deadline_exceeded("run_command: '" + argv[0] + "' still running after " +
                             std::to_string(timeout_s) + " s; killed");
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace spindle
