#!/usr/bin/env bash
# Installs what the interop tests (tests/interop/) need: QEMU (system
# emulator, qemu-storage-daemon, qemu-img), a Debian kernel whose virtio
# drivers are modules, static busybox and cpio for the test initramfs.
#
# When the system's QEMU is older than 8 (Debian 12 has 7.2, whose
# vhost-user-input will not start without KVM), it also downloads the QEMU
# of <codename>-backports with `apt-get download` and unpacks it, without
# installing it, under $TYPED_VIRTIO_NEWER_QEMU (default
# /opt/typed-virtio/qemu-backports); only the vhost-user-input guest test
# runs it.
#
# Idempotent and quiet; needs root (or sudo) and apt. Exits 0 when every
# tool is already present.
set -euo pipefail

newer_qemu_root=${TYPED_VIRTIO_NEWER_QEMU:-/opt/typed-virtio/qemu-backports}

packages=(qemu-system-x86 qemu-utils busybox-static cpio linux-image-cloud-amd64)

have_all() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 &&
    command -v qemu-storage-daemon >/dev/null 2>&1 &&
    command -v qemu-img >/dev/null 2>&1 &&
    command -v cpio >/dev/null 2>&1 &&
    [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod &&
    compgen -G "/boot/vmlinuz-*" >/dev/null
}

# True when the system QEMU is 8 or newer, or the newer one is unpacked.
have_newer_qemu() {
  local major
  major=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
  [ "${major:-0}" -ge 8 ] || [ -x "$newer_qemu_root/usr/bin/qemu-system-x86_64" ]
}

if have_all && have_newer_qemu; then
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
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if ! have_all; then
  echo "install_interop_deps: packages installed but a tool is still missing" >&2
  exit 1
fi

if ! have_newer_qemu; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  work=$(mktemp -d)
  chmod 755 "$work"
  trap 'rm -rf "$work"' EXIT
  # A one-off source list: the system's apt configuration is left as it was.
  echo "deb http://deb.debian.org/debian ${codename}-backports main" >"$work/backports.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$work/backports.list" -o "Dir::Etc::sourceparts=-"
    -o "APT::Get::List-Cleanup=0")
  "${sudo_cmd[@]}" apt-get "${apt_opts[@]}" update -qq >/dev/null
  (cd "$work" && "${sudo_cmd[@]}" apt-get "${apt_opts[@]}" download -qq \
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
