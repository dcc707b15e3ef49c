#include "driver_io.h"

#include <exception>
#include <filesystem>
#include <future>
#include <unistd.h>

namespace fs = std::filesystem;

namespace blurmix {

static std::string extension(const std::string &path) {
    return fs::path(path).extension().string();
}

Image load_input(const std::string &path, const InputOptions &in) {
    Image img = load_image(path, in.limits);
    check_finite(img, path);
    if (in.linear && sniff_format(path) == FileFormat::png) srgb_to_linear(img);
    return img;
}

Map load_input_map(const std::string &path, const InputOptions &in) {
    return load_map(path, in.limits);
}

void save_output(const std::string &path, const Image &img, const InputOptions &in) {
    if (!in.linear || extension(path) != ".png") return save_image(path, img);
    Image encoded = img.copy();
    linear_to_srgb(encoded);
    save_image(path, encoded);
}

void check_output_path(const std::string &path) {
    const std::string ext = extension(path);
    if (ext != ".png" && ext != ".npy") {
        throw Error(path + ": output must end in .png or .npy, not '" + ext + "'");
    }
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(path + ": directory " + dir.string() + " does not exist");
    if (access(dir.c_str(), W_OK) != 0) throw Error(path + ": directory " + dir.string() + " is not writable");
    if (fs::is_directory(path, ec)) throw Error(path + ": is a directory");
}

void check_new_output(const std::string &path, bool force) {
    std::error_code ec;
    if (!force && fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec) {
        throw Error(path + ": exists; pass --force to replace it");
    }
}

void prepare_output_dir(const std::string &dir, const std::vector<std::string> &names, bool force) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create the output directory: " + ec.message());
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
    AtomicFile probe;  // removed again: never committed
    try {
        probe.open(dir + "/.blurmix-write-test");
    } catch (const Error &) {
        throw Error(dir + ": the output directory is not writable");
    }
    for (const std::string &name : names) check_new_output(dir + "/" + name, force);
}

void run_concurrently(const std::vector<std::function<void()>> &tasks) {
    std::vector<std::future<void>> running;
    for (const auto &t : tasks) running.push_back(std::async(std::launch::async, t));
    std::exception_ptr first;
    for (auto &r : running) {
        try {
            r.get();
        } catch (...) {
            if (!first) first = std::current_exception();
        }
    }
    if (first) std::rethrow_exception(first);
}

}  // namespace blurmix
