#pragma once
// DirLock: an exclusive flock(2) on `<dir>/spindle.lock`, held for a server's life, so a second process pointed
// at the same WAL or blocks directory refuses to start instead of writing the same segment files and blocks
// (two writers would corrupt both). flock locks die with the process, so a crash leaves nothing stale to clean.
//
// Threads: acquire() and the destructor on the owning thread (the server's).
#include <string>

#include "core/result.h"

namespace spindle {

class DirLock {
 public:
  // Creates `dir` if missing. FailedPrecondition naming `key` and `dir` when another process holds the lock.
  static Result<DirLock> acquire(const std::string& dir, std::string_view key);
  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace spindle
