// Running the blurmix driver from a test: its exit status and output, in a temporary directory.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#ifndef BLURMIX_DRIVER
#error "BLURMIX_DRIVER must name the blurmix executable"
#endif

namespace test {

struct Run {
    int status;  // the exit status, or 128 + the signal that ended it
    std::string out, err;
};

// Runs the driver with args (a shell word list), capturing stdout and stderr in dir.
inline Run run_driver(const std::string &args, const std::filesystem::path &dir) {
    std::filesystem::path out = dir / "stdout.txt", err = dir / "stderr.txt";
    std::string cmd = std::string(BLURMIX_DRIVER) + " " + args + " >" + out.string() + " 2>" + err.string() + " </dev/null";
    int rc = std::system(cmd.c_str());
    auto slurp = [](const std::filesystem::path &p) {
        std::ifstream f(p);
        return std::string(std::istreambuf_iterator<char>(f), {});
    };
    Run r{WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc), slurp(out), slurp(err)};
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return r;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/blurmix-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string operator/(const std::string &name) const { return (path / name).string(); }
    // The names in the directory, sorted.
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (auto &e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

// A command line the driver must refuse: exit status, and a piece of its message on stderr.
struct Refusal {
    std::string args, message;
    int status;
};

// Each refusal gives its status and message and leaves dir as it was: no output file.
inline void check_refusals(const std::vector<Refusal> &cases, const TempDir &dir) {
    const auto before = dir.listing();
    for (const Refusal &c : cases) {
        INFO("blurmix " << c.args);
        Run r = run_driver(c.args, dir.path);
        INFO("stderr: " << r.err);
        CHECK(r.status == c.status);
        CHECK(r.err.find(c.message) != std::string::npos);
        CHECK(dir.listing() == before);
    }
}

}  // namespace test
