#include "omnitune/io/safetensors_checkpoint.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/io/atomic_file.h"

namespace fs = std::filesystem;

namespace omnitune {

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& path) : path_(path) {
  if (!fs::exists(path)) throw Error(path + ": no such file or directory");
  if (!fs::is_directory(path)) {
    add_shard(path);
  } else if (fs::path single = fs::path(path) / kSingleFileName; fs::exists(single)) {
    // transformers loads model.safetensors when a directory holds it, whatever else is there.
    if (fs::exists(fs::path(path) / kIndexFileName))
      log_warn(cat(path, ": holds both ", kSingleFileName, " and ", kIndexFileName, "; reading ", kSingleFileName,
                   " as transformers does (the index and its shards are ignored)"));
    add_shard(single.string());
  } else if (fs::path index = fs::path(path) / kIndexFileName; fs::exists(index)) {
    nlohmann::json root = load_json_file(index.string());
    auto map = root.find("weight_map");
    if (!root.is_object() || map == root.end() || !map->is_object())
      throw Error(index.string() + ": missing the 'weight_map' object");
    std::map<std::string, std::string> expected;  // tensor -> file, from the index
    for (const auto& item : map->items()) {
      if (!item.value().is_string())
        throw Error(index.string() + ": weight_map['" + item.key() + "'] must be a file name");
      std::string file = item.value().get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
        throw Error(index.string() + ": weight_map['" + item.key() + "'] = '" + file +
                    "' is not a file name in the directory");
      expected[item.key()] = file;
    }
    std::map<std::string, size_t> shard_of_file;
    for (const auto& [tensor, file] : expected) {
      if (shard_of_file.count(file)) continue;
      fs::path shard = fs::path(path) / file;
      if (!fs::exists(shard))
        throw Error(index.string() + ": points at missing shard '" + file + "' (for tensor '" + tensor + "')");
      shard_of_file[file] = shards_.size();
      add_shard(shard.string());
    }
    for (const auto& [tensor, file] : expected) {
      auto it = where_.find(tensor);
      if (it == where_.end() || it->second != shard_of_file[file])
        throw Error(index.string() + ": lists tensor '" + tensor + "' in '" + file +
                    "', but that shard does not hold it");
    }
    for (const auto& [tensor, shard] : where_)
      if (!expected.count(tensor))
        throw Error(shards_[shard]->path() + ": holds tensor '" + tensor + "' that " + kIndexFileName +
                    " does not list");
  } else {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path))
      if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
    if (files.empty()) throw Error(path + ": no .safetensors files in this directory");
    if (files.size() > 1)
      throw Error(cat(path, ": ", files.size(), " .safetensors files but no ", kIndexFileName,
                      " saying which tensors they hold"));
    add_shard(files[0]);
  }
  for (const auto& [name, shard] : where_) names_.push_back(name);
}

void SafetensorsCheckpoint::add_shard(const std::string& file) {
  shards_.push_back(std::make_unique<SafetensorsFile>(file));
  for (const auto& t : shards_.back()->tensors()) {
    auto [it, inserted] = where_.emplace(t.name, shards_.size() - 1);
    if (!inserted) throw Error("tensor '" + t.name + "' is in both " + shards_[it->second]->path() + " and " + file);
  }
}

const TensorEntry& SafetensorsCheckpoint::entry(const std::string& name) const { return file_of(name).at(name); }

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw Error(path_ + ": no tensor '" + name + "'" + did_you_mean(name, names_));
  return *shards_[it->second];
}

uint64_t SafetensorsCheckpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& shard : shards_)
    for (const auto& t : shard->tensors()) total += t.nbytes();
  return total;
}

std::string part_file_name(const std::string& stem, size_t index, size_t count) {
  char digits[64];
  std::snprintf(digits, sizeof digits, "-%05zu-of-%05zu.safetensors", index + 1, count);
  return stem + digits;
}

std::vector<std::string> write_shards(
    const std::string& dir, const std::vector<std::string>& names, const std::vector<uint64_t>& nbytes,
    uint64_t max_shard_bytes,
    const std::function<void(const std::string& path, const std::vector<size_t>& members)>& write_shard,
    const WriterPart& part) {
  if (!fs::is_directory(dir)) throw Error(dir + ": output directory does not exist");
  std::vector<std::vector<size_t>> groups(1);
  uint64_t group_bytes = 0, total = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!groups.back().empty() && group_bytes + nbytes[i] > max_shard_bytes) {
      groups.emplace_back();
      group_bytes = 0;
    }
    groups.back().push_back(i);
    group_bytes += nbytes[i];
    total += nbytes[i];
  }
  std::vector<std::string> written;
  if (groups.size() == 1) {
    if (!part.writes(0)) return written;
    written.push_back((fs::path(dir) / kSingleFileName).string());
    write_shard(written.back(), groups[0]);
    return written;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string name = part_file_name("model", g, groups.size());
    for (size_t i : groups[g]) weight_map[names[i]] = name;
    if (!part.writes(g)) continue;
    written.push_back((fs::path(dir) / name).string());
    write_shard(written.back(), groups[g]);
  }
  if (part.writer != 0) return written;
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  written.push_back((fs::path(dir) / kIndexFileName).string());
  write_file_atomic(written.back(), index.dump(2) + "\n");
  return written;
}

std::vector<std::string> write_sharded_safetensors(const std::string& dir, const std::vector<TensorBytes>& tensors,
                                                   uint64_t max_shard_bytes,
                                                   const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> names;
  std::vector<uint64_t> nbytes;
  for (const auto& t : tensors) {
    names.push_back(t.name);
    nbytes.push_back(t.nbytes);
  }
  return write_shards(dir, names, nbytes, max_shard_bytes,
                      [&](const std::string& path, const std::vector<size_t>& members) {
                        std::vector<TensorBytes> shard;
                        for (size_t i : members) shard.push_back(tensors[i]);
                        write_safetensors(path, shard, metadata);
                      });
}

uint64_t parse_byte_size(const std::string& text, const std::string& flag) {
  static const std::map<std::string, double> kUnits = {
      {"", 1},      {"B", 1},        {"KB", 1e3},        {"MB", 1e6},           {"GB", 1e9},
      {"TB", 1e12}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
  size_t pos = 0;
  double number = 0;
  try {
    number = std::stod(text, &pos);
  } catch (const std::exception&) {
    throw Error(flag + " '" + text + "': not a number with an optional unit (e.g. 4GB, 500MB)");
  }
  const std::string unit = text.substr(pos);
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : kUnits) names.push_back(k);
    throw Error(flag + " '" + text + "': unknown unit '" + unit + "'" + did_you_mean(unit, names) +
                "; valid: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB");
  }
  const double bytes = number * it->second;
  if (!std::isfinite(bytes) || bytes < 1 || bytes >= 9.2e18)
    throw Error(flag + " '" + text + "': must be at least 1 byte and less than 9.2e18 bytes (8 EiB)");
  return static_cast<uint64_t>(bytes);
}

}  // namespace omnitune
