// libFuzzer target for the driver's command line: the input is split at NUL and newline bytes
// into arguments, which are parsed and checked as `blurmix ARGS...` would be, without running
// anything. Any input must parse or be refused (exit status 1 or 2), never crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::vector<std::string> args{"blurmix"};
    std::string arg;
    for (size_t i = 0; i < size && args.size() < 32; i++) {
        if (data[i] == 0 || data[i] == '\n') {
            args.push_back(arg);
            arg.clear();
        } else {
            arg += char(data[i]);
        }
    }
    if (!arg.empty()) args.push_back(arg);
    std::vector<const char *> argv;
    for (const std::string &a : args) argv.push_back(a.c_str());
    int rc = blurmix::run_command_line(int(argv.size()), argv.data(), true);
    if (rc < 0 || rc > 2) std::abort();  // parse_only returns 0, 1 or 2
    return 0;
}
