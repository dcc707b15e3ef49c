#!/usr/bin/env bash
# Proves the README's quick start on a machine that has nothing: makes a clean Debian 12 (bookworm)
# root with debootstrap, puts a clean clone of the project's committed HEAD in it (and a copy of
# ../shared beside it, as CI has), and runs the two quick-start commands inside it exactly as the
# README writes them, printing each one's time and result, and the tail of its log on failure.
#
#   tools/fresh_debian_check.sh [--ref REF] [--keep] [--workdir DIR]
#
#   --ref REF      the commit to check (default HEAD); it must be committed: the check clones it
#   --keep         leave the root (and its logs) in place afterwards, for a look inside
#   --workdir DIR  where to make the root (default: a new folder under /var/tmp); logs go there too
#
# What the root gets from the host, and nothing more: the host's apt sources (the same Debian
# mirror and suites), its DNS resolver (/etc/resolv.conf) and its CA certificates (installed into
# the root's trust store, so that apt and pip reach the registries as the host does). No bind mount
# of the project, its .venv or its build, and no host Python: /proc, /sys and /dev are mounted
# because compilers and Halide read them. The root and its mounts are removed on exit, also on
# failure or Ctrl-C (unless --keep). Needs root (debootstrap, chroot, mount).
#
# Exit status: 0 when both commands pass, 1 when one fails, 2 for a usage or setup error.
set -euo pipefail

ref=HEAD
keep=0
workdir=
while (($#)); do
  case "$1" in
    --ref) ref=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --workdir) workdir=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh_debian_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

project=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh_debian_check: needs root (debootstrap, chroot, mount)" >&2
  exit 2
fi
if ! git -C "$project" rev-parse --verify -q "$ref^{commit}" >/dev/null; then
  echo "fresh_debian_check: '$ref' is not a commit of $project" >&2
  exit 2
fi
commit=$(git -C "$project" rev-parse "$ref^{commit}")
if [ "$ref" = HEAD ] && [ -n "$(git -C "$project" status --porcelain --untracked-files=no)" ]; then
  echo "fresh_debian_check: note: uncommitted changes are not checked (the check clones $commit)"
fi

if ! command -v debootstrap >/dev/null; then
  echo "fresh_debian_check: installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# The host's Debian mirror: the first URI of its main suite, from deb822 or one-line sources.
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  echo "fresh_debian_check: no Debian mirror found in the host's apt sources" >&2
  exit 2
fi

workdir=${workdir:-$(mktemp -d /var/tmp/blurmix-fresh.XXXXXX)}
mkdir -p "$workdir"
root="$workdir/root"
logs="$workdir/logs"
mkdir -p "$root" "$logs"

mounted=()
cleanup() {
  local rc=$?
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[i]}
    umount -R "$m" 2>/dev/null || umount -lR "$m" 2>/dev/null || true
  done
  if ((keep)); then
    echo "fresh_debian_check: kept $workdir (root in root/, logs in logs/)"
  elif grep -q " $root" /proc/self/mounts; then
    # Never delete through a mount.
    echo "fresh_debian_check: $root still has mounts; not deleted" >&2
  else
    rm -rf "$root"
    if ((rc == 0)); then rm -rf "$workdir"; else echo "fresh_debian_check: logs kept in $logs"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
# Each step runs as a background job in a process group of its own (job control on), which the
# script waits for: bash runs a trap only once the foreground command has ended, so a step in the
# foreground (a 10-minute build in the chroot) held off Ctrl-C or a TERM until it was done. On
# either, the running step and everything it started are ended, then cleanup unmounts.
set -m
step=0
stop() {
  if ((step > 0)); then
    kill -TERM -- "-$step" 2>/dev/null || true
    for _ in 1 2 3 4 5; do
      kill -0 -- "-$step" 2>/dev/null || break
      sleep 1
    done
    kill -KILL -- "-$step" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM

timed() {  # timed NAME LOG CMD...: runs CMD, prints its time and result, the log's tail on failure
  local name=$1 log=$2 start=$SECONDS rc=0
  shift 2
  "$@" >"$log" 2>&1 &
  step=$!
  wait "$step" || rc=$?
  step=0
  local took=$((SECONDS - start))
  if ((rc == 0)); then
    printf 'fresh_debian_check: %-16s ok      %5d s\n' "$name" "$took"
  else
    printf 'fresh_debian_check: %-16s FAILED  %5d s (exit %d); the last 40 lines of %s:\n' \
      "$name" "$took" "$rc" "$log"
    tail -n 40 "$log" | sed 's/^/  | /'
  fi
  return "$rc"
}

echo "fresh_debian_check: checking $commit in a clean Debian 12 root at $root (mirror $mirror)"

# 1. A minimal bookworm (the variant a cloud image or container starts from), with the CA store.
timed debootstrap "$logs/debootstrap.log" \
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror"

# 2. What it takes from the host: apt sources, DNS, CA certificates.
rm -f "$root"/etc/apt/sources.list
mkdir -p "$root/etc/apt/sources.list.d"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  case "$f" in *.disabled*) continue ;; esac
  cp "$f" "$root$f"
done
# A mirror pinned to a snapshot has old Valid-Until dates: the host's own apt settings on that.
for f in /etc/apt/apt.conf.d/*; do
  if grep -q 'Check-Valid-Until' "$f" 2>/dev/null; then cp "$f" "$root$f"; fi
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca-bundle.pem"
chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
# The host's bundle too, in case it carries certificates that are not files of its own.
cat "$root/etc/ssl/certs/host-ca-bundle.pem" >>"$root/etc/ssl/certs/ca-certificates.crt"

for fs in proc sys dev; do
  case $fs in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sys "$root/sys" ;;
    dev) mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev" ;;
  esac
  mounted+=("$root/$fs")
done

# 3. The project: a clean clone of the commit (no .venv, no build), ../shared beside it as in CI.
git clone -q --no-local "$project" "$root/root/blurmix"
git -C "$root/root/blurmix" checkout -q "$commit"
if [ -d "$project/../shared" ]; then
  cp -r "$project/../shared" "$root/root/shared"
fi

# 4. The README's two commands, exactly as written, as a root login shell of the new system would
# run them: a clean environment, nothing of the host's.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/blurmix && $1"
}
rc=0
timed "./build.sh demo" "$logs/demo.log" in_root "./build.sh demo" || rc=1
if ((rc == 0)); then
  for f in a_mix.png c_recovery.png c_sigma.png; do
    if [ ! -s "$root/root/blurmix/demo-out/$f" ]; then
      echo "fresh_debian_check: the demo did not write demo-out/$f"
      rc=1
    fi
  done
  grep -E '^(experiment|  |[ABCD][: ])' "$logs/demo.log" | head -n 30 | sed 's/^/  | /' || true
fi
timed "./build.sh test" "$logs/test.log" in_root "./build.sh test" || rc=1
grep -E 'tests passed|tests failed|[0-9]+ (passed|failed)' "$logs/test.log" | sed 's/^/  | /' || true

if ((rc == 0)); then
  echo "fresh_debian_check: PASSED: both quick-start commands work on a clean Debian 12 root"
else
  echo "fresh_debian_check: FAILED"
fi
exit "$rc"
