// Hostile input through the driver as a user runs it: a corpus of bad files made here (cut at every
// PNG chunk boundary, bit flips, huge declared sizes, wrong magic, empty files, a directory, a FIFO)
// must each get a clean error naming the file, exit status 1 (never a crash: < 128), and no output
// file; outputs are never replaced without --force; --linear; an interrupted fit.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <png.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "png_writer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

extern char **environ;

namespace {

struct Dir {
    fs::path path;
    explicit Dir(const char *tag) {
        std::string t = (fs::temp_directory_path() / (std::string("blurmix-") + tag + "-XXXXXX")).string();
        REQUIRE(mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~Dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string &name) const { return (path / name).string(); }
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (auto &e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

std::string slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string &path, const Bytes &b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char *>(b.data()), std::streamsize(b.size()));
    REQUIRE(f.good());
}

Bytes read_bytes(const std::string &path) {
    std::string s = slurp(path);
    return Bytes(s.begin(), s.end());
}

struct Run {
    int status;  // the exit status, or 128 + the signal that ended the process
    std::string out, err;
};

// The driver with args, its stdout and stderr captured in a directory of their own (not the
// one whose listing a test watches).
Run run_driver(const std::string &args) {
    static Dir logs("logs");
    std::string out = logs / "stdout", err = logs / "stderr";
    std::string cmd = std::string(BLURMIX_DRIVER) + " " + args + " >" + out + " 2>" + err + " </dev/null";
    int rc = std::system(cmd.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc), slurp(out), slurp(err)};
}

// A refused input: exit 1 with "blurmix: error: PATH: reason", and nothing new in dir.
void expect_refused(const std::string &args, const std::string &path, const Dir &dir) {
    const auto before = dir.listing();
    Run r = run_driver(args);
    INFO("blurmix " << args << "\nstderr: " << r.err);
    CHECK(r.status < 128);
    CHECK(r.status == 1);
    CHECK(r.err.find("blurmix: error: " + path + ": ") != std::string::npos);
    CHECK(dir.listing() == before);
}

// A PNG with several chunks: gAMA, tEXt, Adam7 interlacing and IDAT split into small chunks.
Bytes chunky_png(const std::string &path) {
    test::RawPng p{24, 20, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7};
    p.rows.assign(p.height, Bytes(p.width * 3));
    for (int y = 0; y < p.height; y++)
        for (int x = 0; x < p.width * 3; x++) p.rows[y][x] = (unsigned char)((x * 37 + y * 101) ^ (x * y));
    p.gamma = 1 / 2.2;
    p.comment = "a test picture";
    p.idat_bytes = 256;
    test::write_raw_png(path, p);
    return read_bytes(path);
}

// Where each chunk starts, and the end of the last one.
std::vector<size_t> chunk_starts(const Bytes &png) {
    std::vector<size_t> at;
    for (size_t pos = 8; pos + 8 <= png.size();) {
        at.push_back(pos);
        pos += 12 + (size_t(png[pos]) << 24 | size_t(png[pos + 1]) << 16 | size_t(png[pos + 2]) << 8 | png[pos + 3]);
    }
    return at;
}

void append_chunk(Bytes &out, const char *type, const Bytes &data) {
    const uint32_t n = uint32_t(data.size());
    for (int s = 24; s >= 0; s -= 8) out.push_back((unsigned char)(n >> s));
    Bytes body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    out.insert(out.end(), body.begin(), body.end());
    const uint32_t crc = uint32_t(crc32(0, body.data(), uInt(body.size())));
    for (int s = 24; s >= 0; s -= 8) out.push_back((unsigned char)(crc >> s));
}

// A PNG declaring width x height RGB, with a token IDAT: the size alone must get it refused.
Bytes png_declaring(uint32_t width, uint32_t height) {
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr;
    for (uint32_t v : {width, height})
        for (int s = 24; s >= 0; s -= 8) ihdr.push_back((unsigned char)(v >> s));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    append_chunk(png, "IHDR", ihdr);
    append_chunk(png, "IDAT", {0x78, 0x9c, 0x03, 0x00});
    append_chunk(png, "IEND", {});
    return png;
}

Bytes npy_declaring(int major, const std::string &shape, size_t floats, uint32_t header_len = 0) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }\n";
    Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    uint32_t n = header_len ? header_len : uint32_t(header.size());
    for (int i = 0; i < (major == 1 ? 2 : 4); i++) out.push_back((unsigned char)(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.resize(out.size() + floats * 4, 0);
    return out;
}

bool loads(const std::string &path) {
    try {
        blurmix::load_image(path);
        return true;
    } catch (const blurmix::Error &) {
        return false;
    }
}

}  // namespace

TEST_CASE("hardening: a PNG cut at every chunk boundary is refused by the driver", "[hardening]") {
    Dir d("cut");
    Dir scratch("scratch");
    const Bytes png = chunky_png(scratch / "good.png");
    const std::vector<size_t> starts = chunk_starts(png);
    REQUIRE(starts.size() >= 6);  // IHDR gAMA tEXt IDAT... IEND
    REQUIRE(starts.back() + 12 == png.size());
    Run ok = run_driver("blur " + scratch / "good.png " + scratch / "good-out.npy --sigma 1");
    REQUIRE(ok.status == 0);

    std::vector<size_t> cuts = {0, 1, 7, 8};
    for (size_t s : starts) {
        for (size_t off : {size_t(0), size_t(4), size_t(8), size_t(10)}) {
            if (s + off > 8 && s + off < png.size()) cuts.push_back(s + off);
        }
    }
    cuts.push_back(png.size() - 1);
    for (size_t cut : cuts) {
        const std::string bad = scratch / ("cut" + std::to_string(cut) + ".png");
        write_bytes(bad, Bytes(png.begin(), png.begin() + std::ptrdiff_t(cut)));
        INFO("cut at " << cut << " of " << png.size());
        expect_refused("blur " + bad + " " + d / "out.png --sigma 1", bad, d);
    }
    // Both inputs of a fit, and a weight map.
    const std::string bad = scratch / ("cut" + std::to_string(starts[3]) + ".png");
    expect_refused("fit --source " + bad + " --target " + scratch / "good.png --sigma-min 1 --sigma-max 3 --out " +
                       d / "fit", bad, d);
    expect_refused("fit --source " + scratch / "good.png --target " + bad + " --sigma-min 1 --sigma-max 3 --out " +
                       d / "fit", bad, d);
    expect_refused("mix " + scratch / "good.png " + d / "mix.png --sigma-min 1 --sigma-max 3 --weights " + bad, bad, d);
}

TEST_CASE("hardening: bit flips in PNG and npy files", "[hardening]") {
    Dir d("flip");
    Dir scratch("scratch");
    SECTION("every flip in a PNG breaks a CRC or the signature and is refused") {
        const Bytes png = chunky_png(scratch / "good.png");
        for (size_t i = 0; i < png.size(); i += 5) {
            Bytes b = png;
            b[i] ^= (unsigned char)(1u << (i % 8));
            const std::string bad = scratch / ("flip" + std::to_string(i) + ".png");
            write_bytes(bad, b);
            INFO("bit " << i % 8 << " of byte " << i);
            expect_refused("blur " + bad + " " + d / "out.png --sigma 1", bad, d);
        }
    }
    SECTION("a flip in an npy header: the driver does what the loader does, and most are refused") {
        blurmix::save_npy(scratch / "good.npy", test::random_image(6, 5, 2, 7));
        const Bytes npy = read_bytes(scratch / "good.npy");
        const size_t header_end = 10 + (npy[8] | npy[9] << 8);
        int refused = 0, total = 0;
        for (size_t i = 0; i < header_end; i++) {
            Bytes b = npy;
            b[i] ^= (unsigned char)(1u << ((i * 3) % 8));
            const std::string bad = scratch / ("flip" + std::to_string(i) + ".npy");
            write_bytes(bad, b);
            INFO("bit " << (i * 3) % 8 << " of byte " << i);
            total++;
            if (!loads(bad)) {
                refused++;
                expect_refused("blur " + bad + " " + d / "out.npy --sigma 1", bad, d);
            } else {
                Run r = run_driver("blur " + bad + " " + d / "out.npy --sigma 1");
                CHECK(r.status == 0);
                CHECK(fs::exists(d / "out.npy"));
                fs::remove(d / "out.npy");
            }
        }
        // Flips in the padding after '}' are harmless; everything before it is structure.
        CHECK(refused > total / 2);
    }
}

TEST_CASE("hardening: huge declared sizes, wrong magic, empty files and non-files", "[hardening]") {
    Dir d("odd");
    Dir scratch("scratch");
    struct Bad {
        std::string name;
        Bytes content;
        std::string reason;
    };
    const Bytes zeros(64, 0);
    const std::vector<Bad> files = {
        {"max.png", png_declaring(0x7fffffffu, 0x7fffffffu), "user limit"},
        {"wide.png", png_declaring(1u << 29, 1), "user limit"},
        {"big.png", png_declaring(30000, 30000), "exceeds the limit of 268435456 pixels"},
        {"zero.png", png_declaring(0, 10), "bad PNG"},
        {"square.npy", npy_declaring(1, "(1000000, 1000000)", 1), "limit of 268435456 pixels"},
        {"many.npy", npy_declaring(1, "(20000, 20000)", 1), "exceeds the limit of 268435456 pixels"},
        {"wrap.npy", npy_declaring(1, "(4294967296, 4294967296, 4)", 1), "limit"},
        {"entry.npy", npy_declaring(1, "(99999999999999999999, 1)", 1), "too large"},
        {"hdrlen.npy", npy_declaring(2, "(2, 2)", 4, 0xffffffffu), "runs past the end"},
        {"short.npy", npy_declaring(1, "(64, 64)", 100), "truncated"},
        {"magic.png", [] { Bytes b = png_declaring(4, 4); b[0] = 0x88; return b; }(), "not a PNG or .npy"},
        {"magic.npy", [] { Bytes b = npy_declaring(1, "(1, 1)", 1); b[5] = 'Z'; return b; }(), "not a PNG or .npy"},
        {"gif.png", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0}, "not a PNG or .npy"},
        {"jpeg.png", {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, "not a PNG or .npy"},
        {"zeros.npy", zeros, "not a PNG or .npy"},
        {"empty.png", {}, "empty"},
        {"version.npy", [] { Bytes b = npy_declaring(1, "(1, 1)", 1); b[6] = 9; return b; }(), "version 9"},
    };
    for (const Bad &b : files) {
        const std::string path = scratch / b.name;
        write_bytes(path, b.content);
        INFO(b.name);
        expect_refused("blur " + path + " " + d / "out.png --sigma 1", path, d);
        Run r = run_driver("blur " + path + " " + d / "out.png --sigma 1");
        CHECK(r.err.find(b.reason) != std::string::npos);
    }
    fs::create_directory(scratch / "folder.png");
    REQUIRE(mkfifo((scratch / "fifo.npy").c_str(), 0600) == 0);
    fs::create_symlink(scratch / "nowhere.png", scratch / "dangling.png");
    for (const char *name : {"folder.png", "fifo.npy", "dangling.png", "missing.npy"}) {
        INFO(name);
        expect_refused("blur " + scratch / name + " " + d / "out.png --sigma 1", scratch / name, d);
    }
    expect_refused("blur /dev/zero " + d / "out.png --sigma 1", "/dev/zero", d);
}

TEST_CASE("hardening: --max-pixels and --max-megabytes lower and raise the limits", "[hardening]") {
    Dir d("limits");
    Dir scratch("scratch");
    const std::string in = scratch / "in.npy";
    blurmix::save_npy(in, test::random_image(300, 200, 1, 1));
    expect_refused("blur " + in + " " + d / "out.npy --sigma 1 --max-pixels 59999", in, d);
    CHECK(run_driver("blur " + in + " " + d / "out.npy --sigma 1 --max-pixels 60000").status == 0);
    fs::remove(d / "out.npy");
    // 300 x 200 floats are 234 KiB.
    write_bytes(scratch / "tall.npy", npy_declaring(1, "(1024, 1024)", 1024 * 1024));
    expect_refused("blur " + scratch / "tall.npy " + d / "out.npy --sigma 1 --max-megabytes 3", scratch / "tall.npy", d);
    Run r = run_driver("blur " + scratch / "tall.npy " + d / "out.npy --sigma 1 --max-megabytes 4");
    INFO(r.err);
    CHECK(r.status == 0);
    fs::remove(d / "out.npy");
    // Above the defaults only when asked.
    write_bytes(scratch / "thin.npy", npy_declaring(1, "(1, 70000)", 70000));
    Run refused = run_driver("blur " + scratch / "thin.npy " + d / "out.npy --sigma 1 --max-pixels 60000");
    CHECK(refused.status == 1);
    CHECK(refused.err.find("larger than the limit of 60000x60000") != std::string::npos);
    CHECK(run_driver("blur " + scratch / "thin.npy " + d / "out.npy --sigma 1 --max-pixels 70000").status == 0);
    Run bad = run_driver("blur " + in + " " + d / "out2.npy --sigma 1 --max-pixels 0");
    CHECK(bad.status == 2);
    CHECK_FALSE(fs::exists(d / "out2.npy"));
}

TEST_CASE("hardening: outputs are replaced only with --force", "[hardening]") {
    Dir d("force");
    const std::string in = d / "in.npy", out = d / "out.npy";
    blurmix::save_npy(in, test::random_image(20, 16, 1, 2));
    REQUIRE(run_driver("blur " + in + " " + out + " --sigma 1").status == 0);
    const std::string first = slurp(out);

    Run r = run_driver("blur " + in + " " + out + " --sigma 3");
    CHECK(r.status == 1);
    CHECK(r.err.find(out + ": exists; pass --force to replace it") != std::string::npos);
    CHECK((slurp(out) == first));
    r = run_driver("mix " + in + " " + out + " --sigma-min 1 --sigma-max 3 --weight 0.5");
    CHECK(r.status == 1);
    CHECK((slurp(out) == first));
    // A dangling link is somebody's too.
    fs::create_symlink(d / "elsewhere.npy", d / "link.npy");
    CHECK(run_driver("blur " + in + " " + d / "link.npy --sigma 1").status == 1);
    CHECK(fs::is_symlink(d / "link.npy"));

    r = run_driver("blur " + in + " " + out + " --sigma 3 --force");
    CHECK(r.status == 0);
    CHECK((slurp(out) != first));
    CHECK(run_driver("mix " + in + " " + out + " --sigma-min 1 --sigma-max 3 --weight 0.5 --force").status == 0);

    auto fit = [&](int iters) {
        return "fit --source " + in + " --target " + out + " --sigma-min 1 --sigma-max 3 --out " + d / "fit" +
               " --iters " + std::to_string(iters);
    };
    REQUIRE(run_driver(fit(5)).status == 0);
    const std::string weights = slurp(d / "fit/weights.npy");
    write_bytes(d / "fit/notes.txt", {'h', 'i'});
    fs::remove(d / "fit/sigma.npy");  // any one existing output is enough to refuse
    r = run_driver(fit(50));
    CHECK(r.status == 1);
    CHECK(r.err.find("exists; pass --force") != std::string::npos);
    CHECK(r.out.find("iteration") == std::string::npos);  // refused before the work
    CHECK((slurp(d / "fit/weights.npy") == weights));
    CHECK_FALSE(fs::exists(d / "fit/sigma.npy"));
    CHECK(run_driver(fit(50) + " --force").status == 0);
    CHECK((slurp(d / "fit/weights.npy") != weights));
    CHECK(slurp(d / "fit/notes.txt") == "hi");

    REQUIRE(run_driver("demo --iters 5 --out " + d / "demo").status == 0);
    const std::string sigma_png = slurp(d / "demo/c_sigma.png");
    r = run_driver("demo --iters 5 --out " + d / "demo");
    CHECK(r.status == 1);
    CHECK(r.err.find("a_mix.png: exists; pass --force") != std::string::npos);
    CHECK(run_driver("demo --iters 30 --force --out " + d / "demo").status == 0);
    CHECK((slurp(d / "demo/c_sigma.png") != sigma_png));
}

// The sRGB transfer function in double precision, from IEC 61966-2-1.
static double to_linear(double v) {
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

TEST_CASE("hardening: --linear decodes sRGB PNGs and encodes PNG outputs", "[hardening]") {
    Dir d("linear");
    // RGBA: the alpha channel is not a colour and is never converted.
    blurmix::Image in(17, 9, 4);
    in.for_each_element([&](int x, int y, int c) { in(x, y, c) = float((x * 13 + y * 29 + c * 61) % 256) / 255.f; });
    blurmix::save_png(d / "in.png", in);
    blurmix::save_npy(d / "in.npy", in);

    REQUIRE(run_driver("blur " + d / "in.png " + d / "stored.npy --sigma 1.5 --boundary clamp").status == 0);
    REQUIRE(run_driver("blur " + d / "in.png " + d / "linear.npy --sigma 1.5 --boundary clamp --linear").status == 0);
    ref::Array lin = ref::from(in);
    for (size_t i = 0; i < lin.v.size(); i++) {
        if (int(i / (size_t(lin.w) * lin.h)) < 3) lin.v[i] = to_linear(lin.v[i]);
    }
    CHECK(test::max_abs_diff(blurmix::load_image(d / "linear.npy"), ref::blur(lin, 1.5, 2, blurmix::Boundary::clamp)) < 2e-6);
    CHECK(test::max_abs_diff(blurmix::load_image(d / "stored.npy"),
                             ref::blur(ref::from(in), 1.5, 2, blurmix::Boundary::clamp)) < 2e-6);

    // .npy inputs are linear already: --linear changes nothing for them.
    REQUIRE(run_driver("blur " + d / "in.npy " + d / "npy.npy --sigma 1.5 --boundary clamp --linear").status == 0);
    CHECK(test::max_abs_diff(blurmix::load_image(d / "npy.npy"), blurmix::load_image(d / "stored.npy")) == 0);

    // A constant picture blurred with clamped edges stays constant: PNG in, PNG out, 8-bit levels kept.
    blurmix::Image grey(8, 8, 1);
    grey.fill(128 / 255.f);
    blurmix::save_png(d / "grey.png", grey);
    REQUIRE(run_driver("blur " + d / "grey.png " + d / "grey-lin.npy --sigma 2 --boundary clamp --linear").status == 0);
    REQUIRE(run_driver("blur " + d / "grey.png " + d / "grey-out.png --sigma 2 --boundary clamp --linear").status == 0);
    CHECK(blurmix::load_image(d / "grey-lin.npy")(3, 3, 0) == Approx(to_linear(128 / 255.)).epsilon(1e-5));
    blurmix::load_image(d / "grey-out.png").for_each_value([](float v) { CHECK(v == 128 / 255.f); });
    // The weight map is a map, not a picture: never converted.
    REQUIRE(run_driver("mix " + d / "grey.png " + d / "mixed.npy --sigma-min 1 --sigma-max 2 --boundary clamp --linear"
                       " --weights " + d / "grey.png").status == 0);
    CHECK(blurmix::load_image(d / "mixed.npy")(4, 4, 0) == Approx(to_linear(128 / 255.)).epsilon(1e-5));
}

namespace {

// Starts the driver with its stdout and stderr in files, returns its pid.
pid_t spawn_driver(const std::vector<std::string> &args, const std::string &out, const std::string &err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all = {BLURMIX_DRIVER};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (std::string &a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, BLURMIX_DRIVER, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    return pid;
}

// Waits up to seconds for the process; its exit status or 128 + signal, -1 on timeout (killed).
int wait_for(pid_t pid, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int st = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

TEST_CASE("hardening: an interrupted fit stops between iterations and writes what it reached", "[hardening]") {
    Dir d("interrupt");
    const blurmix::Image src = test::random_image(96, 80, 1, 11);
    blurmix::Map w(1, 1);
    w(0, 0) = 0.3f;
    blurmix::save_npy(d / "src.npy", src);
    blurmix::save_npy(d / "target.npy", blurmix::mix(blurmix::blur(src, 2.f), blurmix::blur(src, 6.f), blurmix::logits_of(w)));
    struct Case {
        int sig;
        std::vector<std::string> extra;
    };
    const int iters = 100000000;
    for (const Case &c : {Case{SIGINT, {"--mode", "local"}}, Case{SIGTERM, {"--mode", "global", "--learn-sigmas"}}}) {
        const std::string out = d / ("fit" + std::to_string(c.sig));
        std::vector<std::string> args = {"fit", "--source", d / "src.npy", "--target", d / "target.npy", "--sigma-min", "2",
                                         "--sigma-max", "6", "--iters", std::to_string(iters), "--json", "--out", out};
        args.insert(args.end(), c.extra.begin(), c.extra.end());
        const std::string so = d / "stdout", se = d / "stderr";
        pid_t pid = spawn_driver(args, so, se);
        // Interrupt once the fit is under way: after its second progress line.
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (slurp(so).find("iteration   100") == std::string::npos && std::chrono::steady_clock::now() < end &&
               waitpid(pid, nullptr, WNOHANG) == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        kill(pid, c.sig);
        const int status = wait_for(pid, 120);
        const std::string stdout_text = slurp(so), err = slurp(se);
        INFO("signal " << c.sig << "\nstderr: " << err);
        CHECK(status == 128 + c.sig);
        CHECK(err.find(std::string("interrupted by ") + (c.sig == SIGINT ? "SIGINT" : "SIGTERM") + " after ") !=
              std::string::npos);
        const std::string last = stdout_text.substr(stdout_text.rfind('\n', stdout_text.size() - 2) + 1);
        auto j = nlohmann::json::parse(last);
        CHECK(j["interrupted"] == true);
        const int done = j["iterations"].get<int>();
        CHECK(done > 100);
        CHECK(done < iters);
        CHECK(err.find("after " + std::to_string(done) + " of " + std::to_string(iters)) != std::string::npos);

        // The outputs are complete and agree with each other: the fitted image is the mix at the
        // weights written, and the sigma map their sigma.
        std::vector<std::string> names;
        for (auto &e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        CHECK(names == std::vector<std::string>{"fitted.npy", "sigma.npy", "sigma.png", "weights.npy"});
        blurmix::Map weights = blurmix::load_map(out + "/weights.npy"), sigma = blurmix::load_map(out + "/sigma.npy");
        REQUIRE(weights.width() == 96);
        REQUIRE(weights.height() == 80);
        const float s_min = j["sigma_min"].get<float>(), s_max = j["sigma_max"].get<float>();
        const blurmix::Image fitted = blurmix::load_image(out + "/fitted.npy");
        ref::Array a = ref::blur(ref::from(src), s_min), b = ref::blur(ref::from(src), s_max);
        double worst = 0, worst_sigma = 0;
        for (int y = 0; y < 80; y++) {
            for (int x = 0; x < 96; x++) {
                const double m = weights(x, y);
                worst = std::max(worst, std::abs(fitted(x, y, 0) - (m * a(x, y, 0) + (1 - m) * b(x, y, 0))));
                worst_sigma = std::max(worst_sigma, std::abs(sigma(x, y) - (m * s_min + (1 - m) * s_max)));
            }
        }
        CHECK(worst < 1e-5);
        CHECK(worst_sigma < 1e-4);
        CHECK(blurmix::load_image(out + "/sigma.png").channels() == 3);
    }
}
