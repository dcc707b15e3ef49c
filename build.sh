#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what is missing, builds, and runs.
#   ./build.sh demo   build, then run `blurmix demo` into demo-out/
#   ./build.sh test   build, then run the whole test suite: CTest, then the Python tests (pytest)
#   ./build.sh build  build only
# BUILD_DIR (default build), CMAKE_ARGS (extra configure flags) and EXTRA_PACKAGES (more Debian
# packages, e.g. "clang libclang-rt-14-dev" for the fuzzers) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-build}
build_dir=${BUILD_DIR:-build}

# Debian packages: compiler, libpng and zlib, ISA-L (the PNG encoder's fast deflate), CLI11, Catch2,
# OpenCL on the CPU (PoCL), python3-venv,
# python3-dev (Halide's CMake package and the Python extension need Python's headers), and for the
# Python package PyTorch (CPU; PyPI's torch for Linux brings gigabytes of CUDA), pytest and tqdm.
packages=(g++ make git python3 python3-venv python3-dev libpng-dev zlib1g-dev libisal-dev libcli11-dev catch2 nlohmann-json3-dev
          pocl-opencl-icd ocl-icd-opencl-dev python3-torch python3-numpy python3-pytest python3-tqdm
          ${EXTRA_PACKAGES:-})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "build.sh: installing ${missing[*]}"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Halide, CMake, Ninja and nanobind from PyPI, pinned, in a project-local venv made from Debian's
# Python with its packages visible (torch, pytest, tqdm). A venv made otherwise (by an older
# build.sh, from another Python) is made again.
python=/usr/bin/python3
venv_ok() {
  grep -qx 'include-system-site-packages = true' .venv/pyvenv.cfg 2>/dev/null &&
    grep -qx 'home = /usr/bin' .venv/pyvenv.cfg && .venv/bin/python -c 'import halide, torch' 2>/dev/null
}
if ! venv_ok || ! cmp -s requirements.txt .venv/requirements.txt; then
  venv_ok || "$python" -m venv --clear --system-site-packages .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  cp requirements.txt .venv/requirements.txt
fi
export PATH="$PWD/.venv/bin:$PATH"

jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$PWD/.venv/bin/python" \
  ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"
# The package as built (python/CMakeLists.txt assembles it in the build folder) on the venv's path.
if [ -d "$build_dir/python/blurmix" ]; then
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$(cd "$build_dir/python" && pwd)" > "$site/blurmix-build.pth"
  # The blurmix-dask command, as `pip install .` installs it, for this venv.
  printf '#!%s\nimport sys\nfrom blurmix.dask_cli import main\nsys.exit(main())\n' \
    "$PWD/.venv/bin/python" > .venv/bin/blurmix-dask
  chmod +x .venv/bin/blurmix-dask
fi

case "$what" in
  demo)  "$build_dir/bin/blurmix" demo --out demo-out --force ;;
  test)  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
         .venv/bin/python -m pytest tests/python -q ;;
  build) ;;
  *) echo "build.sh: unknown action '$what' (demo, test or build)" >&2; exit 2 ;;
esac
