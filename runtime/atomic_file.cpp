#include "atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "image_file.h"

namespace blurmix {

using io::errno_text;
using io::fail;

namespace {

// umask() can only be read by changing it, which races with other threads
// creating files; /proc reports it without side effects.
mode_t current_umask() {
    unsigned mask = 022;
    if (FILE *f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f)) {
            if (std::sscanf(line, "Umask: %o", &mask) == 1) break;
        }
        std::fclose(f);
    }
    return mode_t(mask);
}

}  // namespace

AtomicFile::~AtomicFile() {
    discard();
}

void AtomicFile::discard() {
    if (file_) std::fclose(file_);
    file_ = nullptr;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
}

FILE *AtomicFile::open(const std::string &path) {
    discard();
    path_ = path;
    std::string temp = path + ".tmp-XXXXXX";
    int fd = ::mkstemp(temp.data());
    if (fd < 0) fail(path, "cannot create a file in its directory: " + errno_text(errno));
    temp_ = temp;
    // mkstemp creates mode 0600; give the result the mode a plain fopen would.
    ::fchmod(fd, 0666 & ~current_umask());
    file_ = fdopen(fd, "wb");
    if (!file_) {
        ::close(fd);
        discard();
        fail(path, "cannot open for writing: out of memory");
    }
    // 1 MiB writes rather than stdio's 4 KiB: a 2048x2048 float image was 4,100 write() calls.
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
    return file_;
}

void AtomicFile::commit() {
    if (!file_) fail(path_, "AtomicFile::commit without an open file");
    bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
    int e = errno;
    if (std::fclose(file_) != 0 && ok) {
        ok = false;
        e = errno;
    }
    file_ = nullptr;
    if (!ok) {
        discard();
        fail(path_, "write failed: " + errno_text(e));
    }
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
        e = errno;
        discard();
        fail(path_, "cannot replace the file: " + errno_text(e));
    }
    temp_.clear();
}

}  // namespace blurmix
