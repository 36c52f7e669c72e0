#include "storage/trace_merge.h"

#include <unordered_map>
#include <unordered_set>

#include "proto/wire.h"

namespace spindle {
namespace {

Status with_context(const Status& s, std::string_view what) {
  return Status(s.code(), std::string(what) + ": " + s.message());
}

// Calls on_span(span bytes) for every Span of a serialized Trace.
template <class F>
Status for_each_span(std::string_view trace, F&& on_span) {
  WireReader r(trace);
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.field != 1 || tag.type != WireType::Len) {
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      continue;
    }
    SPINDLE_ASSIGN_OR_RETURN(std::string_view rs_bytes, r.read_length_delimited());
    WireReader rs = r.nested(rs_bytes);
    while (!rs.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag rs_tag, rs.read_tag());
      if (rs_tag.field != 2 || rs_tag.type != WireType::Len) {
        SPINDLE_RETURN_IF_ERROR(rs.skip_field(rs_tag.type));
        continue;
      }
      SPINDLE_ASSIGN_OR_RETURN(std::string_view ss_bytes, rs.read_length_delimited());
      WireReader ss = rs.nested(ss_bytes);
      while (!ss.done()) {
        SPINDLE_ASSIGN_OR_RETURN(WireTag ss_tag, ss.read_tag());
        if (ss_tag.field != 2 || ss_tag.type != WireType::Len) {
          SPINDLE_RETURN_IF_ERROR(ss.skip_field(ss_tag.type));
          continue;
        }
        SPINDLE_ASSIGN_OR_RETURN(std::string_view span, ss.read_length_delimited());
        SPINDLE_RETURN_IF_ERROR(on_span(ss.nested(span)));
      }
    }
  }
  return Status::ok();
}

}  // namespace

std::string TraceAssembler::Context::key() const {
  std::string k;
  WireWriter(k).put_varint(message.size());
  k += message;
  k += schema_url;
  return k;
}

Status TraceAssembler::add_trace(std::string_view trace) {
  WireReader r(trace);
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.field == 1 && tag.type == WireType::Len) {
      SPINDLE_ASSIGN_OR_RETURN(std::string_view rs, r.read_length_delimited());
      SPINDLE_RETURN_IF_ERROR(add_resource_spans(r.nested(rs)));
    } else {
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
    }
  }
  return Status::ok();
}

void TraceAssembler::add_span(std::string_view resource, std::string_view resource_schema_url,
                              std::string_view scope, std::string_view scope_schema_url, std::string_view span) {
  Scope& s = scope_of(resource_group({std::string(resource), resource_schema_url}),
                      {std::string(scope), scope_schema_url});
  if (s.seen.insert(span).second) s.spans.push_back(span);
}

void TraceAssembler::add_unique_span(uint32_t resource_id, std::string_view resource,
                                     std::string_view resource_schema_url, uint32_t scope_id, std::string_view scope,
                                     std::string_view scope_schema_url, std::string_view span) {
  size_t group = SIZE_MAX;
  for (const auto& [id, g] : unique_resources_) {
    if (id == resource_id) group = g;
  }
  if (group == SIZE_MAX) {
    group = resources_.size();
    resources_.push_back({Context{std::string(resource), resource_schema_url}, {}, {}});
    unique_resources_.emplace_back(resource_id, group);
    unique_scopes_.emplace_back();
  }
  ResourceGroup& g = resources_[group];
  size_t index = SIZE_MAX;
  for (const auto& [id, i] : unique_scopes_[group]) {
    if (id == scope_id) index = i;
  }
  if (index == SIZE_MAX) {
    index = g.scopes.size();
    g.scopes.push_back({Context{std::string(scope), scope_schema_url}, {}, {}});
    unique_scopes_[group].emplace_back(scope_id, index);
  }
  g.scopes[index].spans.push_back(span);
}

std::string TraceAssembler::finish() const {
  std::string out;
  std::string rs;
  std::string ss;
  for (const ResourceGroup& g : resources_) {
    rs.clear();
    WireWriter rw(rs);
    rw.put_len_field(1, g.context.message);
    for (const Scope& s : g.scopes) {
      ss.clear();
      WireWriter sw(ss);
      sw.put_len_field(1, s.context.message);
      for (std::string_view span : s.spans) sw.put_len_field(2, span);
      if (!s.context.schema_url.empty()) sw.put_len_field(3, s.context.schema_url);
      rw.put_len_field(2, ss);
    }
    if (!g.context.schema_url.empty()) rw.put_len_field(3, g.context.schema_url);
    WireWriter(out).put_len_field(1, rs);
  }
  return out;
}

size_t TraceAssembler::resource_group(Context context) {
  auto [it, fresh] = resource_index_.try_emplace(context.key(), resources_.size());
  if (fresh) resources_.push_back({std::move(context), {}, {}});
  return it->second;
}

TraceAssembler::Scope& TraceAssembler::scope_of(size_t group, Context context) {
  ResourceGroup& g = resources_[group];
  auto [it, fresh] = g.scope_index.try_emplace(context.key(), g.scopes.size());
  if (fresh) g.scopes.push_back({std::move(context), {}, {}});
  return g.scopes[it->second];
}

// ResourceSpans: 1 resource, 2 scope_spans (repeated), 3 schema_url. The resource and schema_url may follow
// the scope_spans on the wire, so the scopes are collected first and filed once the context is known.
Status TraceAssembler::add_resource_spans(WireReader r) {
  Context context;
  std::vector<std::string_view> scope_spans;
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.type == WireType::Len && tag.field >= 1 && tag.field <= 3) {
      SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
      if (tag.field == 1) context.message.append(v);
      if (tag.field == 2) scope_spans.push_back(v);
      if (tag.field == 3) context.schema_url = v;
    } else {
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
    }
  }
  size_t group = resource_group(std::move(context));
  for (std::string_view ss : scope_spans) {
    SPINDLE_RETURN_IF_ERROR(add_scope_spans(group, r.nested(ss)));
  }
  return Status::ok();
}

// ScopeSpans: 1 scope, 2 spans (repeated), 3 schema_url.
Status TraceAssembler::add_scope_spans(size_t group, WireReader r) {
  Context context;
  std::vector<std::string_view> spans;
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.type == WireType::Len && tag.field >= 1 && tag.field <= 3) {
      SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
      if (tag.field == 1) context.message.append(v);
      if (tag.field == 2) spans.push_back(v);
      if (tag.field == 3) context.schema_url = v;
    } else {
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
    }
  }
  Scope& scope = scope_of(group, std::move(context));
  for (std::string_view span : spans) {
    if (scope.seen.insert(span).second) scope.spans.push_back(span);
  }
  return Status::ok();
}

Result<std::string> merge_traces(const std::vector<std::string_view>& traces) {
  TraceAssembler merger;
  for (size_t i = 0; i < traces.size(); ++i) {
    Status s = merger.add_trace(traces[i]);
    if (!s.is_ok()) return with_context(s, "trace piece " + std::to_string(i));
  }
  return merger.finish();
}

}  // namespace spindle
