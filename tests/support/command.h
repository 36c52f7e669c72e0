#pragma once
// Running helper programs (the real OTLP emitters) from tests, and reading the files they write.
//
// Threading: every function is self-contained and may be called from any thread. run_command forks; call it
// from a test thread, never from a server shard thread.
#include <string>
#include <vector>

#include "core/result.h"

namespace spindle {

// Runs argv[0] (looked up in PATH if it has no '/') with argv, stdin from /dev/null, stderr inherited, and
// returns everything it wrote to stdout (read until every holder of that pipe closes it, so a grandchild that
// keeps stdout open counts as still running). The child gets its own process group; if it has not exited
// after timeout_s seconds the whole group is killed and DeadlineExceeded is returned. *exit_code (if not
// null) gets the exit status, or 128 + signal number if it was killed by a signal; 127 means exec failed.
Result<std::string> run_command(std::vector<std::string> argv, int timeout_s, int* exit_code);

// The whole file, or an empty string if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace spindle
