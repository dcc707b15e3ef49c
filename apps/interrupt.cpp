#include "interrupt.h"

#include <csignal>
#include <string>

namespace blurmix {

namespace {
volatile std::sig_atomic_t received = 0;

// Only async-signal-safe work here: a flag, and the default action for a second signal.
extern "C" void on_interrupt(int sig) {
    if (received) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    received = sig;
}
}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() {
    return received;
}

Interrupted::Interrupted(int sig)
    : std::runtime_error(std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal")),
      signal(sig) {}

void throw_if_interrupted() {
    if (int sig = interrupt_signal()) throw Interrupted(sig);
}

}  // namespace blurmix
