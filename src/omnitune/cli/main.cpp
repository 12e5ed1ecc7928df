// omnitune: the command-line entry point. Each subcommand lives in its own file under cli/.
#include <iostream>

#include <c10/util/Exception.h>
#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

namespace {
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"OmniTune: fine-tuning of Qwen3-Omni in C++ on libtorch"};
  app.require_subcommand(0, 1);
  app.add_flag_callback(
      "--version",
      [] {
        std::cout << omnitune::version_text();
        throw CLI::Success();
      },
      "Print the git revision, the libtorch version and whether CUDA is available");
  std::string level = "info";
  app.add_option("--log-level", level, "debug, info, warn or error")->capture_default_str();
  const omnitune::Subcommand commands[] = {
      omnitune::register_inspect(app),  omnitune::register_init_model(app), omnitune::register_forward(app),
      omnitune::register_generate(app), omnitune::register_tokenize(app),   omnitune::register_data(app),
      omnitune::register_train(app),    omnitune::register_convert(app),    omnitune::register_launch(app)};

  try {
    app.parse(argc, argv);
    omnitune::set_log_level(omnitune::parse_log_level(level));
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    std::cout << app.help();
    return 2;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {  // one "error:" line and status 1, like every other error
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {  // a bug of ours: the input should have been refused with a clear error
    std::cerr << "error: internal error (libtorch; please report it): " << one_line(e.what_without_backtrace()) << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "error: internal error (please report it): " << one_line(e.what()) << "\n";
    return 3;
  }
}
