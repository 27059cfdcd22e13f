#!/usr/bin/env bash
# The container image's root filesystem, without Docker (ctest: runtime_rootfs):
# assembles it from BINARY with the Dockerfile's own scripts/runtime-rootfs
# command, then checks that
#   - it holds exactly /elector and the files `ldd BINARY` names (loader
#     included), all regular files, none world-writable, no /bin/sh;
#   - a second run into the same directory gives the same files;
#   - `chroot --userspec=65532:65532 ROOTFS /elector --version` (the image's
#     ENTRYPOINT and USER, empty environment) prints "elector ...".
# Needs root (chroot, mount); CI runs as root.
#   runtime_rootfs_test.sh BINARY
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: runtime_rootfs_test.sh BINARY" >&2; exit 2; }
binary=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL: runtime_rootfs_test.sh must run as root (chroot --userspec and mount need it); CI runs as root" >&2
  exit 1
fi
chroot_bin=$(command -v chroot) || { echo "FAIL: chroot not found (coreutils)" >&2; exit 1; }
fail=0
err() { echo "FAIL: $*"; fail=1; }

tmp=$(mktemp -d)
rootfs=$tmp/rootfs
cleanup() {
  if mountpoint -q "$rootfs/proc" 2>/dev/null; then
    umount "$rootfs/proc" || { echo "FAIL: cannot unmount $rootfs/proc; left $tmp in place" >&2; exit 1; }
  fi
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# The Dockerfile's "RUN scripts/runtime-rootfs BINARY DIR", with this test's
# binary and directory; its runtime stage must copy that DIR to / and run
# /elector as 65532:65532.
read -r _ script image_binary image_dir rest < <(grep -E '^RUN +scripts/runtime-rootfs ' "$root/Dockerfile") ||
  { echo "FAIL: no 'RUN scripts/runtime-rootfs BINARY DIR' line in the Dockerfile" >&2; exit 1; }
[ -z "$rest" ] || err "Dockerfile: unexpected arguments after $script $image_binary $image_dir: $rest"
grep -qxF "COPY --from=build $image_dir/ /" "$root/Dockerfile" || err "Dockerfile: no 'COPY --from=build $image_dir/ /'"
grep -qxF 'USER 65532:65532' "$root/Dockerfile" || err "Dockerfile: no 'USER 65532:65532'"
grep -qxF 'ENTRYPOINT ["/elector"]' "$root/Dockerfile" || err "Dockerfile: no 'ENTRYPOINT [\"/elector\"]'"

echo "== $script $binary ROOTFS (the Dockerfile runs: $script $image_binary $image_dir)"
"$root/$script" "$binary" "$rootfs" || { echo "FAIL: $script exited $?" >&2; exit 1; }

echo "== the root filesystem holds /elector and the files ldd names, nothing else"
{
  echo elector
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print substr($3, 2) } $1 ~ /^\// { print substr($1, 2) }'
} | sort -u >"$tmp/want"
(cd "$rootfs" && find . -mindepth 1 ! -type d | sed 's|^\./||' | sort) >"$tmp/have"
if diff -u --label 'elector + ldd' --label 'rootfs' "$tmp/want" "$tmp/have"; then
  echo "  ok: $(wc -l <"$tmp/have") files: $(tr '\n' ' ' <"$tmp/have" | head -c 160)..."
else
  err "the root filesystem's files are not exactly /elector and ldd's list (diff above)"
fi
grep -qx 'lib64/ld-linux-x86-64.so.2\|lib/ld-linux-aarch64.so.1' "$tmp/have" || err "no dynamic loader at its absolute path"
[ -z "$(find "$rootfs" -mindepth 1 ! -type f ! -type d)" ] || err "not only regular files and directories: $(find "$rootfs" -mindepth 1 ! -type f ! -type d)"
[ -z "$(find "$rootfs" ! -type l -perm -o+w)" ] || err "world-writable: $(find "$rootfs" ! -type l -perm -o+w)"
[ ! -e "$rootfs/bin/sh" ] && [ ! -e "$rootfs/usr/bin/sh" ] || err "the root filesystem has a shell"
[ -x "$rootfs/elector" ] || err "/elector is not executable"

echo "== a second run into the same directory"
"$root/$script" "$binary" "$rootfs" >/dev/null
(cd "$rootfs" && find . -mindepth 1 ! -type d | sed 's|^\./||' | sort) >"$tmp/again"
diff -u "$tmp/have" "$tmp/again" && echo "  ok: the same files" || err "the second run changed the file list"

echo "== chroot --userspec=65532:65532 ROOTFS /elector --version"
# A sanitizer runtime (CI builds elector with ASan and UBSan) reads
# /proc/self/maps at startup and dies without it; a container always has
# /proc, mounted by the runtime. So, for a sanitizer build only, /proc is
# bind-mounted into the root filesystem for the run (and unmounted by the trap).
if grep -qE '^lib(.*/)?lib(asan|ubsan|tsan|lsan)\.so' "$tmp/want"; then
  echo "  (sanitizer build: /proc bind-mounted, as the container runtime would mount it)"
  mkdir "$rootfs/proc"
  mount --bind /proc "$rootfs/proc"
fi
rc=0
out=$(env -i "$chroot_bin" --userspec=65532:65532 "$rootfs" /elector --version 2>&1) || rc=$?
if [ "$rc" -eq 0 ] && [[ "$out" == "elector "* ]]; then
  echo "  ok: $out"
else
  err "/elector --version in the chroot: exit $rc, output: $out"
fi

[ "$fail" -eq 0 ] && echo PASS || echo FAILED
exit "$fail"
