#pragma once
// Tempo's legacy tag search (tempo-api.md 2.4: `tags` in logfmt plus minDuration/maxDuration), with vParquet's
// semantics: well-known keys match substrings of their dedicated columns (service.name, cluster, namespace, pod,
// container and the k8s.* names on the resource; name, http.url, http.method on the span; root.service.name and
// root.name on the trace), http.status_code compares integers, status.code names the span status (ok, error,
// unset; `error=true` means status error), and any other key must equal a span or resource attribute (compared
// as text). A trace matches when one span satisfies every tag (through itself, its resource or its trace) and
// the trace's duration is within the bounds. No tags and no bounds match every trace.
//
// Thread safety: immutable after construction; any thread may call matches().
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "api/traceql/trace_model.h"

namespace spindle {

class LegacyTagSearch {
 public:
  LegacyTagSearch(std::vector<std::pair<std::string, std::string>> tags, uint32_t min_duration_ms,
                  uint32_t max_duration_ms);
  bool matches(const TraceModel& trace) const;

 private:
  enum class Kind : uint8_t {
    ResourceSubstring,
    SpanNameSubstring,
    SpanAttrSubstring,
    RootServiceSubstring,
    RootNameSubstring,
    StatusCode,
    Error,
    HttpStatusCode,
    AnyAttrEquals
  };
  struct Condition {
    Kind kind;
    std::string key;
    std::string value;
    int64_t int_value = 0;
    bool int_valid = false;
  };
  bool span_matches(const TraceModel& trace, const SpanModel& span, const Condition& c) const;

  std::vector<Condition> conditions_;
  uint64_t min_ns_;
  uint64_t max_ns_;
};

}  // namespace spindle
