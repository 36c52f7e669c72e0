#pragma once
// Tag names and tag values (tempo-api.md 2.5, 2.6) gathered from decoded traces. A shard feeds every trace piece
// it scans into a TagNames or TagValueSet; the receiving shard merges the shards' sets and encodes the answer.
//
// Bounds: each set holds at most `max_entries` distinct entries and `max_bytes` of text (a request's `limit`
// lowers the count); once full, further entries are dropped and the scan may stop. Sets are ordered, so answers
// are sorted and deterministic.
//
// `mask` arguments select the spans a `q` filter matched (nullptr = every span): names/values come from those
// spans, from their resources and instrumentation scopes, and from their events and links.
//
// Thread safety: plain values; one owner at a time.
#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/traceql/ast.h"
#include "api/traceql/trace_model.h"

namespace spindle {

inline constexpr size_t kMaxTagEntries = 10000;    // per scope for names, per request for values
inline constexpr size_t kMaxTagBytes = 1u << 20;   // text per set

// Scopes of tag names, in the order the v2 answer lists them (the synthetic intrinsic scope comes first).
enum class TagScope : uint8_t { Resource, Span, Event, Link, Instrumentation };
inline constexpr size_t kTagScopeCount = 5;
std::string_view tag_scope_name(TagScope scope);
inline constexpr uint32_t tag_scope_bit(TagScope scope) { return 1u << static_cast<uint32_t>(scope); }
inline constexpr uint32_t kAllTagScopes = (1u << kTagScopeCount) - 1;

// The synthetic `intrinsic` scope of /api/v2/search/tags (Tempo's search.GetVirtualIntrinsicValues), sorted.
const std::vector<std::string_view>& intrinsic_tag_names();

enum class AddResult : uint8_t { Added, Known, Full };

// A v2 tag value: its TraceQL type ("string", "int", "float", "bool", "duration", "keyword") and its text.
struct TagValue {
  std::string type;
  std::string value;
  bool operator<(const TagValue& o) const { return type != o.type ? type < o.type : value < o.value; }
  bool operator==(const TagValue&) const = default;
};

// What an entry counts against a set's byte bound: its text.
inline size_t bounded_cost(std::string_view s) { return s.size(); }
inline size_t bounded_cost(const TagValue& v) { return v.value.size(); }

// Distinct entries with bounds; counts consecutive already-known additions (for maxStaleValues).
template <class T>
class BoundedSet {
 public:
  explicit BoundedSet(size_t max_entries = kMaxTagEntries, size_t max_bytes = kMaxTagBytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}
  // `key` is a T or anything the set can look up without building a T (a string_view for strings).
  template <class K>
  AddResult add(const K& key) {
    if (values_.find(key) != values_.end()) {
      ++stale_run_;
      return AddResult::Known;
    }
    const size_t cost = bounded_cost(key);
    if (full_ || values_.size() >= max_entries_ || bytes_ + cost > max_bytes_) {
      full_ = true;
      return AddResult::Full;
    }
    values_.emplace(key);
    bytes_ += cost;
    stale_run_ = 0;
    if (values_.size() >= max_entries_) full_ = true;
    return AddResult::Added;
  }
  bool full() const { return full_; }
  size_t size() const { return values_.size(); }
  uint64_t stale_run() const { return stale_run_; }
  const std::set<T, std::less<>>& values() const { return values_; }
  void merge(const BoundedSet& other) {
    for (const T& v : other.values_) {
      if (add(v) == AddResult::Full) break;
    }
  }

 private:
  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  bool full_ = false;
  uint64_t stale_run_ = 0;
  std::set<T, std::less<>> values_;
};

using BoundedStringSet = BoundedSet<std::string>;

struct TagNames {
  explicit TagNames(uint32_t wanted_scopes = kAllTagScopes, size_t max_per_scope = kMaxTagEntries)
      : wanted(wanted_scopes) {
    for (auto& s : scopes) s = BoundedStringSet(max_per_scope, kMaxTagBytes);
  }
  uint32_t wanted;
  std::array<BoundedStringSet, kTagScopeCount> scopes;
  uint64_t stale_run = 0;  // names in a row, over all scopes, that were already known

  // Every wanted scope is full: nothing more can be added.
  bool full() const;
  void merge(const TagNames& other);
};

// Adds the attribute names of `trace` (see the file comment for `mask`).
void collect_tag_names(const TraceModel& trace, const std::vector<uint8_t>* mask, TagNames& out);

class TagValueSet : public BoundedSet<TagValue> {
 public:
  using BoundedSet<TagValue>::BoundedSet;
  using BoundedSet<TagValue>::add;
  AddResult add(std::string_view type, std::string_view value) {
    return add(TagValue{std::string(type), std::string(value)});
  }
  AddResult add(const Static& value);  // Nil is ignored (reported as Known)
};

// Adds the values of `ref` in `trace`: span/resource/event/link/instrumentation attributes by scope (unscoped:
// span and resource), array elements one by one; intrinsics name, statusMessage, rootName, rootServiceName,
// event:name, instrumentation:name/version. Other intrinsics (IDs, durations, ...) give nothing.
void collect_tag_values(const TraceModel& trace, const std::vector<uint8_t>* mask, const AttributeRef& ref,
                        TagValueSet& out);

// Answers that need no data (Tempo's virtual values): status/span:status and kind/span:kind as keywords,
// duration/span:duration/traceDuration/trace:duration as an empty list. nullopt = scan the data.
std::optional<std::vector<TagValue>> virtual_tag_values_v2(const AttributeRef& ref);
// v1 (bare names): `status.code` -> unset, ok, error; `error` -> true.
std::optional<std::vector<std::string>> virtual_tag_values_v1(std::string_view tag);
// The attribute a v1 (bare) tag name refers to: `name` is the span name, `status.code` the status, anything
// else an unscoped attribute.
AttributeRef v1_tag_attribute(std::string_view tag);

// A value as TraceQL prints it for tag values (Tempo's Static.EncodeToString(false)), with its type name.
TagValue tag_value_of(const Static& value);
// Go's strconv.FormatFloat(v, 'g', -1, 64): "1.5", "123456", "1.234567e+06", "1e-05", "NaN", "+Inf".
std::string format_go_float(double v);

}  // namespace spindle
