#include "omnitune/weights/checkpoint_layout.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {
namespace {

namespace fs = std::filesystem;
using test::error_of;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A committed checkpoint directory `name` under `root` holding checkpoint.json and one file.
void save(const fs::path& root, const std::string& name, const std::string& tracker, const std::string& content = "x") {
  CheckpointStaging staging(root.string(), name);
  write_checkpoint_info(staging.dir(), {tracker == "release" ? "release" : "training", "", ""});
  test::write_text((fs::path(staging.dir()) / "data.txt").string(), content);
  staging.commit(tracker);
}

TEST(CheckpointLayout, IterationDirName) {
  EXPECT_EQ(iteration_dir_name(10), "iter_0000010");
  EXPECT_EQ(iteration_dir_name(0), "iter_0000000");
  EXPECT_EQ(iteration_dir_name(123456789), "iter_123456789");
}

TEST(CheckpointLayout, StagingIsHiddenUntilCommitThenTrackerIsWritten) {
  test::TempDir tmp;
  fs::path root = tmp.path() / "save";
  CheckpointStaging staging(root.string(), "iter_0000010");
  EXPECT_EQ(fs::path(staging.dir()).filename().string(), cat(".iter_0000010.partial-", getpid()));
  test::write_text((fs::path(staging.dir()) / "a.txt").string(), "1");
  EXPECT_EQ(entries(root), std::vector<std::string>{fs::path(staging.dir()).filename().string()});
  staging.commit("10");
  EXPECT_EQ(entries(root), (std::vector<std::string>{"iter_0000010", kTrackerFile}));
  EXPECT_EQ(read_text(root / kTrackerFile), "10");
  EXPECT_EQ(read_text(root / "iter_0000010" / "a.txt"), "1");
}

TEST(CheckpointLayout, UncommittedStagingLeavesNothing) {
  test::TempDir tmp;
  {
    CheckpointStaging staging((tmp.path() / "new" / "save").string(), "release");
    test::write_text((fs::path(staging.dir()) / "a.txt").string(), "1");
  }
  EXPECT_TRUE(entries(tmp.path()).empty());  // the directories it created are gone too
  fs::create_directories(tmp.path() / "kept");
  { CheckpointStaging staging((tmp.path() / "kept").string(), "release"); }
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"kept"});
}

TEST(CheckpointLayout, CommitReplacesAnExistingDirectory) {
  test::TempDir tmp;
  save(tmp.path(), "iter_0000005", "5", "old");
  test::write_text((tmp.path() / "iter_0000005" / "stale.txt").string(), "s");
  save(tmp.path(), "iter_0000005", "5", "new");
  EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"iter_0000005", kTrackerFile}));
  EXPECT_EQ(entries(tmp.path() / "iter_0000005"), (std::vector<std::string>{kCheckpointInfoFile, "data.txt"}));
  EXPECT_EQ(read_text(tmp.path() / "iter_0000005" / "data.txt"), "new");
}

TEST(CheckpointLayout, StagingErrors) {
  test::TempDir tmp;
  test::write_text(tmp.file("file"), "");
  EXPECT_NE(error_of([&] {
              CheckpointStaging s(tmp.file("file") + "/save", "release");
            }).find("cannot create the output directory"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { CheckpointStaging s(tmp.file("save"), "a/b"); }), "'a/b' is not a directory name");
  CheckpointStaging staging(tmp.file("save"), "release");
  EXPECT_EQ(error_of([&] { staging.commit("latest"); }),
            "checkpoint tracker value 'latest' is neither 'release' nor an iteration number");
  EXPECT_FALSE(fs::exists(tmp.path() / "save" / "release"));
}

TEST(CheckpointLayout, LocateThroughTheTrackerOrDirectly) {
  test::TempDir tmp;
  save(tmp.path(), "release", "release");
  CheckpointLocation release = locate_checkpoint(tmp.path().string());
  EXPECT_TRUE(release.release);
  EXPECT_EQ(release.dir, (tmp.path() / "release").string());
  save(tmp.path(), "iter_0000010", "10");
  save(tmp.path(), "iter_0000020", "20");
  CheckpointLocation latest = locate_checkpoint(tmp.path().string());
  EXPECT_FALSE(latest.release);
  EXPECT_EQ(latest.iteration, 20);
  EXPECT_EQ(latest.dir, (tmp.path() / "iter_0000020").string());
  CheckpointLocation direct = locate_checkpoint((tmp.path() / "iter_0000010").string());
  EXPECT_EQ(direct.iteration, 10);
  EXPECT_FALSE(direct.release);
  EXPECT_TRUE(locate_checkpoint((tmp.path() / "release").string()).release);
  EXPECT_TRUE(is_training_checkpoint(tmp.path().string()));
  EXPECT_FALSE(is_hf_model_dir(tmp.path().string()));
}

TEST(CheckpointLayout, LocateSkipsPartialDirectoriesWithAWarning) {
  test::TempDir tmp;
  save(tmp.path(), "iter_0000010", "10");
  const fs::path partial = tmp.path() / ".iter_0000020.partial-999999999";  // no such process
  fs::create_directories(partial);
  testing::internal::CaptureStdout();
  CheckpointLocation location = locate_checkpoint(tmp.path().string());
  std::string log = testing::internal::GetCapturedStdout();
  EXPECT_EQ(location.iteration, 10);
  EXPECT_NE(log.find("[warning] " + partial.string() + ": left by an interrupted write"), std::string::npos) << log;
  EXPECT_NE(log.find("rm -rf '" + partial.string() + "'"), std::string::npos) << log;
  // Every writer into the directory reports it too.
  testing::internal::CaptureStdout();
  save(tmp.path(), "iter_0000030", "30");
  EXPECT_NE(testing::internal::GetCapturedStdout().find(partial.string() + ": left by an interrupted write"),
            std::string::npos);
}

TEST(CheckpointLayout, LocateErrors) {
  test::TempDir tmp;
  std::string root = tmp.path().string();
  EXPECT_EQ(error_of([&] { locate_checkpoint(root + "/nothing"); }), root + "/nothing: no such checkpoint directory");
  EXPECT_EQ(error_of([&] { locate_checkpoint(root); }),
            root + ": not a training checkpoint: no latest_checkpointed_iteration.txt and no checkpoint.json");
  save(tmp.path(), "iter_0000010", "10");
  test::write_text(tmp.file(kTrackerFile), "20\n");
  EXPECT_EQ(error_of([&] { locate_checkpoint(root); }),
            tmp.file(kTrackerFile) + ": names checkpoint '20', but " + tmp.file("iter_0000020") + " does not exist");
  test::write_text(tmp.file(kTrackerFile), "latest");
  EXPECT_EQ(error_of([&] { locate_checkpoint(root); }),
            tmp.file(kTrackerFile) + ": 'latest' is neither 'release' nor an iteration number");
  fs::remove(tmp.file(kTrackerFile));
  EXPECT_EQ(
      error_of([&] { locate_checkpoint(root); }),
      root +
          ": no latest_checkpointed_iteration.txt (the save did not finish?); pass one of its checkpoint directories: "
          "iter_0000010");
  fs::remove(tmp.path() / "iter_0000010" / kCheckpointInfoFile);
  EXPECT_EQ(error_of([&] { locate_checkpoint(tmp.file("iter_0000010")); }),
            tmp.file("iter_0000010") +
                ": not a training checkpoint: no latest_checkpointed_iteration.txt and no checkpoint.json");
  test::write_text(tmp.file(kTrackerFile), "10");
  EXPECT_EQ(error_of([&] { locate_checkpoint(root); }),
            tmp.file("iter_0000010") + ": no checkpoint.json: not an OmniTune checkpoint directory");
}

TEST(CheckpointLayout, LocateNamesForeignDirectories) {
  test::TempDir tmp;
  fs::create_directories(tmp.path() / "dcp");
  test::write_text(tmp.file("dcp/.metadata"), "");
  EXPECT_NE(error_of([&] { locate_checkpoint(tmp.file("dcp")); }).find("a torch DCP checkpoint (.metadata, *.distcp)"),
            std::string::npos);
  fs::create_directories(tmp.path() / "hf");
  test::write_text(tmp.file("hf/config.json"), "{}");
  test::write_text(tmp.file("hf/model.safetensors"), "");
  EXPECT_TRUE(is_hf_model_dir(tmp.file("hf")));
  EXPECT_EQ(error_of([&] { locate_checkpoint(tmp.file("hf")); }),
            tmp.file("hf") + ": a Hugging Face model directory, not a training checkpoint");
  write_checkpoint_info(tmp.file("hf"), {});  // the same files plus checkpoint.json: a training checkpoint
  EXPECT_FALSE(is_hf_model_dir(tmp.file("hf")));
  EXPECT_TRUE(is_training_checkpoint(tmp.file("hf")));
}

TEST(CheckpointLayout, CheckpointInfo) {
  test::TempDir tmp;
  write_checkpoint_info(tmp.path().string(), {"release", "model.", "x."});
  CheckpointInfo info = read_checkpoint_info(tmp.path().string());
  EXPECT_EQ(info.kind, "release");
  EXPECT_EQ(info.dcp_prefix, "model.");
  EXPECT_EQ(info.hf_prefix, "x.");
  std::string file = tmp.file(kCheckpointInfoFile);
  test::write_text(file, R"({"format": "omnitune-checkpoint", "version": 2, "kind": "training"})");
  EXPECT_EQ(error_of([&] { read_checkpoint_info(tmp.path().string()); }),
            file + ": checkpoint format version 2 is newer than this OmniTune reads (1)");
  test::write_text(file, R"({"format": "other", "version": 1, "kind": "training"})");
  EXPECT_EQ(error_of([&] { read_checkpoint_info(tmp.path().string()); }),
            file + ": not an OmniTune checkpoint (format is not 'omnitune-checkpoint')");
  test::write_text(file, R"({"format": "omnitune-checkpoint", "version": 1, "kind": "final", "extra": 1})");
  EXPECT_EQ(error_of([&] { read_checkpoint_info(tmp.path().string()); }),
            file + ": 'kind' is 'final', expected 'training' or 'release'");
  EXPECT_EQ(error_of([&] {
              write_checkpoint_info(tmp.path().string(), {"final", "", ""});
            }),
            "checkpoint kind 'final' is neither 'training' nor 'release'");
}

TEST(CheckpointLayout, TensorNamesFollowTheSeedsPrefixRule) {
  EXPECT_EQ(checkpoint_tensor_name("model.layers.0.mlp.gate.weight", "", ""), "model.layers.0.mlp.gate.weight");
  EXPECT_EQ(checkpoint_tensor_name("lm_head.weight", "model.", ""), "model.lm_head.weight");
  EXPECT_EQ(checkpoint_tensor_name("model.layers.0.mlp.gate.weight", "m.", "model."), "m.layers.0.mlp.gate.weight");
  EXPECT_EQ(checkpoint_tensor_name("visual.merger.mlp.0.weight", "m.", "mlp."), "visual.merger.m.0.weight");
  EXPECT_EQ(checkpoint_tensor_name("lm_head.weight", "m.", "model."), "lm_head.weight");
}

}  // namespace
}  // namespace omnitune
