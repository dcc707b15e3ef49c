#!/usr/bin/env bash
# Installs what apps/bench/bench_commands.py compares `blurmix blur` against, from Debian 12
# (bookworm), pinned to bookworm's upstream versions (any Debian revision of them, so that a
# security update does not break the pin): `vips gaussblur` (libvips-tools), OpenCV's Python
# bindings for /usr/bin/python3 (python3-opencv), and the photo the benchmark blurs (a JPEG in
# mate-backgrounds). Optional: the build and the tests need none of them (build.sh does not
# install them). Run as root or with sudo.
set -euo pipefail
packages=('libvips-tools=8.14.*' 'python3-opencv=4.6.0*' 'mate-backgrounds=1.26.*')
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
