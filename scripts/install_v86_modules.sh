#!/usr/bin/env bash
# Builds Linux drivers that Debian's 686 kernel leaves out (rpmsg, ...) as
# out-of-tree modules for the v86 guest's kernel, from Debian's own kernel
# source (linux-source-6.1) and the kernel's i386 headers.
#
# Each folder of scripts/v86_modules/ is a set (see its README.md): the source
# files it needs, a Kbuild, and the modules' load order. Usage:
#
#   bash scripts/install_v86_modules.sh [SET...]     (default: every set)
#
# Needs the kit of scripts/install_v86_kit.sh (its kit.json names the kernel
# ABI the modules are built for). The packages come from Debian's archive
# through a private apt configuration (scripts/_apt.sh: the mirror is read from
# the system's apt sources; the system's apt setup is left as it was). Nothing
# is installed but gcc and make when missing.
#
# Output: $TYPED_VIRTIO_V86_MODULES (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/typed-virtio/v86-modules), outside the repo:
# <set>/*.ko and <set>/set.json; the downloaded packages stay in debs/ so that a
# changed set rebuilds without downloading again. Idempotent: a set whose
# set.json carries the hash of its folder, the kernel and this script's
# modules_version is not rebuilt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/_apt.sh
. "$here/_apt.sh"
kit=${TYPED_VIRTIO_V86_KIT:-${XDG_CACHE_HOME:-$HOME/.cache}/typed-virtio/v86-kit}
out=${TYPED_VIRTIO_V86_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/typed-virtio/v86-modules}
sets_dir=$here/v86_modules
# Bump when the way sets are built changes, so that cached sets are rebuilt.
modules_version=2

say() { echo "install_v86_modules: $*" >&2; }

[ -f "$kit/kit.json" ] || { say "no v86 kit in $kit: run scripts/install_v86_kit.sh first"; exit 1; }
abi=$(sed -n 's/.*"kernel": "\([^"]*\)".*/\1/p' "$kit/kit.json")
[ -n "$abi" ] || { say "$kit/kit.json names no kernel"; exit 1; }

sets=("$@")
if [ ${#sets[@]} -eq 0 ]; then
  for d in "$sets_dir"/*/; do sets+=("$(basename "$d")"); done
fi

set_hash() { # the set's folder, the kernel and modules_version
  local d=$sets_dir/$1
  { echo "$abi $modules_version"; cat "$d/sources" "$d/Kbuild" "$d/modules"; cat "$d"/*.c 2>/dev/null || true; } | sha256sum | cut -d' ' -f1
}

todo=()
for s in "${sets[@]}"; do
  for f in sources Kbuild modules; do
    [ -f "$sets_dir/$s/$f" ] || { say "set $s: $sets_dir/$s/$f missing"; exit 1; }
  done
  if [ -f "$out/$s/set.json" ] && grep -q "\"hash\": \"$(set_hash "$s")\"" "$out/$s/set.json"; then
    continue
  fi
  todo+=("$s")
done
[ ${#todo[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
need=()
for tool in gcc make dpkg-deb apt-get xz; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends gcc make libc6-dev xz-utils >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- the packages: the kernel's headers and the source of the same version ----
debs=$out/debs
mkdir -p "$debs"
suite=${TYPED_VIRTIO_V86_SUITE:-bookworm}
apt_private_source "$work/apt" "$suite"
# Headers for i386, the kbuild tools for the build machine (amd64).
apt_opts=("${APT_PRIVATE_OPTS[@]}" -o APT::Sandbox::User=root
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Architectures::=i386)
say "package lists ($suite)"
apt-get "${apt_opts[@]}" update -qq
version=$(apt-cache "${apt_opts[@]}" show "linux-headers-$abi:i386" 2>/dev/null | awk '/^Version:/{print $2; exit}')
[ -n "$version" ] || {
  say "linux-headers-$abi is not in $suite any more: rebuild the kit (scripts/install_v86_kit.sh) for the current kernel"
  exit 1
}
common=linux-headers-${abi%-686}-common
pkgs=("linux-headers-$abi:i386=$version" "$common=$version" "linux-kbuild-6.1:amd64=$version" "linux-source-6.1=$version")
missing=()
for p in "${pkgs[@]}"; do
  name=${p%%=*}
  name=${name%%:*}
  ls "$debs/${name}_${version}_"*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "downloading ${missing[*]}"
  (cd "$debs" && apt-get "${apt_opts[@]}" download -qq "${missing[@]}")
fi
root=$work/root
mkdir -p "$root"
for p in "${pkgs[@]}"; do
  name=${p%%=*}
  name=${name%%:*}
  [ "$name" = linux-source-6.1 ] && continue
  dpkg-deb -x "$(ls "$debs/${name}_${version}_"*.deb)" "$root"
done
hdr=$root/usr/src/linux-headers-$abi
# The arch headers' Makefile includes the common headers by absolute path.
sed -i "s|/usr/src/|$root/usr/src/|g" "$hdr/Makefile"

# ---- the source files of every set, in one pass over the tarball ----
src_deb=$(ls "$debs/linux-source-6.1_${version}_"*.deb)
members=()
for s in "${todo[@]}"; do
  while read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] && members+=("linux-source-6.1/$line")
  done <"$sets_dir/$s/sources"
done
say "extracting ${#members[@]} source paths from linux-source-6.1 $version"
mkdir -p "$work/src"
dpkg-deb --fsys-tarfile "$src_deb" | tar -xO ./usr/src/linux-source-6.1.tar.xz |
  tar -xJ -C "$work/src" --wildcards "${members[@]}"

# ---- build each set ----
for s in "${todo[@]}"; do
  build=$work/build/$s
  mkdir -p "$build"
  while read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] || continue
    # shellcheck disable=SC2086 # a line may be a wildcard
    (cd "$work/src/linux-source-6.1" && cp --parents $line "$build/")
  done <"$sets_dir/$s/sources"
  cp "$sets_dir/$s/Kbuild" "$build/Kbuild"
  # A set's own sources (helpers of ours, not Linux's) sit beside its Kbuild.
  for c in "$sets_dir/$s"/*.c; do [ -f "$c" ] && cp "$c" "$build/"; done
  say "building set $s"
  make -s -C "$hdr" M="$build" modules >"$work/build-$s.log" 2>&1 || {
    cat "$work/build-$s.log" >&2
    say "set $s failed to build"
    exit 1
  }
  rm -rf "$out/$s"
  mkdir -p "$out/$s"
  order=()
  while read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] || continue
    [ -f "$build/$line" ] || { say "set $s: $line was not built"; exit 1; }
    cp "$build/$line" "$out/$s/"
    order+=("\"$(basename "$line")\"")
  done <"$sets_dir/$s/modules"
  list=$(
    IFS=,
    echo "${order[*]}"
  )
  printf '{ "hash": "%s", "kernel": "%s", "source": "linux-source-6.1 %s", "modules": [%s] }\n' \
    "$(set_hash "$s")" "$abi" "$version" "$list" >"$out/$s/set.json"
  say "set $s ready in $out/$s (${#order[@]} modules)"
done
