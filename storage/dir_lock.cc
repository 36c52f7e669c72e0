#include "storage/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace spindle {

Result<DirLock> DirLock::acquire(const std::string& dir, std::string_view key) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return failed_precondition("cannot create " + std::string(key) + " directory " + dir + ": " + ec.message());
  }
  std::string path = dir + "/spindle.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    return failed_precondition("cannot open " + path + " (" + std::string(key) + "): " + std::strerror(err));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return failed_precondition(std::string(key) + " " + dir +
                                 " is in use by another spindle process; give each process its own directory");
    }
    return failed_precondition("cannot lock " + path + ": " + std::strerror(err));
  }
  return DirLock(fd);
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace spindle
