#!/usr/bin/env bash
# Installs what the interop tests (tests/interop/) need: QEMU (system
# emulator, qemu-storage-daemon, qemu-img), a Debian kernel whose virtio
# drivers are modules, static busybox and cpio for the test initramfs, and
# gcc with a static libc for the guest programs the tests build (vsock), for
# amd64 (QEMU guests) and i386 (`gcc -m32 -static`, v86 guests: gcc-multilib).
#
# When the system's QEMU is older than 8 (Debian 12 has 7.2, whose
# vhost-user-input will not start without KVM), it also downloads the QEMU
# of <codename>-backports with `apt-get download` and unpacks it, without
# installing it, under $TYPED_VIRTIO_NEWER_QEMU (default
# /opt/typed-virtio/qemu-backports); only the vhost-user-input guest test
# runs it.
#
# The backports QEMU comes from the mirror of the system's own apt sources,
# through a private apt configuration (scripts/_apt.sh): no mirror host is
# written here and the system's sources and package lists are left alone.
#
# It checks what the tests check: a /boot/vmlinuz-<release> (whose release
# contains $TYPED_VIRTIO_KERNEL when that is set) with
# /lib/modules/<release>/modules.dep, and, when deno is on the PATH, it ends
# by running the tests' own check (`deno run tests/interop/_guest.ts`).
#
# Idempotent and quiet; needs root (or sudo) and apt. Exits 0 when every
# tool is already present.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_apt.sh
. scripts/_apt.sh

newer_qemu_root=${TYPED_VIRTIO_NEWER_QEMU:-/opt/typed-virtio/qemu-backports}

packages=(qemu-system-x86 qemu-utils busybox-static cpio linux-image-cloud-amd64 gcc libc6-dev gcc-multilib)

have_all() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 &&
    command -v qemu-storage-daemon >/dev/null 2>&1 &&
    command -v qemu-img >/dev/null 2>&1 &&
    command -v cpio >/dev/null 2>&1 &&
    command -v gcc >/dev/null 2>&1 && have_static_libc &&
    [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -x insmod >/dev/null &&
    have_kernel
}

# gcc -static needs the C library's archive (the vsock guest program).
have_static_libc() {
  local a
  local found=""
  for a in /usr/lib/*/libc.a /usr/lib/libc.a; do [ -f "$a" ] && found=1; done
  # and the i386 one of gcc-multilib, for -m32 (the v86 guests' programs)
  [ -n "$found" ] && [ -f /usr/lib32/libc.a ]
}

# As kernelInfo() in tests/interop/_guest.ts: a kernel image whose release
# (containing $TYPED_VIRTIO_KERNEL, if set) has a module tree.
have_kernel() {
  local image release
  for image in /boot/vmlinuz-*; do
    [ -f "$image" ] || continue
    release=${image#/boot/vmlinuz-}
    if [ -n "${TYPED_VIRTIO_KERNEL:-}" ] && [[ $release != *"$TYPED_VIRTIO_KERNEL"* ]]; then continue; fi
    [ -f "/lib/modules/$release/modules.dep" ] && return 0
  done
  return 1
}

# The tests' own check, when deno is here to run it.
tests_agree() {
  if ! command -v deno >/dev/null 2>&1; then return 0; fi
  deno run --allow-all tests/interop/_guest.ts >/dev/null
}

# True when the system QEMU is 8 or newer, or the newer one is unpacked.
have_newer_qemu() {
  local major
  major=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
  [ "${major:-0}" -ge 8 ] || [ -x "$newer_qemu_root/usr/bin/qemu-system-x86_64" ]
}

if have_all && have_newer_qemu && tests_agree 2>/dev/null; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_interop_deps: apt-get not found; install ${packages[*]} by hand" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
if ! have_all; then
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${packages[@]}" >/dev/null
fi

if ! have_all; then
  echo "install_interop_deps: packages installed but a tool is still missing" >&2
  exit 1
fi

if ! have_newer_qemu; then
  codename=$(apt_codename)
  work=$(mktemp -d)
  chmod 755 "$work"
  trap 'rm -rf "$work"' EXIT
  # A private apt configuration on the system's mirror: the system's apt
  # sources and lists are left as they were.
  apt_private_source "$work/apt" "${codename}-backports"
  apt_private_get "$work/apt" update -qq >/dev/null
  (cd "$work" && apt_private_get "$work/apt" download -qq \
    "qemu-system-x86/${codename}-backports" "qemu-system-common/${codename}-backports" \
    "qemu-system-data/${codename}-backports" >/dev/null 2>&1)
  mkdir -p "$work/root"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  "${sudo_cmd[@]}" mkdir -p "$(dirname "$newer_qemu_root")"
  "${sudo_cmd[@]}" rm -rf "$newer_qemu_root"
  "${sudo_cmd[@]}" mv "$work/root" "$newer_qemu_root"
  if ! have_newer_qemu || ! "$newer_qemu_root/usr/bin/qemu-system-x86_64" --version >/dev/null; then
    echo "install_interop_deps: the ${codename}-backports QEMU did not unpack into a working binary" >&2
    exit 1
  fi
fi

if ! tests_agree; then
  echo "install_interop_deps: the interop tests would still skip (see above)" >&2
  exit 1
fi
