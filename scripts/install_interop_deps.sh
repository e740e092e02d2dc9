#!/usr/bin/env bash
# Installs what the interop tests (tests/interop/) need: QEMU (system
# emulator, qemu-storage-daemon, qemu-img), a Debian kernel whose virtio
# drivers are modules, static busybox and cpio for the test initramfs.
# Idempotent and quiet; needs root (or sudo) and apt. Exits 0 when every
# tool is already present.
set -euo pipefail

packages=(qemu-system-x86 qemu-utils busybox-static cpio linux-image-cloud-amd64)

have_all() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 &&
    command -v qemu-storage-daemon >/dev/null 2>&1 &&
    command -v qemu-img >/dev/null 2>&1 &&
    command -v cpio >/dev/null 2>&1 &&
    [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod &&
    compgen -G "/boot/vmlinuz-*" >/dev/null
}

if have_all; then
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
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if ! have_all; then
  echo "install_interop_deps: packages installed but a tool is still missing" >&2
  exit 1
fi
