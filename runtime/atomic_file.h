// Writing a file whole or not at all.
#pragma once

#include <cstdio>
#include <string>

namespace blurmix {

// Writes a file so that readers see either the old content or the complete new
// one: data goes to "path.tmp-XXXXXX" in the same directory and is renamed
// onto path by commit(). Destroying an uncommitted AtomicFile, or opening it
// again, removes the temporary. Errors throw Error naming the final path.
class AtomicFile {
public:
    AtomicFile() = default;
    explicit AtomicFile(const std::string &path) { open(path); }
    ~AtomicFile();
    AtomicFile(const AtomicFile &) = delete;
    AtomicFile &operator=(const AtomicFile &) = delete;

    FILE *open(const std::string &path);
    FILE *file() const { return file_; }
    const std::string &path() const { return path_; }
    void commit();

private:
    void discard();

    std::string path_, temp_;
    FILE *file_ = nullptr;
};

}  // namespace blurmix
