#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what is missing, builds, and runs.
#   ./build.sh demo   build, then run `blurmix demo` into demo-out/
#   ./build.sh test   build, then run the whole test suite with CTest
#   ./build.sh build  build only
# BUILD_DIR (default build), CMAKE_ARGS (extra configure flags) and EXTRA_PACKAGES (more Debian
# packages, e.g. "clang libclang-rt-14-dev" for the fuzzers) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-build}
build_dir=${BUILD_DIR:-build}

# Debian packages: compiler, libpng, CLI11, Catch2, OpenCL on the CPU (PoCL), python3-venv, and
# python3-dev (Halide's CMake package looks for Python's headers: Development.Module).
packages=(g++ make git python3 python3-venv python3-dev libpng-dev libcli11-dev catch2 nlohmann-json3-dev
          pocl-opencl-icd ocl-icd-opencl-dev ${EXTRA_PACKAGES:-})
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

# Halide, CMake and Ninja from PyPI, pinned, in a project-local venv.
if ! .venv/bin/python -c 'import halide' 2>/dev/null || ! cmp -s requirements.txt .venv/requirements.txt; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  cp requirements.txt .venv/requirements.txt
fi
export PATH="$PWD/.venv/bin:$PATH"

jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"

case "$what" in
  demo)  "$build_dir/bin/blurmix" demo --out demo-out --force ;;
  test)  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" ;;
  build) ;;
  *) echo "build.sh: unknown action '$what' (demo, test or build)" >&2; exit 2 ;;
esac
