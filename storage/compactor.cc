#include "storage/compactor.h"

#include <queue>
#include <string_view>

#include "storage/trace_merge.h"

namespace spindle {
namespace {

struct HeapItem {
  TraceId id;
  size_t input;
};

// std::priority_queue is a max-heap: invert so the smallest ID (then lowest input, for a stable piece order)
// comes out first.
struct Later {
  bool operator()(const HeapItem& a, const HeapItem& b) const {
    if (a.id == b.id) return a.input > b.input;
    return b.id < a.id;
  }
};

}  // namespace

Result<BlockMeta> compact_blocks(const std::vector<BlockReader*>& inputs, BlockWriter& out) {
  if (out.traces() != 0) return invalid_argument("compaction: output writer already holds traces");
  for (const BlockReader* in : inputs) {
    const BlockMeta& m = in->meta();
    if (m.shard != out.options().shard || m.shard_count != out.options().shard_count) {
      return invalid_argument("compaction: block " + m.block_id + " belongs to shard " +
                              std::to_string(m.shard) + "/" + std::to_string(m.shard_count) + ", output to " +
                              std::to_string(out.options().shard) + "/" +
                              std::to_string(out.options().shard_count));
    }
  }
  std::vector<BlockReader::Cursor> cursors;
  cursors.reserve(inputs.size());
  std::priority_queue<HeapItem, std::vector<HeapItem>, Later> heap;
  for (size_t i = 0; i < inputs.size(); ++i) {
    cursors.push_back(inputs[i]->cursor());
    SPINDLE_ASSIGN_OR_RETURN(bool has, cursors[i].next());
    if (has) heap.push({cursors[i].row().id, i});
  }
  std::vector<size_t> group;
  std::vector<std::string_view> pieces;
  while (!heap.empty()) {
    TraceId id = heap.top().id;
    group.clear();
    while (!heap.empty() && heap.top().id == id) {
      group.push_back(heap.top().input);
      heap.pop();
    }
    if (group.size() == 1) {
      SPINDLE_RETURN_IF_ERROR(out.add(id, cursors[group[0]].row().trace));
    } else {
      pieces.clear();
      for (size_t i : group) pieces.push_back(cursors[i].row().trace);
      SPINDLE_ASSIGN_OR_RETURN(std::string merged, merge_traces(pieces));
      SPINDLE_RETURN_IF_ERROR(out.add(id, merged));
    }
    // Advance only after the row was consumed: next() may replace the page its trace view points into.
    for (size_t i : group) {
      SPINDLE_ASSIGN_OR_RETURN(bool has, cursors[i].next());
      if (has) heap.push({cursors[i].row().id, i});
    }
  }
  return out.finish();
}

}  // namespace spindle
