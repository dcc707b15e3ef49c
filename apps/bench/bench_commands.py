"""The whole `blurmix` command, as a user runs it, against its own kernel and against the tools
people use to blur a picture, in one run, printing ratios:

  fit     `blurmix fit --source s.npy --target t.npy --sigma-min 3 --sigma-max 9 --iters 100
          --out DIR` at 2048x2048 against the fit's own `seconds` (its JSON; each run against its
          own, the median of those ratios) and against the same command without --out
                                                                 goal: at most 1.5x the fit alone
  blur    `blurmix blur --sigma 3` PNG to PNG and .npy to .npy, grey, 2048x2048 and 8192x8192,
          against the blur alone (the command's own --timings "compute")
  photo   a 4096x4096 RGB PNG made from a photo, sigma 3 (radius 6): `blurmix blur` against
          `vips gaussblur` (libvips-tools) and OpenCV's imread + GaussianBlur + imwrite (Debian's
          python3-opencv, in a /usr/bin/python3 subprocess), each with its peak memory (the
          child's ru_maxrss)                          goal: blurmix faster than both, in one run

Every case is a child process timed from its start to its end (os.wait4, which also gives its
peak resident memory); the cases are interleaved, each round running every case once, and the
figures are medians over the rounds. Linux counts in a child's peak memory what its parent had
mapped when it forked (exec keeps the larger of the two): the inputs are therefore made in
processes of their own, so that this script stays small, and /bin/true's figure is printed as
the floor. The anchors are optional: without vips or cv2 their rows say
"skipped" (tools/install_bench_anchors.sh installs them and the photo's package).

Usage: python3 apps/bench/bench_commands.py build/bin/blurmix [--repeats 5] [--sizes 2048,8192]
                                            [--work DIR] [--quick] [--keep]
"""
import argparse
import datetime
import json
import multiprocessing
import os
import pathlib
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

# The photo: mate-backgrounds' Elephants (a Sony RX100 IV photo, 5640x3172 JPEG), its centre
# square scaled to 4096x4096.
PHOTO_PACKAGE = "mate-backgrounds"
PHOTO_JPEG = pathlib.Path("/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg")
PHOTO_SIZE = 4096
SIGMA = 3.0
# blurmix's kernel reaches 2 sigma (radius 6 at sigma 3): vips stops where the Gaussian falls
# below min_ampl, so exp(-2) gives it the same radius; OpenCV is given the 13x13 window.
VIPS_MIN_AMPL = 0.1353
CV_KSIZE = 13
INSTALL_HINT = "install libvips-tools python3-opencv (tools/install_bench_anchors.sh)"

OPENCV_SCRIPT = """
import sys, cv2
cv2.setNumThreads({threads})
img = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
out = cv2.GaussianBlur(img, ({k}, {k}), {sigma}, borderType=cv2.BORDER_CONSTANT)
if not cv2.imwrite(sys.argv[2], out): sys.exit("imwrite failed")
"""


def write_png(path, pixels):
    """An 8-bit grey or RGB PNG from a uint8 array (rows, cols[, 3]), zlib level 1, no filter:
    for making inputs when neither vips nor cv2 is here."""
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    raw = np.zeros((h, 1 + w * (3 if colour else 1)), np.uint8)
    raw[:, 1:] = pixels.reshape(h, -1)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def photo_like(h, w, channels, seed):
    """A synthetic stand-in for a photo: smooth structure at several scales plus sensor-like noise,
    so that PNG compresses it about as it compresses a photo (not as a flat or pure-noise image)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, channels), np.float32)
    for scale, amp in ((256, 0.5), (32, 0.25), (4, 0.1)):
        coarse = rng.random(((h + scale - 1) // scale + 1, (w + scale - 1) // scale + 1, channels), np.float32)
        out += amp * np.repeat(np.repeat(coarse, scale, 0), scale, 1)[:h, :w]
    out += 0.03 * rng.standard_normal((h, w, channels), np.float32)
    out = np.clip(out / 0.85, 0, 1)
    return (out * 255 + 0.5).astype(np.uint8) if channels > 1 else (out[..., 0] * 255 + 0.5).astype(np.uint8)


def make_photo(work, size, have_vips, cv2_python):
    """The size x size RGB photo PNG and a line saying what it is."""
    path = work / "photo.png"
    if PHOTO_JPEG.exists() and (have_vips or cv2_python):
        if cv2_python:
            script = ("import cv2, sys\n"
                      "img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)\n"
                      "h, w = img.shape[:2]; s = min(h, w); y, x = (h - s) // 2, (w - s) // 2\n"
                      "img = cv2.resize(img[y:y + s, x:x + s], (int(sys.argv[3]),) * 2, interpolation=cv2.INTER_CUBIC)\n"
                      "cv2.imwrite(sys.argv[2], img)\n")
            subprocess.run([cv2_python, "-c", script, str(PHOTO_JPEG), str(path), str(size)], check=True)
        else:
            subprocess.run(["vips", "thumbnail", str(PHOTO_JPEG), str(path), str(size), "--size", "both",
                            "--crop", "centre"], check=True)
        return path, (f"a photo: {PHOTO_JPEG.name} from Debian's {PHOTO_PACKAGE}, its centre square scaled to "
                      f"{size}x{size}")
    in_child(make_synthetic_photo, path, size)
    why = f"{PHOTO_JPEG} missing (Debian {PHOTO_PACKAGE})" if not PHOTO_JPEG.exists() else "no vips or cv2 to scale it"
    return path, f"SYNTHETIC photo-like image ({why}): a fallback, not a photo"


class Case:
    """One command, run once per round (run_case): its wall times and peak memory, and what it
    printed last."""

    def __init__(self, name, argv, out=None, env=None):
        self.name, self.argv, self.out, self.env = name, argv, out, env
        self.seconds, self.rss_mb, self.reported, self.stderr, self.stdout = [], [], [], "", ""

    def median(self):
        return statistics.median(self.seconds)

    def timings(self):
        """The phases the command printed with --timings, from its last run."""
        for line in self.stderr.splitlines():
            if line.startswith("timings:"):
                parts = line[len("timings:"):].split(",")
                return {p.split()[0]: float(p.split()[1]) for p in parts}
        return {}


def run_case(case):
    """Runs the case once. The child's output goes to files and the parent waits with os.wait4
    alone (Popen.communicate would reap the child itself, and its rusage with it)."""
    if case.out:
        if case.out.is_dir():
            shutil.rmtree(case.out)
        elif case.out.exists():
            case.out.unlink()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(case.argv, stdout=out, stderr=err, env=case.env)
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # so that Popen does not wait again
        out.seek(0)
        err.seek(0)
        case.stdout, case.stderr = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"{case.name}: exit {p.returncode}: {' '.join(map(str, case.argv))}\n{case.stderr[-2000:]}")
    case.seconds.append(elapsed)
    case.rss_mb.append(usage.ru_maxrss / 1024)
    if case.stdout.startswith("{"):  # a fit's JSON: its own seconds
        case.reported.append(json.loads(case.stdout.strip().splitlines()[-1])["seconds"])


def in_child(fn, *args):
    """fn(*args) in a forked process, so that its arrays never count in this one's size (and so
    in the peak memory of the commands it starts)."""
    p = multiprocessing.get_context("fork").Process(target=fn, args=args)
    p.start()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"making the inputs failed ({fn.__name__}{args})")


def make_fit_source(path, size):
    np.save(path, photo_like(size, size, 1, 1).astype(np.float32) / 255)


def make_synthetic_photo(path, size):
    write_png(path, photo_like(size, size, 3, 7))


def make_grey(png, npy, size):
    grey = photo_like(size, size, 1, size)
    write_png(png, grey)
    np.save(npy, grey.astype(np.float32) / 255)


def cv2_python():
    """A Python that can import cv2 (Debian's python3-opencv is for /usr/bin/python3), or None."""
    for py in ("/usr/bin/python3", sys.executable):
        if py and subprocess.run([py, "-c", "import cv2"], capture_output=True).returncode == 0:
            return py
    return None


def tool_versions(have_vips, cv2_py):
    versions = []
    if have_vips:
        versions.append(subprocess.run(["vips", "--version"], capture_output=True, text=True).stdout.strip())
    if cv2_py:
        v = subprocess.run([cv2_py, "-c", "import cv2; print(cv2.__version__)"], capture_output=True, text=True)
        versions.append("OpenCV " + v.stdout.strip())
    return ", ".join(versions)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("blurmix", type=pathlib.Path, help="the built blurmix binary")
    ap.add_argument("--repeats", type=int, default=5, help="rounds; every case runs once a round")
    ap.add_argument("--sizes", default="2048,8192", help="square sizes of the blur cases")
    ap.add_argument("--work", type=pathlib.Path, help="folder for the inputs and outputs (default: a temporary one)")
    ap.add_argument("--quick", action="store_true", help="small sizes and 1 round: a check, not a measurement")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--only", default="fit,blur,photo", help="which groups to run (fit, blur, photo)")
    args = ap.parse_args()
    blurmix = str(args.blurmix.resolve())
    if not os.access(blurmix, os.X_OK):
        sys.exit(f"{args.blurmix}: not an executable (build it: cmake --build build)")
    sizes = [int(s) for s in args.sizes.split(",")]
    fit_size, fit_iters, photo_size = 2048, 100, PHOTO_SIZE
    if args.quick:
        sizes, fit_size, fit_iters, photo_size, args.repeats = [256], 256, 10, 512, 1
    groups = set(args.only.split(","))
    threads = os.cpu_count()
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="bench_commands."))
    work.mkdir(parents=True, exist_ok=True)

    print(f"# bench_commands, {datetime.datetime.utcnow():%d %b %Y %H:%M} UTC, {platform.node()}, "
          f"{threads} CPUs, load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    have_vips = shutil.which("vips") is not None
    cv2_py = cv2_python()
    cases = []

    # The fit: inputs made by blurmix itself (a photo-like source, its blur as the target).
    if "fit" in groups:
        src = work / "fit_source.npy"
        in_child(make_fit_source, src, fit_size)
        tgt = work / "fit_target.npy"
        subprocess.run([blurmix, "blur", str(src), str(tgt), "--sigma", "5", "--force"], check=True)
        fit_argv = [blurmix, "fit", "--source", str(src), "--target", str(tgt), "--sigma-min", "3", "--sigma-max",
                    "9", "--iters", str(fit_iters), "--json", "--quiet"]
        fit_help = subprocess.run([blurmix, "fit", "--help"], capture_output=True, text=True).stdout
        if "--timings" in fit_help:  # older builds have no phases to print
            fit_argv.append("--timings")
        fit_dir = work / "fit_out"
        cases += [Case(f"fit {fit_size} x{fit_iters} --out", fit_argv + ["--out", str(fit_dir)], out=fit_dir),
                  Case(f"fit {fit_size} x{fit_iters} no --out", fit_argv)]

    # The blur, grey, PNG to PNG and .npy to .npy.
    if "blur" in groups:
        for n in sizes:
            png, npy = work / f"grey_{n}.png", work / f"grey_{n}.npy"
            in_child(make_grey, png, npy, n)
            for kind, src in (("png", png), ("npy", npy)):
                out = work / f"grey_{n}_blurred.{kind}"
                cases.append(Case(f"blur {n} {kind}->{kind}", [blurmix, "blur", str(src), str(out), "--sigma",
                                                               str(SIGMA), "--timings", "--force"], out=out))

    # The photo against vips and OpenCV.
    photo_note = ""
    if "photo" in groups:
        photo, photo_note = make_photo(work, photo_size, have_vips, cv2_py)
        out = work / "photo_blurmix.png"
        cases.append(Case("photo: blurmix blur", [blurmix, "blur", str(photo), str(out), "--sigma", str(SIGMA),
                                                   "--timings", "--force"], out=out))
        if have_vips:
            out = work / "photo_vips.png"
            cases.append(Case("photo: vips gaussblur", ["vips", "gaussblur", str(photo), str(out), str(SIGMA),
                                                         "--min-ampl", str(VIPS_MIN_AMPL)], out=out))
        if cv2_py:
            out = work / "photo_opencv.png"
            cases.append(Case("photo: OpenCV imread+GaussianBlur+imwrite",
                              [cv2_py, "-c", OPENCV_SCRIPT.format(threads=threads, k=CV_KSIZE, sigma=SIGMA),
                               str(photo), str(out)], out=out))

    floor = Case("/bin/true (the floor of peak MB)", ["/bin/true"])
    cases.append(floor)
    # Warm-up: every case once (page cache, the binaries' pages), not counted.
    for case in cases:
        run_case(case)
        case.seconds.clear()
        case.rss_mb.clear()
    for r in range(args.repeats):
        # Each round in another order, so that no case always follows the same one.
        order = cases[r % len(cases):] + cases[:r % len(cases)]
        for case in order:
            run_case(case)
        print(f"  round {r + 1}/{args.repeats} done", file=sys.stderr)
    print(f"# load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; medians of {args.repeats} rounds")

    by_name = {c.name: c for c in cases}
    print("\n| case | median s | min s | peak MB | against | ratio |")
    print("|---|---:|---:|---:|---|---:|")

    def row(case, against="", ratio=None):
        r = f"{ratio:.2f}x" if ratio is not None else ""
        print(f"| {case.name} | {case.median():.3f} | {min(case.seconds):.3f} | {max(case.rss_mb):.0f} | "
              f"{against} | {r} |")

    if "fit" in groups:
        whole, bare = by_name[f"fit {fit_size} x{fit_iters} --out"], by_name[f"fit {fit_size} x{fit_iters} no --out"]
        for c in (whole, bare):
            fit_s = statistics.median(c.reported)
            t = c.timings()
            phases = f"; read {t['read']:.3f}, write {t['write']:.3f}, last run" if t else ""
            # Each run over its own fit, then the median: the fit's time moves from run to run
            # (fresh memory on a VM) more than the rest of the command does.
            per_run = statistics.median(s / f for s, f in zip(c.seconds, c.reported))
            row(c, f"the fit's own seconds in the same run (median {fit_s:.3f}{phases}; median of the "
                   f"per-run ratios)", per_run)
        print(f"| fit: --out against no --out | | | | | {whole.median() / bare.median():.2f}x |")
    if "blur" in groups:
        for n in sizes:
            for kind in ("png", "npy"):
                c = by_name[f"blur {n} {kind}->{kind}"]
                t = c.timings()
                row(c, f"its blur alone ({t.get('compute', float('nan')):.3f} s; read {t.get('read', 0):.3f}, "
                       f"write {t.get('write', 0):.3f})", c.median() / t["compute"] if t else None)
    if "photo" in groups:
        ours = by_name["photo: blurmix blur"]
        t = ours.timings()
        row(ours, f"its blur alone ({t.get('compute', float('nan')):.3f} s; read {t.get('read', 0):.3f}, "
                  f"write {t.get('write', 0):.3f})", ours.median() / t["compute"] if t else None)
        for name in ("photo: vips gaussblur", "photo: OpenCV imread+GaussianBlur+imwrite"):
            if name in by_name:
                row(by_name[name], "blurmix blur (theirs / ours: > 1 is blurmix faster)",
                    by_name[name].median() / ours.median())
        if not have_vips or not cv2_py:
            missing = [n for n, ok in (("vips", have_vips), ("cv2", cv2_py)) if not ok]
            print(f"\nskipped: {' and '.join(missing)} not found: {INSTALL_HINT}")
        print(f"\nPhoto: {photo_note}; sigma {SIGMA:g}, radius 6 (vips --min-ampl {VIPS_MIN_AMPL}, OpenCV "
              f"{CV_KSIZE}x{CV_KSIZE}, zero border), 8-bit RGB PNG in and out.")
        versions = tool_versions(have_vips, cv2_py)
        if versions:
            print(f"Anchors: {versions}; vips at its default precision (integer for 8-bit input), OpenCV's 8-bit "
                  f"GaussianBlur with {threads} threads; each PNG written at the tool's default compression.")
    print(f"Times are whole processes (start to exit, os.wait4); peak MB is the child's ru_maxrss, of which "
          f"{max(floor.rss_mb):.0f} MB (/bin/true's) is this script's own size at the fork.")
    if not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
