#pragma once
// Where tests find the repository and the real OTLP emitters. Filled from CMake compile definitions that
// spindle_test_support exports to everything linking it (see tests/support/CMakeLists.txt). Plain char
// arrays, so they convert implicitly to std::string (e.g. in a std::vector<std::string>{kNodeBinary, ...}
// argv).

namespace spindle {

inline constexpr char kSourceDir[] = SPINDLE_SOURCE_DIR;
// node (nodesource 20 on the CI image) and the JS emitter; tests/clients/node_modules comes from `npm ci`
// there.
inline constexpr char kNodeBinary[] = SPINDLE_NODE_BINARY;
inline constexpr char kEmitJs[] = SPINDLE_SOURCE_DIR "/tests/clients/emit.js";
// The opentelemetry-cpp emitter (tests/clients/otel_cpp_emit.cc), built before any test linking support.
inline constexpr char kOtelCppEmit[] = SPINDLE_OTEL_CPP_EMIT;

}  // namespace spindle
