// omnitune: the command-line entry point. Each subcommand lives in its own file under cli/.
#include <iostream>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"OmniTune: fine-tuning of Qwen3-Omni in C++ on libtorch"};
  app.require_subcommand(0, 1);
  app.add_flag_callback("--version", [] {
    std::cout << omnitune::version_text();
    throw CLI::Success();
  }, "Print the git revision, the libtorch version and whether CUDA is available");
  std::string level = "info";
  app.add_option("--log-level", level, "debug, info, warn or error")->capture_default_str();
  const omnitune::Subcommand commands[] = {omnitune::register_inspect(app), omnitune::register_init_model(app),
                                           omnitune::register_forward(app), omnitune::register_tokenize(app),
                                           omnitune::register_data(app), omnitune::register_train(app),
                                           omnitune::register_convert(app)};

  try {
    app.parse(argc, argv);
    omnitune::set_log_level(omnitune::parse_log_level(level));
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    std::cout << app.help();
    return 2;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "internal error (libtorch): " << e.what_without_backtrace() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 3;
  }
}
