#pragma once
// Version and git revision, stamped by api/CMakeLists.txt at configure time.
#ifndef SPINDLE_VERSION
#define SPINDLE_VERSION "dev"
#endif
#ifndef SPINDLE_REVISION
#define SPINDLE_REVISION "unknown"
#endif

namespace spindle {

inline constexpr const char* kVersion = SPINDLE_VERSION;
inline constexpr const char* kRevision = SPINDLE_REVISION;

}  // namespace spindle
