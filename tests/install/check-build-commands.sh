#!/usr/bin/env bash
# The Dockerfile's build stage and README.md's "Building from source" block
# must run the same commands (ctest: build_commands). Checks:
#   1. the build stage's RUN commands, up to the scripts/runtime-rootfs one
#      (backslash continuations joined, split on &&, trimmed), equal the
#      README's block after the <!-- build-commands: ... --> marker, in order;
#   2. every package that block installs is one scripts/install-deps installs,
#      and it installs every package of install-deps' "# build" group except
#      the test-only GoogleTest ones (a new build dependency reaches the image);
#   3. scripts/demo runs the block's two cmake commands, exactly.
# Needs no build.  Usage: check-build-commands.sh [REPOSITORY_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
test_only=(libgtest-dev libgmock-dev)  # the tests need them; the image's build (tests off) does not
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
err() { echo "FAIL: $*"; fail=1; }

# Shell-ish lines -> one command per line: comment lines dropped, "\"
# continuations joined, split on &&, blanks squeezed and trimmed.
commands() {
  { grep -v '^[[:space:]]*#' || true; } |
    awk '{ if (sub(/\\[ \t]*$/, "")) { buf = buf $0 " "; next } print buf $0; buf = "" }
         END { if (buf != "") print buf }' |
    awk '{ n = split($0, parts, /&&/)
           for (i = 1; i <= n; i++) { s = parts[i]; gsub(/[ \t]+/, " ", s); gsub(/^ | $/, "", s); if (s != "") print s } }'
}

# 1. Dockerfile build stage: the RUN instructions between "FROM ... AS build"
# and the RUN that calls scripts/runtime-rootfs.
awk '/^[ \t]*#/ { next } { print }' "$root/Dockerfile" |
  awk '{ if (sub(/\\[ \t]*$/, "")) { buf = buf $0 " "; next } print buf $0; buf = "" }' >"$tmp/dockerfile.logical"
if ! awk '
    toupper($1) == "FROM" { in_build = (tolower($0) ~ /[ \t]as[ \t]+build[ \t]*$/); next }
    in_build && toupper($1) == "RUN" {
      if ($0 ~ /scripts\/runtime-rootfs/) { found = 1; exit }
      sub(/^[ \t]*[^ \t]+[ \t]+/, ""); print }
    END { if (!found) exit 3 }' "$tmp/dockerfile.logical" >"$tmp/dockerfile.run"; then
  err "Dockerfile: no RUN scripts/runtime-rootfs ... in a stage FROM ... AS build"
fi
commands <"$tmp/dockerfile.run" >"$tmp/dockerfile"

if ! awk '
    index($0, "<!-- build-commands:") == 1 { m = 1; next }
    m == 1 { if ($0 != "```sh") exit 4; m = 2; next }
    m == 2 { if ($0 == "```") { done = 1; exit } print }
    END { if (!done) exit 4 }' "$root/README.md" >"$tmp/readme.block"; then
  err "README.md: no <!-- build-commands: ... --> marker followed by a \`\`\`sh block"
fi
commands <"$tmp/readme.block" >"$tmp/readme"

echo "== the Dockerfile's build stage runs README.md's build commands"
if [ ! -s "$tmp/readme" ]; then
  err "README.md's build-commands block is empty"
elif diff -u --label 'README.md build-commands block' --label 'Dockerfile build stage (RUN ... up to scripts/runtime-rootfs)' \
    "$tmp/readme" "$tmp/dockerfile"; then
  sed 's/^/  ok: /' "$tmp/readme"
else
  err "the Dockerfile's build stage and README.md's build-commands block differ (diff above)"
fi

echo "== the packages they install and scripts/install-deps"
awk '/^packages=\(/ { p = 1; next } p && /^\)/ { exit } p' "$root/scripts/install-deps" >"$tmp/deps.block"
sed 's/#.*//' "$tmp/deps.block" | tr -s ' \t' '\n\n' | sed '/^$/d' | sort -u >"$tmp/deps.all"
awk '/^[ \t]*#/ { grp = ($0 ~ /^[ \t]*#[ \t]*build[ \t]*$/); next } grp' "$tmp/deps.block" |
  tr -s ' \t' '\n\n' | sed '/^$/d' | sort -u >"$tmp/deps.build"
[ -s "$tmp/deps.build" ] || err "scripts/install-deps: no '# build' group in packages=( ... )"
installs=$(grep -c '^apt-get install ' "$tmp/readme" || true)
if [ "$installs" -ne 1 ]; then
  err "README.md's build-commands block has $installs 'apt-get install' commands, want 1"
else
  grep '^apt-get install ' "$tmp/readme" | tr ' ' '\n' | sed '1,2d; /^-/d; /^$/d' | sort -u >"$tmp/apt"
  while read -r p; do
    grep -qxF "$p" "$tmp/deps.all" && echo "  ok: $p is in scripts/install-deps" ||
      err "$p is installed by the build commands but not by scripts/install-deps"
  done <"$tmp/apt"
  while read -r p; do
    printf '%s\n' "${test_only[@]}" | grep -qxF "$p" && continue
    grep -qxF "$p" "$tmp/apt" ||
      err "$p is in scripts/install-deps' build group but the build commands (and so the image) do not install it"
  done <"$tmp/deps.build"
fi

echo "== scripts/demo builds with the same cmake commands"
sed 's/[[:space:]]*>[[:space:]]*\/dev\/null[[:space:]]*$//' "$root/scripts/demo" | commands >"$tmp/demo"
cmakes=$(grep -c '^cmake ' "$tmp/readme" || true)
[ "$cmakes" -eq 2 ] || err "README.md's build-commands block has $cmakes cmake commands, want 2"
while read -r c; do
  grep -qxF -- "$c" "$tmp/demo" && echo "  ok: $c" || err "scripts/demo does not run: $c"
done < <(grep '^cmake ' "$tmp/readme")

[ "$fail" -eq 0 ] && echo "PASS" || echo "FAILED"
exit "$fail"
