// SIGINT and SIGTERM in the blurmix driver: long work stops between steps and says so.
#pragma once

#include <stdexcept>

namespace blurmix {

// SIGINT and SIGTERM set a flag that long work polls (FitOptions::should_stop); a second one
// ends the process at once.
void install_interrupt_handlers();
int interrupt_signal();  // the signal received, or 0
struct Interrupted : std::runtime_error {
    int signal;
    explicit Interrupted(int sig);
};
void throw_if_interrupted();

}  // namespace blurmix
