// blurmix: the command-line driver. Exit status 0 on success, 1 on a refused input or a failed
// run (with a message on stderr naming the problem), 2 on a bad command line, 128 + the signal
// after SIGINT or SIGTERM (a fit then writes the state it reached).
// The subcommands are in their own files (command.h); the options they share in options.h.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <vector>

#include "blurmix.h"
#include "command.h"
#include "driver.h"
#include "interrupt.h"

namespace blurmix {

int run_command_line(int argc, const char *const *argv, bool parse_only) {
    CLI::App cli{"blurmix: an adaptive Gaussian blur that mixes a small and a large blur with "
                 "per-pixel or global weights, and fits those weights to a target."};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", "blurmix 0.1.0");
    std::vector<std::unique_ptr<Command>> commands;
    for (auto add : {add_blur_command, add_mix_command, add_fit_command, add_eval_command, add_demo_command}) {
        commands.push_back(add(cli));
    }

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --version
        std::string names;  // "blur, mix, ... or demo"
        bool known = false;
        for (size_t i = 0; i < commands.size(); i++) {
            names += (i == 0 ? "" : i + 1 == commands.size() ? " or " : ", ") + commands[i]->app->get_name();
            known = known || (argc > 1 && commands[i]->app->get_name() == argv[1]);
        }
        if (argc > 1 && argv[1][0] != '-' && !known) {
            std::cerr << "blurmix: unknown command '" << argv[1] << "' (" << names << ")\n";
        } else {
            cli.exit(e);
        }
        return 2;
    }
    try {
        for (const auto &command : commands) {
            if (!*command->app) continue;
            command->resolve();
            return parse_only ? 0 : command->run();
        }
    } catch (const Interrupted &e) {
        std::cerr << "blurmix: " << e.what() << "; nothing more written" << std::endl;
        return 128 + e.signal;
    } catch (const std::exception &e) {
        std::cerr << "blurmix: error: " << e.what() << std::endl;
        return 1;
    }
    return 2;
}

}  // namespace blurmix

#ifndef BLURMIX_NO_MAIN
int main(int argc, char **argv) {
    blurmix::install_interrupt_handlers();
    return blurmix::run_command_line(argc, argv);
}
#endif
