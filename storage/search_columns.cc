#include "storage/search_columns.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/endian.h"
#include "proto/otlp_fields.h"
#include "proto/wire.h"

namespace spindle {
namespace {

constexpr char kFooterMagic[4] = {'S', 'P', 'C', 'L'};
constexpr char kTrailerMagic[4] = {'S', 'P', 'C', 'E'};
constexpr uint32_t kColumnVersion = 2;
constexpr size_t kFooterHeaderSize = 16;
constexpr size_t kColumnEntrySize = 38;

// What a column learns of one string attribute: TraceModel reads the first KeyValue named `key`; the column
// knows its value when that is exactly one AnyValue holding exactly one string_value, and knows it is absent
// when no KeyValue has the key. Anything else, including a KeyValue whose key TraceModel might read
// differently (no key or several key fields), is unknown.
struct StringAttr {
  enum class State : uint8_t { Absent, Unknown, Known };
  std::string_view value;
  State state = State::Absent;
};

StringAttr plain_string_value(std::string_view any_value) {
  WireReader r(any_value);
  auto tag = r.read_tag();
  StringAttr unknown{{}, StringAttr::State::Unknown};
  if (!tag.ok() || tag->field != 1 || tag->type != WireType::Len) return unknown;
  auto v = r.read_length_delimited();
  if (!v.ok() || !r.done()) return unknown;
  return {*v, StringAttr::State::Known};
}

// Looks at one KeyValue: true when the search is over (found `key`, or met a KeyValue it cannot read
// reliably), with `out` set.
bool inspect_key_value(std::string_view kv, std::string_view key, StringAttr& out) {
  WireReader r(kv);
  int keys = 0;
  int values = 0;
  std::string_view k;
  std::string_view v;
  while (!r.done()) {
    auto tag = r.read_tag();
    if (!tag.ok()) break;
    if ((tag->field == 1 || tag->field == 2) && tag->type == WireType::Len) {
      auto bytes = r.read_length_delimited();
      if (!bytes.ok()) break;
      if (tag->field == 1) {
        ++keys;
        k = *bytes;
      } else {
        ++values;
        v = *bytes;
      }
    } else if (!r.skip_field(tag->type).is_ok()) {
      break;
    }
  }
  if (!r.done() || keys != 1) {
    out = {{}, StringAttr::State::Unknown};
    return true;
  }
  if (k != key) return false;
  out = values == 1 ? plain_string_value(v) : StringAttr{{}, StringAttr::State::Unknown};
  return true;
}

uint8_t status_of(uint64_t code) { return code == 1 ? 1 : code == 2 ? 2 : 0; }

Status truncated(std::string_view what) { return data_loss("search columns: " + std::string(what) + " truncated"); }

}  // namespace

uint32_t ColumnPageBuilder::intern(StringColumn column, std::string_view value) {
  Dict& d = dicts_[static_cast<size_t>(column)];
  if (d.last_id != 0 && value.data() == d.last.data() && value.size() == d.last.size()) return d.last_id;
  auto it = d.index.find(value);
  if (it == d.index.end()) {
    it = d.index.emplace(std::string(value), static_cast<uint32_t>(d.order.size() + kFirstDictString)).first;
    d.order.push_back(it->first);
  }
  // `value` points into the trace being added: the cache lasts for this row only (reset by add_row).
  d.last = value;
  d.last_id = it->second;
  return it->second;
}

Result<TraceSummary> ColumnPageBuilder::add_row(std::string_view trace_pb) {
  TraceSummary sum;
  uint64_t min_start = UINT64_MAX;
  scratch_.clear();
  found_values_.clear();
  found_states_.clear();
  for (Dict& d : dicts_) d.last_id = 0;
  // Strings are first kept as views into trace_pb and interned only once the whole trace parsed, so a
  // malformed trace leaves the page untouched.
  WireReader trace(trace_pb);
  while (!trace.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, trace.read_tag());
    if (tag.field != 1 || tag.type != WireType::Len) {
      SPINDLE_RETURN_IF_ERROR(trace.skip_field(tag.type));
      continue;
    }
    SPINDLE_ASSIGN_OR_RETURN(std::string_view rs_bytes, trace.read_length_delimited());
    // ResourceSpans: the resource may come after the spans and in several pieces; read it first.
    StringAttr service;
    bool service_done = false;
    scope_spans_.clear();
    WireReader rs = trace.nested(rs_bytes);
    while (!rs.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, rs.read_tag());
      if ((t.field == 1 || t.field == 2) && t.type == WireType::Len) {
        SPINDLE_ASSIGN_OR_RETURN(std::string_view v, rs.read_length_delimited());
        if (t.field == 2) {
          scope_spans_.push_back(v);
          continue;
        }
        WireReader res = rs.nested(v);
        while (!res.done()) {
          SPINDLE_ASSIGN_OR_RETURN(WireTag rt, res.read_tag());
          if (rt.field == 1 && rt.type == WireType::Len) {
            SPINDLE_ASSIGN_OR_RETURN(std::string_view kv, res.read_length_delimited());
            if (!service_done) service_done = inspect_key_value(kv, "service.name", service);
          } else {
            SPINDLE_RETURN_IF_ERROR(res.skip_field(rt.type));
          }
        }
      } else {
        SPINDLE_RETURN_IF_ERROR(rs.skip_field(t.type));
      }
    }
    for (std::string_view ss_bytes : scope_spans_) {
      WireReader ss = rs.nested(ss_bytes);
      while (!ss.done()) {
        SPINDLE_ASSIGN_OR_RETURN(WireTag t, ss.read_tag());
        if (t.field != 2 || t.type != WireType::Len) {
          SPINDLE_RETURN_IF_ERROR(ss.skip_field(t.type));
          continue;
        }
        SPINDLE_ASSIGN_OR_RETURN(std::string_view span_bytes, ss.read_length_delimited());
        WireReader span = ss.nested(span_bytes);
        StringAttr name{std::string_view(), StringAttr::State::Known};
        StringAttr method;
        bool method_done = false;
        SpanColumns c;
        uint64_t start = 0, end = 0;
        while (!span.done()) {
          SPINDLE_ASSIGN_OR_RETURN(WireTag st, span.read_tag());
          if (st.field == SpanField::kName && st.type == WireType::Len) {
            SPINDLE_ASSIGN_OR_RETURN(name.value, span.read_length_delimited());
          } else if (st.field == SpanField::kAttributes && st.type == WireType::Len) {
            SPINDLE_ASSIGN_OR_RETURN(std::string_view kv, span.read_length_delimited());
            if (!method_done) method_done = inspect_key_value(kv, "http.method", method);
          } else if (st.field == SpanField::kStatus && st.type == WireType::Len) {
            SPINDLE_ASSIGN_OR_RETURN(std::string_view status, span.read_length_delimited());
            WireReader sr = span.nested(status);
            while (!sr.done()) {
              SPINDLE_ASSIGN_OR_RETURN(WireTag ct, sr.read_tag());
              if (ct.field == StatusField::kCode && ct.type == WireType::Varint) {
                SPINDLE_ASSIGN_OR_RETURN(uint64_t code, sr.read_varint());
                c.status = status_of(code);
              } else {
                SPINDLE_RETURN_IF_ERROR(sr.skip_field(ct.type));
              }
            }
          } else if (st.field == SpanField::kKind && st.type == WireType::Varint) {
            SPINDLE_ASSIGN_OR_RETURN(uint64_t k, span.read_varint());
            c.kind = k <= 5 ? static_cast<uint8_t>(k) : 0;
          } else if ((st.field == SpanField::kStartTimeUnixNano || st.field == SpanField::kEndTimeUnixNano) &&
                     st.type == WireType::Fixed64) {
            SPINDLE_ASSIGN_OR_RETURN(uint64_t ts, span.read_fixed64());
            (st.field == SpanField::kStartTimeUnixNano ? start : end) = ts;
            if (ts != 0) {
              if (st.field == SpanField::kStartTimeUnixNano && ts < min_start) min_start = ts;
              if (ts > sum.end_ns) sum.end_ns = ts;  // a start later than every end still bounds the trace
            }
          } else {
            SPINDLE_RETURN_IF_ERROR(span.skip_field(st.type));
          }
        }
        c.duration_ns = end >= start ? end - start : 0;
        scratch_.push_back(c);
        for (const StringAttr* a : {&service, &name, &method}) {
          found_values_.push_back(a->value);
          found_states_.push_back(static_cast<uint8_t>(a->state));
        }
      }
    }
  }
  // Only ends were set: the trace still has a position in time.
  sum.start_ns = min_start == UINT64_MAX ? sum.end_ns : min_start;
  sum.spans = scratch_.size();
  // Parsed: commit the row.
  WireWriter w(rows_bytes_);
  w.put_varint(sum.start_ns);
  w.put_varint(sum.end_ns - sum.start_ns);
  w.put_varint(scratch_.size());
  for (size_t i = 0; i < scratch_.size(); ++i) {
    SpanColumns& c = scratch_[i];
    for (size_t col = 0; col < kStringColumns; ++col) {
      switch (static_cast<StringAttr::State>(found_states_[i * kStringColumns + col])) {
        case StringAttr::State::Known:
          c.str[col] = intern(static_cast<StringColumn>(col), found_values_[i * kStringColumns + col]);
          break;
        case StringAttr::State::Absent:
          c.str[col] = kAbsentString;
          entry_.values[col].absent = true;
          break;
        case StringAttr::State::Unknown:
          c.str[col] = kUnknownString;
          entry_.values[col].unknown = true;
          break;
      }
      w.put_varint(c.str[col]);
    }
    rows_bytes_.push_back(static_cast<char>(c.status | (c.kind << 2)));
    w.put_varint(c.duration_ns);
    entry_.min_duration_ns = std::min(entry_.min_duration_ns, c.duration_ns);
    entry_.max_duration_ns = std::max(entry_.max_duration_ns, c.duration_ns);
    entry_.status_mask |= static_cast<uint8_t>(1u << c.status);
    entry_.kind_mask |= static_cast<uint8_t>(1u << c.kind);
  }
  entry_.spans += static_cast<uint32_t>(scratch_.size());
  ++entry_.rows;
  ++rows_;
  return sum;
}

std::string ColumnPageBuilder::take_page(ColumnPageEntry& entry) {
  std::string out;
  WireWriter w(out);
  for (size_t col = 0; col < kStringColumns; ++col) {
    Dict& d = dicts_[col];
    ColumnValueSet& page_values = entry_.values[col];
    std::vector<std::string>& block_dict = summary_.dicts[col];
    w.put_varint(d.order.size());
    for (std::string_view v : d.order) {
      w.put_varint(v.size());
      out.append(v);
      auto it = block_ids_[col].find(v);
      if (it == block_ids_[col].end()) {
        if (block_dict.size() >= kMaxBlockDictValues) {
          page_values.overflow = true;
          continue;
        }
        it = block_ids_[col].emplace(std::string(v), static_cast<uint16_t>(block_dict.size())).first;
        block_dict.emplace_back(v);
      }
      page_values.ids.push_back(it->second);
    }
    std::sort(page_values.ids.begin(), page_values.ids.end());
    ColumnValueSet& block_values = summary_.values[col];
    block_values.overflow = block_values.overflow || page_values.overflow;
    block_values.unknown = block_values.unknown || page_values.unknown;
    block_values.absent = block_values.absent || page_values.absent;
    d.order.clear();
    d.index.clear();
  }
  out.append(rows_bytes_);
  entry = std::move(entry_);
  summary_.min_duration_ns = std::min(summary_.min_duration_ns, entry.min_duration_ns);
  summary_.max_duration_ns = std::max(summary_.max_duration_ns, entry.max_duration_ns);
  summary_.status_mask |= entry.status_mask;
  summary_.kind_mask |= entry.kind_mask;
  entry_ = ColumnPageEntry{};
  rows_bytes_.clear();
  rows_ = 0;
  return out;
}

Status ColumnPage::decode(std::string_view raw, uint32_t row_count) {
  Status s = decode_rows(raw, row_count);
  // The varint reader's errors are InvalidArgument; for stored bytes they mean damage.
  if (!s.is_ok() && s.code() != StatusCode::DataLoss) return data_loss("search columns: " + s.message());
  return s;
}

Status ColumnPage::decode_rows(std::string_view raw, uint32_t row_count) {
  WireReader r(raw);
  for (size_t col = 0; col < kStringColumns; ++col) {
    dicts[col].clear();
    SPINDLE_ASSIGN_OR_RETURN(uint64_t n, r.read_varint());
    if (n > raw.size()) return data_loss("search columns: dictionary size " + std::to_string(n) + " impossible");
    for (uint64_t i = 0; i < n; ++i) {
      SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
      dicts[col].push_back(v);
    }
  }
  rows.clear();
  spans.clear();
  for (uint32_t i = 0; i < row_count; ++i) {
    Row row;
    SPINDLE_ASSIGN_OR_RETURN(row.start_ns, r.read_varint());
    SPINDLE_ASSIGN_OR_RETURN(uint64_t length, r.read_varint());
    row.end_ns = row.start_ns + length;
    if (row.end_ns < row.start_ns) return data_loss("search columns: row time range overflows");
    SPINDLE_ASSIGN_OR_RETURN(uint64_t n, r.read_varint());
    // Every span takes at least 5 bytes: a count beyond the bytes left is corrupt (and must not allocate).
    if (n > raw.size()) return data_loss("search columns: span count " + std::to_string(n) + " impossible");
    row.first_span = static_cast<uint32_t>(spans.size());
    row.span_count = static_cast<uint32_t>(n);
    for (uint64_t s = 0; s < n; ++s) {
      SpanColumns c;
      for (size_t col = 0; col < kStringColumns; ++col) {
        SPINDLE_ASSIGN_OR_RETURN(uint64_t v, r.read_varint());
        if (v >= dicts[col].size() + kFirstDictString) {
          return data_loss("search columns: dictionary index out of range");
        }
        c.str[col] = static_cast<uint32_t>(v);
      }
      SPINDLE_ASSIGN_OR_RETURN(uint64_t sk, r.read_varint());
      // One byte written raw: the varint reader accepts it when below 0x80, which status|kind<<2 always is.
      if (sk > 0x7f || (sk & 3) > 2 || (sk >> 2) > 5) return data_loss("search columns: bad status/kind byte");
      c.status = static_cast<uint8_t>(sk & 3);
      c.kind = static_cast<uint8_t>(sk >> 2);
      SPINDLE_ASSIGN_OR_RETURN(c.duration_ns, r.read_varint());
      spans.push_back(c);
    }
    rows.push_back(row);
  }
  if (!r.done()) return data_loss("search columns: trailing bytes after the last row");
  return Status::ok();
}

namespace {

void encode_value_set(const ColumnValueSet& v, std::string& out) {
  out.push_back(static_cast<char>((v.overflow ? 1 : 0) | (v.unknown ? 2 : 0) | (v.absent ? 4 : 0)));
  append_le<uint16_t>(out, static_cast<uint16_t>(v.ids.size()));
  for (uint16_t id : v.ids) append_le<uint16_t>(out, id);
}

// Reads from `in` at `pos`; ids must name entries of a dictionary of `dict_size` values.
Status decode_value_set(std::string_view in, size_t& pos, size_t dict_size, ColumnValueSet& v) {
  if (in.size() - pos < 3) return truncated("value set");
  const uint8_t flags = static_cast<uint8_t>(in[pos]);
  v.overflow = (flags & 1) != 0;
  v.unknown = (flags & 2) != 0;
  v.absent = (flags & 4) != 0;
  const size_t n = load_le<uint16_t>(in.data() + pos + 1);
  pos += 3;
  if (in.size() - pos < 2 * n) return truncated("value set");
  v.ids.resize(n);
  for (size_t i = 0; i < n; ++i) {
    v.ids[i] = load_le<uint16_t>(in.data() + pos + 2 * i);
    if (v.ids[i] >= dict_size || (i > 0 && v.ids[i] <= v.ids[i - 1])) {
      return data_loss("search columns: value set ids out of range or order");
    }
  }
  pos += 2 * n;
  return Status::ok();
}

}  // namespace

std::string encode_column_footer(const ColumnBlockSummary& summary, const std::vector<ColumnPageEntry>& entries) {
  std::string out(kFooterMagic, sizeof kFooterMagic);
  append_le<uint32_t>(out, kColumnVersion);
  append_le<uint32_t>(out, static_cast<uint32_t>(entries.size()));
  append_le<uint32_t>(out, 0);
  append_le<uint64_t>(out, summary.min_duration_ns);
  append_le<uint64_t>(out, summary.max_duration_ns);
  out.push_back(static_cast<char>(summary.status_mask));
  out.push_back(static_cast<char>(summary.kind_mask));
  for (size_t col = 0; col < kStringColumns; ++col) {
    ColumnValueSet flags_only = summary.values[col];
    flags_only.ids.clear();
    encode_value_set(flags_only, out);
    append_le<uint32_t>(out, static_cast<uint32_t>(summary.dicts[col].size()));
    for (const std::string& v : summary.dicts[col]) {
      append_le<uint32_t>(out, static_cast<uint32_t>(v.size()));
      out.append(v);
    }
  }
  for (const ColumnPageEntry& e : entries) {
    append_le<uint64_t>(out, e.offset);
    append_le<uint32_t>(out, e.size);
    append_le<uint32_t>(out, e.rows);
    append_le<uint32_t>(out, e.spans);
    append_le<uint64_t>(out, e.min_duration_ns);
    append_le<uint64_t>(out, e.max_duration_ns);
    out.push_back(static_cast<char>(e.status_mask));
    out.push_back(static_cast<char>(e.kind_mask));
    for (const ColumnValueSet& v : e.values) encode_value_set(v, out);
  }
  return out;
}

Status decode_column_footer(std::string_view footer, uint64_t file_size, ColumnBlockSummary& summary,
                            std::vector<ColumnPageEntry>& entries) {
  if (footer.size() < kFooterHeaderSize + 18) return truncated("footer");
  if (std::memcmp(footer.data(), kFooterMagic, sizeof kFooterMagic) != 0) {
    return data_loss("search columns: bad footer magic");
  }
  uint32_t version = load_le<uint32_t>(footer.data() + 4);
  if (version != kColumnVersion) {
    return data_loss("search columns: unsupported format version " + std::to_string(version));
  }
  uint64_t pages = load_le<uint32_t>(footer.data() + 8);
  size_t pos = kFooterHeaderSize;
  summary = ColumnBlockSummary{};
  summary.min_duration_ns = load_le<uint64_t>(footer.data() + pos);
  summary.max_duration_ns = load_le<uint64_t>(footer.data() + pos + 8);
  summary.status_mask = static_cast<uint8_t>(footer[pos + 16]);
  summary.kind_mask = static_cast<uint8_t>(footer[pos + 17]);
  pos += 18;
  for (size_t col = 0; col < kStringColumns; ++col) {
    SPINDLE_RETURN_IF_ERROR(decode_value_set(footer, pos, 0, summary.values[col]));
    if (footer.size() - pos < 4) return truncated("block dictionary");
    uint64_t n = load_le<uint32_t>(footer.data() + pos);
    pos += 4;
    if (n > kMaxBlockDictValues) return data_loss("search columns: block dictionary too large");
    for (uint64_t i = 0; i < n; ++i) {
      if (footer.size() - pos < 4) return truncated("block dictionary");
      uint64_t len = load_le<uint32_t>(footer.data() + pos);
      pos += 4;
      if (footer.size() - pos < len) return truncated("block dictionary");
      summary.dicts[col].emplace_back(footer.substr(pos, len));
      pos += len;
    }
  }
  // Each entry takes at least its fixed part and three empty value sets: a count beyond that is corrupt.
  if (pages > (footer.size() - pos) / (kColumnEntrySize + 3 * kStringColumns)) {
    return data_loss("search columns: footer too short for " + std::to_string(pages) + " pages");
  }
  entries.assign(pages, ColumnPageEntry{});
  uint64_t next_offset = 0;
  for (ColumnPageEntry& e : entries) {
    if (footer.size() - pos < kColumnEntrySize) return truncated("page entry");
    const char* p = footer.data() + pos;
    e.offset = load_le<uint64_t>(p);
    e.size = load_le<uint32_t>(p + 8);
    e.rows = load_le<uint32_t>(p + 12);
    e.spans = load_le<uint32_t>(p + 16);
    e.min_duration_ns = load_le<uint64_t>(p + 20);
    e.max_duration_ns = load_le<uint64_t>(p + 28);
    e.status_mask = static_cast<uint8_t>(p[36]);
    e.kind_mask = static_cast<uint8_t>(p[37]);
    pos += kColumnEntrySize;
    for (size_t col = 0; col < kStringColumns; ++col) {
      SPINDLE_RETURN_IF_ERROR(decode_value_set(footer, pos, summary.dicts[col].size(), e.values[col]));
    }
    if (e.offset != next_offset || e.size == 0 || e.offset + e.size > file_size) {
      return data_loss("search columns: page bounds out of order or past the file");
    }
    next_offset += e.size;
  }
  if (pos != footer.size()) return data_loss("search columns: trailing bytes after the last page entry");
  return Status::ok();
}

std::string encode_column_trailer(std::string_view footer) {
  std::string out;
  append_le<uint32_t>(out, static_cast<uint32_t>(footer.size()));
  append_le<uint64_t>(out, XXH3_64bits(footer.data(), footer.size()));
  out.append(kTrailerMagic, sizeof kTrailerMagic);
  return out;
}

Result<uint32_t> decode_column_trailer(std::string_view trailer) {
  if (trailer.size() != kColumnTrailerSize) return truncated("trailer");
  if (std::memcmp(trailer.data() + 12, kTrailerMagic, sizeof kTrailerMagic) != 0) {
    return data_loss("search columns: bad trailer magic");
  }
  return load_le<uint32_t>(trailer.data());
}

Status check_column_footer(std::string_view footer, std::string_view trailer) {
  if (load_le<uint64_t>(trailer.data() + 4) != XXH3_64bits(footer.data(), footer.size())) {
    return data_loss("search columns: footer checksum mismatch");
  }
  return Status::ok();
}

}  // namespace spindle
