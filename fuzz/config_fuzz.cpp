// libFuzzer target: any bytes as a data.json (JSON) or an FSDP2 yaml (YAML, the first byte chooses) go
// through the file parser and the typed reader: the result is a config or an omnitune::Error — never a
// crash, hang, leak, undefined behaviour or unbounded memory (an alias bomb).
#include <cstddef>
#include <cstdint>
#include <string>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/data/data_config.h"
#include "omnitune/train/fsdp2_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] & 1) {
      omnitune::read_fsdp2_config(omnitune::parse_yaml(text, "fuzz.yaml"), "fuzz.yaml");
    } else {
      omnitune::read_data_config(omnitune::parse_json(text, "fuzz.json"), "fuzz.json");
    }
  } catch (const omnitune::Error&) {
  }
  return 0;
}
