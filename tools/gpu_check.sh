#!/usr/bin/env bash
# The GPU check: one prepared run on a machine with a GPU, from a build made here.
#
#   tools/gpu_check.sh bundle [--build-dir build-gpu] [--jobs N]
#   tools/gpu_check.sh run [--device cuda|opencl] [--out DIR] [--bundle DIR] [--sizes 512,2048,8192]
#                          [--fit-sizes 2048,8192] [--budget SECONDS] [--python python3]
#
# bundle (here, where Halide is): configures and builds blurmix_tests, compare_schedules,
#   bench_fit and the blurmix command with the OpenCL and CUDA targets, the manual CPU schedule for
#   a plain x86-64 and an AVX2 CPU (the reference every GPU variant is checked against), libstdc++,
#   libgcc, libpng and zlib linked in statically, and packs them, stripped, into gpu-bundle/bin.tar.xz
#   (about 5 MB; 32 MB unpacked), with the PyTorch anchor and this script (gpu-bundle/ is ignored by
#   git: carry it). It refuses a binary that needs a shared library beyond the C library's own (the
#   GPU drivers are opened at run time by Halide's runtime); they need glibc 2.36 or newer.
#
# run (there, from the repository root): each step below under its own time limit, and all of them
#   within --budget seconds (default 480), going on past a step that fails; then a summary of each
#   step's status and the numbers the issue's goals are read from. --python: the python3 with
#   NumPy and PyTorch (the anchor, the bounds, the command's check). Everything goes to $OUT (else to
#   --out, else ./gpu-check-out): summary.txt, gpu_check.log (all that was printed), environment.txt,
#   compare_schedules.csv (every size), bench_fit.md and logs.tar.gz (each step's full log).
#   Steps, in this order (the longest last): environment (nvidia-smi -q), the device's variant
#   tests (blurmix_tests), the device's copy bandwidth and FP32 matrix rate through PyTorch (CUDA
#   only: the blur's floor), compare_schedules' blur rows at the largest size (then again with
#   Halide's device allocations reused), the fit benchmark against the seed's PyTorch loop on the
#   same GPU, the blurmix command on the device against the CPU, the Python package's CUDA tests
#   when the bundle has the package, and compare_schedules --devices cpu,DEVICE at each size.
#   Status: PASS, FAIL, SKIPPED (the step said its device or tool is absent: exit 77 or SKIPPED:),
#   TIMEOUT, NOT RUN (the budget was spent). Exit status 0 when every step passed or was skipped.
#   On the PoCL (OpenCL on the CPU) machine: run --device opencl --sizes 64,256 --fit-sizes 256.
set -uo pipefail

script_dir=$(cd "$(dirname "$0")" && pwd)
# tools/gpu_check.sh or gpu-bundle/gpu_check.sh: the repository is the folder above either.
repo=$(cd "$script_dir/.." && pwd)
what=${1:-}
[ $# -gt 0 ] && shift

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------------------------------------
# bundle
# ---------------------------------------------------------------------------------------------
bundle() {
  local build_dir=build-gpu jobs=2
  while (($#)); do
    case "$1" in
      --build-dir) build_dir=$2; shift 2 ;;
      --jobs) jobs=$2; shift 2 ;;
      *) echo "gpu_check bundle: unknown argument '$1'" >&2; exit 2 ;;
    esac
  done
  set -e
  cd "$repo"
  [ -x .venv/bin/cmake ] && export PATH="$PWD/.venv/bin:$PATH"
  local libdir=/usr/lib/x86_64-linux-gnu
  local png_a=$libdir/libpng16.a z_a=$libdir/libz.a
  for f in "$png_a" "$z_a"; do
    [ -f "$f" ] || { echo "gpu_check bundle: $f is missing (libpng-dev, zlib1g-dev)" >&2; exit 2; }
  done
  # The GPU libraries' host code and the CPU reference for any x86-64 (not "host": this
  # machine's AVX-512 need not be there). OpenCV off: its shared libraries are not there. The
  # Python package off: a shared module cannot take the static libpng (not built for PIC), and
  # it would be for this Python, not the GPU machine's. ISA-L off: Debian has no static libisal
  # (the PNG encoder then deflates with zlib).
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBLURMIX_SCHEDULES=manual -DBLURMIX_PYTHON=OFF \
    -DBLURMIX_CPU_TARGETS="x86-64-linux-avx2-avx-fma-f16c-sse41;x86-64-linux" \
    -DBLURMIX_COMPARE_TARGETS=x86-64-linux \
    -DBLURMIX_GPU_TARGETS="x86-64-linux-opencl-cl_doubles;x86-64-linux-cuda-cuda_capability_86" \
    -DCMAKE_DISABLE_FIND_PACKAGE_OpenCV=ON \
    -DPNG_LIBRARY_RELEASE="$png_a" -DZLIB_LIBRARY_RELEASE="$z_a" -DBLURMIX_ISAL=OFF \
    -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc"
  cmake --build "$build_dir" -j "$jobs" --target blurmix_tests compare_schedules bench_fit blurmix
  set +e

  local out=$repo/gpu-bundle stage
  rm -rf "$out"
  stage=$(mktemp -d)
  mkdir -p "$out" "$stage/bin"
  for b in blurmix_tests compare_schedules bench_fit blurmix; do
    strip -o "$stage/bin/$b" "$build_dir/bin/$b"
  done
  cp apps/bench/seed_torch.py "$out/"
  cp "$0" "$out/gpu_check.sh"

  # Self-contained: the C library's own shared objects only.
  local bad=0
  {
    echo "blurmix GPU bundle: commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!gpu-bundle' || echo ' (with uncommitted changes)')"
    echo "built $(date -u '+%F %T UTC') on $(uname -srm)"
    grep -E '^BLURMIX_(CPU|GPU)_TARGETS' "$build_dir/CMakeCache.txt" | sed 's/:STRING=/: /'
    for b in "$stage"/bin/*; do
      echo "$(basename "$b"): $(stat -c %s "$b") bytes, needs $(objdump -T "$b" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1) at most"
      ldd "$b" | sed 's/^/  /'
    done
  } >"$out/BUNDLE.txt"
  for b in "$stage"/bin/*; do
    if ldd "$b" | grep -vE 'linux-vdso|ld-linux|lib(c|m|dl|pthread|rt)\.so' | grep -q .; then
      echo "gpu_check bundle: $(basename "$b") needs more than the C library:" >&2
      ldd "$b" | grep -vE 'linux-vdso|ld-linux|lib(c|m|dl|pthread|rt)\.so' >&2
      bad=1
    fi
  done
  ((bad)) || tar -C "$stage" -cJf "$out/bin.tar.xz" bin
  rm -rf "$stage"
  cat "$out/BUNDLE.txt"
  if ((bad)); then
    echo "gpu_check bundle: refused (no bin.tar.xz): link those libraries statically" >&2
    return 1
  fi
  echo "gpu_check bundle: $(du -sh "$out" | cut -f1) in $out"
}

# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------

# A name that Halide's runtime opens (libcuda.so, libOpenCL.so) where the driver installs only the
# versioned one (libcuda.so.1): a link to it in $1, which goes first on LD_LIBRARY_PATH.
link_driver_library() {
  local dir=$1 name=$2 d found=
  for d in ${LD_LIBRARY_PATH//:/ } /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu \
           /usr/lib64 /lib/x86_64-linux-gnu; do
    if [ -e "$d/$name.1" ]; then found=$d/$name.1; break; fi
  done
  [ -z "$found" ] && found=$(ldconfig -p 2>/dev/null | awk -v n="$name.1" '$1 == n {print $NF; exit}')
  if [ -n "$found" ]; then
    ln -sf "$found" "$dir/$name"
    echo "$name -> $found (linked in $dir)"
  else
    echo "$name: no $name.1 found (the device will be reported absent)"
  fi
}

run() {
  local device=cuda out=${OUT:-} bundle_dir= sizes=512,2048,8192 fit_sizes=2048,8192 budget=480 python=python3
  while (($#)); do
    case "$1" in
      --device) device=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --bundle) bundle_dir=$2; shift 2 ;;
      --sizes) sizes=$2; shift 2 ;;
      --fit-sizes) fit_sizes=$2; shift 2 ;;
      --budget) budget=$2; shift 2 ;;
      --python) python=$2; shift 2 ;;
      *) echo "gpu_check run: unknown argument '$1'" >&2; exit 2 ;;
    esac
  done
  case "$device" in cuda|opencl) ;; *) echo "gpu_check run: --device cuda or opencl, not '$device'" >&2; exit 2 ;; esac
  if [ -z "$bundle_dir" ]; then
    if [ -f "$script_dir/bin.tar.xz" ]; then bundle_dir=$script_dir; else bundle_dir=$repo/gpu-bundle; fi
  fi
  bundle_dir=$(cd "$bundle_dir" 2>/dev/null && pwd) || { echo "gpu_check run: no bundle (run '$0 bundle' first)" >&2; exit 2; }
  [ -f "$bundle_dir/bin.tar.xz" ] || { echo "gpu_check run: $bundle_dir has no bin.tar.xz (run '$0 bundle' first)" >&2; exit 2; }
  out=${out:-$PWD/gpu-check-out}
  mkdir -p "$out" || exit 2
  out=$(cd "$out" && pwd)
  local work
  work=$(mktemp -d /tmp/gpu_check.XXXXXX)
  mkdir -p "$work/logs" "$work/lib"
  exec > >(tee "$out/gpu_check.log") 2>&1
  local tee_pid=$!
  # Stops before any step: the reason, also as the summary.
  give_up() {
    echo "gpu_check run: $1" | tee "$out/summary.txt"
    exec >&- 2>&-
    wait "$tee_pid"
    exit 2
  }
  # The binaries, unpacked by tar or, where tar has no xz, by Python's tarfile.
  tar -C "$work" -xJf "$bundle_dir/bin.tar.xz" 2>/dev/null || "$python" -m tarfile -e "$bundle_dir/bin.tar.xz" "$work" ||
    give_up "cannot unpack $bundle_dir/bin.tar.xz"
  if ! "$work/bin/blurmix" --help >/dev/null 2>"$work/start.err"; then
    give_up "the bundle's programs do not start here ($(ldd --version 2>&1 | head -1); they need glibc 2.36): $(head -c 600 "$work/start.err")"
  fi

  local deadline=$((SECONDS + budget))
  local -a names=() statuses=() secs=() notes=()
  local bin=$work/bin largest=${sizes##*,}
  local Device
  if [ "$device" = cuda ]; then Device=CUDA; else Device=OpenCL; fi
  export GPU_CHECK_BIN=$bin GPU_CHECK_DEVICE=$device GPU_CHECK_WORK=$work GPU_CHECK_BUNDLE=$bundle_dir
  export GPU_CHECK_REPO=$repo GPU_CHECK_PYTHON=$python PYTHONUNBUFFERED=1
  echo "gpu_check run: device $device, sizes $sizes, fit sizes $fit_sizes, budget ${budget}s; bundle $bundle_dir"
  echo "gpu_check run: $(head -1 "$bundle_dir/BUNDLE.txt" 2>/dev/null)"

  # step NAME LIMIT_S COMMAND...: runs it with its output in logs/NAME.log, under the smaller of
  # its limit and what is left of the budget; prints the log's last lines and records a status.
  step() {
    local name=$1 limit=$2 shown=${SHOW_LINES:-12}
    shift 2
    local left=$((deadline - SECONDS))
    if ((left < 10)); then
      names+=("$name"); statuses+=("NOT RUN"); secs+=(0); notes+=("the budget of ${budget}s was spent")
      echo "=== $name: NOT RUN (budget spent)"
      return
    fi
    ((limit > left)) && limit=$left
    local log=$work/logs/$name.log t0=$SECONDS rc=0
    echo "=== $name (limit ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
    local status note=
    case $rc in
      0) status=PASS ;;
      77) status=SKIPPED ;;
      124|137) status=TIMEOUT; note="stopped after ${limit}s" ;;
      *) status=FAIL; note="exit status $rc" ;;
    esac
    if [ $status = PASS ] && grep -q 'SKIPPED:' "$log"; then status=SKIPPED; fi
    [ $status = SKIPPED ] && note=$(grep -m1 -o 'SKIPPED:.*' "$log" | cut -c1-160)
    names+=("$name"); statuses+=("$status"); secs+=($((SECONDS - t0))); notes+=("$note")
    tail -n "$shown" "$log" | sed -e 's/^/    /' -e '$a\'
    echo "=== $name: $status in $((SECONDS - t0))s"
  }

  # 1. The machine, the GPU, the driver libraries, PyTorch.
  env_step() {
    local env=$GPU_CHECK_WORK/environment.txt
    {
      echo "date: $(date -u '+%F %T UTC')"
      echo "machine: $(uname -srm), $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
      free -g | head -2
      link_driver_library "$GPU_CHECK_WORK/lib" libcuda.so
      link_driver_library "$GPU_CHECK_WORK/lib" libOpenCL.so
      if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,pstate,temperature.gpu,power.draw,power.limit --format=csv
      else
        echo "no nvidia-smi here"
      fi
      "$GPU_CHECK_PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 | tail -1
    } | tee "$env"
    echo >>"$env"
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi -q >>"$env" 2>&1
    elif command -v clinfo >/dev/null; then
      clinfo >>"$env" 2>&1
    fi
    if [ "$GPU_CHECK_DEVICE" = cuda ] && ! command -v nvidia-smi >/dev/null; then
      echo "SKIPPED: no nvidia-smi: no NVIDIA driver here"
      exit 77
    fi
    exit 0
  }
  export -f env_step link_driver_library
  step environment 30 bash -c env_step
  cp "$work/environment.txt" "$out/environment.txt" 2>/dev/null
  export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

  # 2. Every variant of the device against the manual CPU schedule, to 1e-5 (tests/test_variants.cpp).
  # --warn NoTests: a name that matches no test fails rather than passing empty.
  step variant_tests 150 "$bin/blurmix_tests" "every $Device schedule agrees with the manual CPU schedule" --durations yes \
    --warn NoTests

  # 3. The device's bounds: device-to-device copy bandwidth (bytes read + written) and the FP32
  # rate of a matrix product with TF32 off, then the blur's floor at the largest size, sigma 9.
  cat >"$work/bounds.py" <<'EOF'
import json, math, statistics, sys
import torch
if not torch.cuda.is_available():
    print("SKIPPED: torch sees no CUDA device"); sys.exit(77)
dev = torch.device("cuda")
def timed(fn, reps):
    for _ in range(3): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize()
        ts.append(a.elapsed_time(b) / 1e3)
    return statistics.median(ts), min(ts), max(ts)
src = torch.randn(1 << 29, device=dev)  # 2 GiB: far past the L2
dst = torch.empty_like(src)
t_copy, lo, hi = timed(lambda: dst.copy_(src), 20)
assert torch.equal(dst, src), "the copy differs"
bw = 2 * src.numel() * 4 / t_copy
del src, dst
torch.backends.cuda.matmul.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
m = 8192
A, B = torch.randn(m, m, device=dev), torch.randn(m, m, device=dev)
t_mm, _, _ = timed(lambda: A @ B, 10)
fp32 = 2 * m ** 3 / t_mm
n = int(sys.argv[1])
r = math.ceil(2 * 9.0)  # half width at sigma 9, 2 standard deviations
flops = (2 + 6 * r) * n * n  # the folded separable blur (compare_schedules' count)
t_dram = 2 * 4 * n * n / bw  # read the input once, write the output once
t_fp32 = flops / fp32
print(json.dumps({"gpu": torch.cuda.get_device_name(0), "copy_bytes_per_s": bw, "copy_s_median": t_copy,
                  "copy_s_min": lo, "copy_s_max": hi, "fp32_matmul_flops_per_s": fp32, "blur_size": n,
                  "blur_sigma": 9, "blur_dram_s": t_dram, "blur_fp32_s": t_fp32, "blur_floor_s": max(t_dram, t_fp32)}))
print("copy %.0f GB/s (read + write), FP32 matrix product %.1f TFLOP/s (TF32 off)" % (bw / 1e9, fp32 / 1e12))
print("blur %dx%d sigma 9 floor: DRAM %.3f ms, FP32 %.3f ms -> %.3f ms" % (n, n, t_dram * 1e3, t_fp32 * 1e3, max(t_dram, t_fp32) * 1e3))
EOF
  if [ "$device" = cuda ]; then
    step bounds 90 "$python" "$work/bounds.py" "$largest"
  else
    step bounds 5 bash -c 'echo "SKIPPED: measured through PyTorch on a CUDA device only"; exit 77'
  fi

  # 4. compare_schedules' blur rows at the largest size (each compare_schedules run is one size: a
  # run that times out loses only its own rows), with Halide's device allocations reused too.
  step "compare_${largest}_blur" 120 "$bin/compare_schedules" --devices "cpu,$device" --sizes "$largest" \
    --stages "blur sigma" --csv "$work/logs/compare_${largest}_blur.csv"
  step "compare_${largest}_blur_reuse" 60 "$bin/compare_schedules" --devices "$device" --sizes "$largest" \
    --stages "on the device" --reuse-device-allocations --csv "$work/logs/compare_${largest}_blur_reuse.csv"

  # 5. The local fit against the seed's PyTorch loop (cached blurs and re-blurred) on the same GPU.
  local torch_device=cpu
  [ "$device" = cuda ] && torch_device=cuda
  SHOW_LINES=20 step bench_fit 180 "$bin/bench_fit" --device "$device" --sizes "$fit_sizes" --iters 100 \
    --torch "$python" --anchor "$bundle_dir/seed_torch.py" --torch-device "$torch_device" --torch-iters 100
  cp "$work/logs/bench_fit.log" "$out/bench_fit.md" 2>/dev/null

  # 6. The blurmix command on the device: a blur and a fit, each against the CPU's.
  cat >"$work/command_check.py" <<'EOF'
import numpy as np, subprocess, json, os, sys
b, d = os.environ["GPU_CHECK_BIN"] + "/blurmix", os.environ["GPU_CHECK_DEVICE"]
rng = np.random.default_rng(7)
np.save("cli_src.npy", rng.random((300, 400), dtype=np.float32))
np.save("cli_tgt.npy", rng.random((300, 400), dtype=np.float32))
def run(*args):
    r = subprocess.run([b, *args], capture_output=True, text=True)
    if r.returncode != 0:
        absent = "is not available" in r.stderr
        print("SKIPPED:" if absent else "FAILED:", " ".join(args), "->", r.returncode, r.stderr.strip())
        sys.exit(77 if absent else 1)
    return r.stdout
out = {}
for dev in ("cpu", d):
    run("blur", "cli_src.npy", "cli_blur_%s.npy" % dev, "--sigma", "5", "--device", dev, "--force")
    out[dev] = json.loads(run("fit", "--source", "cli_src.npy", "--target", "cli_tgt.npy", "--sigma-min", "3",
                              "--sigma-max", "9", "--iters", "200", "--device", dev, "--json", "--quiet").splitlines()[-1])
a, g = np.load("cli_blur_cpu.npy"), np.load("cli_blur_%s.npy" % d)
diff = float(np.abs(a - g).max() / max(1.0, np.abs(a).max()))
loss_cpu, loss_dev = out["cpu"]["loss_final"], out[d]["loss_final"]
print("blur sigma 5: max rel. diff %.3g; fit x200: loss %.7g (cpu) %.7g (%s)" % (diff, loss_cpu, loss_dev, d))
ok = diff <= 1e-5 and abs(loss_dev - loss_cpu) <= 1e-3 * abs(loss_cpu)
sys.exit(0 if ok else 1)
EOF
  step blurmix_command 60 bash -c 'cd "$GPU_CHECK_WORK" && exec "$GPU_CHECK_PYTHON" command_check.py'

  # 7. The Python package's CUDA-tensor tests, when the bundle has the package.
  python_step() {
    if [ ! -d "$GPU_CHECK_REPO/tests/python" ]; then echo "SKIPPED: no tests/python in this checkout"; exit 77; fi
    if [ ! -d "$GPU_CHECK_BUNDLE/python" ]; then
      echo "SKIPPED: no gpu-bundle/python: put there the blurmix package built with CUDA for this python3 ($("$GPU_CHECK_PYTHON" -V 2>&1))"
      exit 77
    fi
    cd "$GPU_CHECK_REPO" || exit 1
    local rc=0
    PYTHONPATH="$GPU_CHECK_BUNDLE/python" "$GPU_CHECK_PYTHON" -m pytest -q tests/python -k "$GPU_CHECK_DEVICE" || rc=$?
    if [ $rc = 5 ]; then echo "SKIPPED: no test in tests/python matches '$GPU_CHECK_DEVICE'"; exit 77; fi
    exit $rc
  }
  export -f python_step
  step python_tests 90 bash -c python_step

  # 8. compare_schedules: every stage, each size its own run, last: the longest.
  local n
  for n in ${sizes//,/ }; do
    step "compare_$n" $((n >= 8192 ? 240 : n >= 2048 ? 120 : 90)) "$bin/compare_schedules" --devices "cpu,$device" \
      --sizes "$n" --csv "$work/logs/compare_$n.csv"
  done

  # Results: one CSV of every compare_schedules run, the logs, the summary.
  {
    local first=1 f
    for f in "$work"/logs/compare_*.csv; do
      [ -f "$f" ] || continue
      if ((first)); then head -1 "$f"; first=0; fi
      tail -n +2 "$f"
    done
  } >"$out/compare_schedules.csv"
  tar -C "$work" -czf "$out/logs.tar.gz" logs environment.txt 2>/dev/null

  {
    echo "gpu_check summary ($(date -u '+%F %T UTC')), device $device, $((SECONDS))s in all"
    printf '%-28s %-8s %6s  %s\n' step status seconds note
    local i
    for i in "${!names[@]}"; do
      printf '%-28s %-8s %6s  %s\n' "${names[$i]}" "${statuses[$i]}" "${secs[$i]}" "${notes[$i]}"
    done
    echo
    GPU_CHECK_LARGEST=$largest "$GPU_CHECK_PYTHON" - "$work/logs" <<'EOF' 2>&1
# The numbers the issue's goals are read from, where the steps produced them.
import csv, glob, json, os, sys
logs, d, n = sys.argv[1], os.environ["GPU_CHECK_DEVICE"], os.environ["GPU_CHECK_LARGEST"]
floor = None
try:
    for line in open(os.path.join(logs, "bounds.log")):
        if line.startswith("{"):
            b = json.loads(line)
            floor = b["blur_floor_s"] * 1e3
            print("bounds: copy %.0f GB/s, FP32 %.1f TFLOP/s; blur %dx%d sigma 9 floor %.3f ms" % (
                b["copy_bytes_per_s"] / 1e9, b["fp32_matmul_flops_per_s"] / 1e12, b["blur_size"], b["blur_size"], floor))
except OSError:
    pass
rows = []
for f in sorted(glob.glob(os.path.join(logs, "compare_*.csv"))):
    rows += [dict(r, file=os.path.basename(f)) for r in csv.DictReader(open(f))]
bad = [r for r in rows if r["status"] not in ("ok",) and not r["status"].startswith("not built")]
print("compare_schedules: %d rows, %d not ok%s" % (len(rows), len(bad), "".join(
    "\n  %s %s %s/%s: %s" % (r["stage"], r["size"], r["device"], r["schedule"], r["status"][:100]) for r in bad[:12])))
for r in rows:
    if r["stage"] == "blur sigma 9 on the device" and r["size"] == n and r["ms"]:
        ratio = " = %.2fx the floor" % (float(r["ms"]) / floor) if floor else ""
        print("blur %sx%s sigma 9 on the device, %s/%s (%s): %s ms%s" % (n, n, r["device"], r["schedule"], r["file"], r["ms"], ratio))
try:
    for line in open(os.path.join(logs, "bench_fit.log")):
        if line.startswith("| ") and " local x" in line:
            c = [x.strip() for x in line.strip().strip("|").split("|")]
            print("fit %s: blurmix %s ms, PyTorch cached %s ms (%s), re-blur %s ms (%s)" % (c[0], c[1], c[3], c[5], c[4], c[6]))
        elif "relative difference" in line:
            print("fit loss" + line.strip()[1:])
except OSError:
    pass
EOF
  } >"$out/summary.txt"
  echo
  cat "$out/summary.txt"
  echo "gpu_check run: results in $out: $(cd "$out" && ls | tr '\n' ' ')"
  rm -rf "$work"
  local s rc=0
  for s in "${statuses[@]}"; do
    case $s in FAIL|TIMEOUT|"NOT RUN") rc=1 ;; esac
  done
  exec >&- 2>&-
  wait "$tee_pid"  # the log complete before the exit
  return $rc
}

case "$what" in
  bundle) bundle "$@" ;;
  run) run "$@" ;;
  -h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
