#include "omnitune/io/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"

namespace omnitune {

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON integer in [0, 2^63) or an error.
uint64_t non_negative(const nlohmann::json& v, const std::string& what) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return u;
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(v.get<int64_t>());
  }
  throw Error(what + " must be a non-negative integer, got " + v.dump());
}

TensorEntry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size,
                        const std::string& where) {
  if (!v.is_object()) throw Error(where + ": entry must be an object, got " + v.dump());
  for (const auto& item : v.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      throw Error(where + ": unknown field '" + item.key() + "'" +
                  did_you_mean(item.key(), {"dtype", "shape", "data_offsets"}));
  TensorEntry t;
  t.name = name;

  auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string()) throw Error(where + ": missing or non-string 'dtype'");
  auto parsed = dtype_from_name(dtype->get<std::string>());
  if (!parsed) {
    std::string n = dtype->get<std::string>();
    throw Error(where + ": unknown dtype '" + n + "'" + did_you_mean(n, dtype_names()));
  }
  t.dtype = *parsed;

  auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array()) throw Error(where + ": missing or non-list 'shape'");
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : *shape) {
    uint64_t dim = non_negative(d, where + ": shape entry");
    t.shape.push_back(static_cast<int64_t>(dim));
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim) overflow = true;
    numel *= dim;
  }

  auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2)
    throw Error(where + ": 'data_offsets' must be a list [begin, end]");
  t.begin = non_negative((*offsets)[0], where + ": data_offsets begin");
  t.end = non_negative((*offsets)[1], where + ": data_offsets end");
  if (t.begin > t.end) throw Error(cat(where, ": data_offsets [", t.begin, ", ", t.end, "] has begin after end"));
  if (t.end > data_size)
    throw Error(cat(where, ": data_offsets [", t.begin, ", ", t.end, "] run past the end of the data (", data_size,
                    " bytes; is the file truncated?)"));
  uint64_t elem = dtype_size(t.dtype);
  if (overflow || numel > std::numeric_limits<uint64_t>::max() / elem || numel * elem != t.end - t.begin)
    throw Error(cat(where, ": shape and dtype need ", overflow ? "more than 2^64" : std::to_string(numel * elem),
                    " bytes but data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin));
  return t;
}

}  // namespace

SafetensorsHeader parse_safetensors(const uint8_t* bytes, uint64_t size, const std::string& file) {
  if (size < 8)
    throw Error(cat(file, ": not a safetensors file: ", size, " bytes, shorter than the 8-byte header length"));
  uint64_t header_len = read_u64_le(bytes);
  if (header_len > size - 8)
    throw Error(cat(file, ": header length ", header_len, " runs past the end of the file (", size,
                    " bytes; truncated or not a safetensors file)"));
  if (header_len > kMaxHeaderBytes)
    throw Error(cat(file, ": header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes));

  std::string_view text(reinterpret_cast<const char*>(bytes + 8), header_len);
  std::set<std::string> seen;
  auto reject_duplicates = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second)
      throw Error(file + ": tensor '" + parsed.get<std::string>() + "' appears twice in the header");
    return true;
  };
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.begin(), text.end(), reject_duplicates);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": header is not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error(file + ": header must be a JSON object");

  SafetensorsHeader header;
  header.data_start = 8 + header_len;
  uint64_t data_size = size - header.data_start;
  for (const auto& item : root.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) throw Error(file + ": __metadata__ must be an object of strings");
      for (const auto& m : item.value().items()) {
        if (!m.value().is_string()) throw Error(file + ": __metadata__ value of '" + m.key() + "' must be a string");
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_entry(item.key(), item.value(), data_size, file + ": tensor '" + item.key() + "'"));
  }

  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // As the reference library: the tensors tile the data exactly, in offset order from byte 0 to the end of
  // the file — no overlap, no gap, nothing after the last tensor.
  const TensorEntry* previous = nullptr;
  uint64_t covered = 0;
  for (const auto& t : header.tensors) {
    if (t.begin < covered)
      throw Error(cat(file, ": tensors '", previous->name, "' [", previous->begin, ", ", previous->end, ") and '",
                      t.name, "' [", t.begin, ", ", t.end, ") overlap"));
    if (t.begin > covered)
      throw Error(cat(file, ": ", t.begin - covered, " bytes of the data before tensor '", t.name, "' [", t.begin, ", ",
                      t.end, ") belong to no tensor (a gap in the data offsets)"));
    covered = t.end;
    if (t.begin != t.end) previous = &t;
  }
  if (covered != data_size)
    throw Error(cat(file, ": ", data_size - covered,
                    " bytes after the last tensor's data belong to no tensor (the data is ", data_size,
                    " bytes, the tensors cover ", covered, ")"));
  return header;
}

std::string build_safetensors_header(std::vector<TensorEntry>& tensors,
                                     const std::map<std::string, std::string>& metadata) {
  nlohmann::json root = nlohmann::json::object();
  if (!metadata.empty()) root["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    uint64_t elem = dtype_size(t.dtype);
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) throw Error("tensor '" + t.name + "': negative dimension in shape");
      numel *= static_cast<uint64_t>(d);
    }
    t.begin = offset;
    t.end = offset + numel * elem;
    offset = t.end;
    if (root.contains(t.name)) throw Error("tensor '" + t.name + "' given twice");
    root[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
  }
  std::string json = root.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json;
}

}  // namespace omnitune
