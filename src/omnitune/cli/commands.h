// cli/commands: one registration function per subcommand (each in its own file). Registration adds
// the subcommand's options and returns how to run it; main.cpp only dispatches.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace omnitune {

struct Subcommand {
  CLI::App* app;
  std::function<int()> run;  // exit code
};

Subcommand register_inspect(CLI::App& app);
Subcommand register_init_model(CLI::App& app);
Subcommand register_forward(CLI::App& app);
Subcommand register_generate(CLI::App& app);
Subcommand register_tokenize(CLI::App& app);
Subcommand register_data(CLI::App& app);
Subcommand register_train(CLI::App& app);
Subcommand register_convert(CLI::App& app);
Subcommand register_launch(CLI::App& app);

std::string version_text();  // revision, libtorch version, CUDA availability
const char* git_revision();  // generated at build time

}  // namespace omnitune
