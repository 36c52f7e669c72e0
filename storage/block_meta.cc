#include "storage/block_meta.h"

#include <random>

#include "core/trace_id.h"
#include "proto/json_reader.h"
#include "proto/json_writer.h"

namespace spindle {
namespace {

Status read_u64(const JsonValue& root, std::string_view key, uint64_t max, uint64_t& out) {
  const JsonValue* v = root.find(key);
  if (v == nullptr) return data_loss("meta.json: missing \"" + std::string(key) + "\"");
  std::optional<uint64_t> n = v->as_uint64(/*allow_string=*/false);
  if (!n || *n > max) {
    return data_loss("meta.json: \"" + std::string(key) + "\" is not an integer in [0, " +
                     std::to_string(max) + "]");
  }
  out = *n;
  return Status::ok();
}

Status read_u32(const JsonValue& root, std::string_view key, uint32_t& out) {
  uint64_t v = 0;
  SPINDLE_RETURN_IF_ERROR(read_u64(root, key, UINT32_MAX, v));
  out = static_cast<uint32_t>(v);
  return Status::ok();
}

}  // namespace

std::string BlockMeta::to_json() const {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("format_version");
  w.uint_value(format_version);
  w.key("block_id");
  w.string(block_id);
  w.key("shard");
  w.uint_value(shard);
  w.key("shard_count");
  w.uint_value(shard_count);
  w.key("level");
  w.uint_value(level);
  w.key("min_start_unix_nano");
  w.uint_value(min_start_ns);
  w.key("max_end_unix_nano");
  w.uint_value(max_end_ns);
  w.key("traces");
  w.uint_value(traces);
  w.key("spans");
  w.uint_value(spans);
  w.key("pages");
  w.uint_value(pages);
  w.key("data_bytes");
  w.uint_value(data_bytes);
  w.key("created_unix_nano");
  w.uint_value(created_ns);
  w.end_object();
  out.push_back('\n');
  return out;
}

Result<BlockMeta> BlockMeta::parse(std::string_view json) {
  auto parsed = JsonReader::parse(json, /*max_depth=*/8);
  if (!parsed.ok()) return data_loss("meta.json: " + parsed.status().message());
  const JsonValue& root = *parsed;
  if (!root.is_object()) return data_loss("meta.json: not a JSON object");
  BlockMeta m;
  SPINDLE_RETURN_IF_ERROR(read_u32(root, "format_version", m.format_version));
  if (m.format_version != kFormatVersion) {
    return data_loss("meta.json: unsupported format_version " + std::to_string(m.format_version));
  }
  const JsonValue* id = root.find("block_id");
  if (id == nullptr || !id->is_string() || !is_valid_block_id(id->text())) {
    return data_loss("meta.json: missing or malformed \"block_id\"");
  }
  m.block_id = std::string(id->text());
  SPINDLE_RETURN_IF_ERROR(read_u32(root, "shard", m.shard));
  SPINDLE_RETURN_IF_ERROR(read_u32(root, "shard_count", m.shard_count));
  SPINDLE_RETURN_IF_ERROR(read_u32(root, "level", m.level));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "min_start_unix_nano", UINT64_MAX, m.min_start_ns));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "max_end_unix_nano", UINT64_MAX, m.max_end_ns));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "traces", UINT64_MAX, m.traces));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "spans", UINT64_MAX, m.spans));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "pages", UINT64_MAX, m.pages));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "data_bytes", UINT64_MAX, m.data_bytes));
  SPINDLE_RETURN_IF_ERROR(read_u64(root, "created_unix_nano", UINT64_MAX, m.created_ns));
  if (m.shard_count == 0 || m.shard >= m.shard_count) {
    return data_loss("meta.json: shard " + std::to_string(m.shard) + " of " + std::to_string(m.shard_count));
  }
  if (m.min_start_ns > m.max_end_ns) return data_loss("meta.json: min_start_unix_nano > max_end_unix_nano");
  return m;
}

std::string new_block_id() {
  // Block IDs only need to be unique within one data directory; a per-thread engine seeded from the OS is
  // plenty.
  thread_local std::mt19937_64 rng(std::random_device{}());
  uint8_t b[16];
  uint64_t a = rng();
  uint64_t c = rng();
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(a >> (8 * i));
    b[8 + i] = static_cast<uint8_t>(c >> (8 * i));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex = to_hex(std::string_view(reinterpret_cast<const char*>(b), sizeof b));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

bool is_valid_block_id(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : (hex_digit_value(id[i]) < 0 || (id[i] >= 'A' && id[i] <= 'F'))) return false;
  }
  return true;
}

}  // namespace spindle
