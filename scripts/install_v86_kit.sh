#!/usr/bin/env bash
# Sets up the guest kit of the v86 host (src/hosts/v86/): Debian's i386
# kernel (linux-image-686), busybox-static for i386, SeaBIOS, the tv_mmio
# helper module (scripts/v86_kit/tv_mmio.c, built here against the kernel's
# headers) and an initramfs that loads the virtio modules in dependency order.
#
# The packages come from Debian's archive through a private apt configuration
# (its own sources file and package lists in a temporary directory; the mirror
# is read from the system's apt sources). Nothing is installed and the
# system's apt setup is left as it was; only `gcc` and `make` are needed (and
# installed with apt-get when missing).
#
# The kit goes to $TYPED_VIRTIO_V86_KIT (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/typed-virtio/v86-kit), outside the repo.
# Idempotent: exits 0 at once when the kit is complete.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kit=${TYPED_VIRTIO_V86_KIT:-${XDG_CACHE_HOME:-$HOME/.cache}/typed-virtio/v86-kit}
stamp="$kit/kit.json"
# Bump when the kit's contents change, so that a cached older kit is rebuilt.
kit_version=5

if [ -f "$stamp" ] && grep -q "\"kit_version\": $kit_version," "$stamp"; then
  exit 0
fi

say() { echo "install_v86_kit: $*" >&2; }

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
need=()
for tool in gcc make cpio dpkg-deb apt-get depmod objdump; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends gcc make cpio libc6-dev kmod binutils >/dev/null
fi

# ---- a private apt configuration ----
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/debs" "$work/root"
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
    /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$uri" ] || { say "no Debian mirror found in the system's apt sources"; exit 1; }
suite=${TYPED_VIRTIO_V86_SUITE:-bookworm}
printf 'Types: deb\nArchitectures: i386 amd64\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$uri" "$suite" >"$work/parts/v86-kit.sources"
apt_opts=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$work/parts"
  -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Architectures::=i386)
mkdir -p "$work/cache/archives/partial"
say "package lists from $uri ($suite)"
apt-get "${apt_opts[@]}" update -qq

# linux-image-686 is a metapackage: its dependency names the kernel ABI.
image=$(apt-cache "${apt_opts[@]}" depends linux-image-686:i386 2>/dev/null |
  awk '/Depends: linux-image-[0-9]/{sub(/:i386$/, "", $2); print $2; exit}')
[ -n "$image" ] || { say "cannot resolve linux-image-686"; exit 1; }
abi=${image#linux-image-}            # 6.1.0-NN-686
common=linux-headers-${abi%-686}-common
say "kernel $image"
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq \
  "$image:i386" "linux-headers-$abi:i386" "$common" "linux-kbuild-6.1:amd64" \
  "busybox-static:i386" seabios \
  e2fsprogs:i386 libext2fs2:i386 libcom-err2:i386 libblkid1:i386 libuuid1:i386 libc6:i386)
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
root=$work/root

# ---- the helper module, built against the unpacked headers ----
hdr=$root/usr/src/linux-headers-$abi
# The arch headers' Makefile includes the common headers by absolute path.
sed -i "s|/usr/src/|$root/usr/src/|g" "$hdr/Makefile"
build=$work/tv_mmio
mkdir -p "$build"
cp "$here/v86_kit/tv_mmio.c" "$here/v86_kit/Kbuild" "$build/"
say "building tv_mmio.ko"
make -s -C "$hdr" M="$build" modules >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }

# ---- the initramfs ----
kver=$(basename "$(ls -d "$root"/lib/modules/*/)")
moddir=$root/lib/modules/$kver
# The package has no modules.dep (its postinst makes it): make it in the unpacked tree.
depmod -b "$root" "$kver"
initrd=$work/initrd
mkdir -p "$initrd"/{bin,sbin,etc,proc,sys,dev,tmp,mnt,lib/modules}
cp "$root/bin/busybox" "$initrd/bin/busybox"
cp "$here/v86_kit/init" "$initrd/init"
# busybox has no mkfs.ext2: e2fsprogs' mke2fs with the i386 libraries it needs.
mkdir -p "$initrd/lib/i386-linux-gnu"
cp "$root/sbin/mke2fs" "$initrd/sbin/mke2fs"
ln -s mke2fs "$initrd/sbin/mkfs.ext2"
libs() { objdump -p "$1" | awk '/NEEDED/{print $2}'; }
todo=$(libs "$root/sbin/mke2fs")
while [ -n "$todo" ]; do
  next=""
  for lib in $todo; do
    [ -e "$initrd/lib/i386-linux-gnu/$lib" ] && continue
    src=""
    for dir in "$root/lib/i386-linux-gnu" "$root/usr/lib/i386-linux-gnu"; do
      [ -e "$dir/$lib" ] && { src=$dir/$lib; break; }
    done
    [ -n "$src" ] || { say "library $lib not found"; exit 1; }
    cp -L "$src" "$initrd/lib/i386-linux-gnu/$lib"
    next="$next $(libs "$src")"
  done
  todo=$next
done
cp -L "$root/lib/ld-linux.so.2" "$initrd/lib/ld-linux.so.2"
mkdir -p "$initrd/lib/modules"
cp "$build/tv_mmio.ko" "$initrd/lib/modules/"
declare -A seen=()
order=()
load() { # module path relative to $moddir, after its dependencies
  local m=$1 deps d
  [ -n "${seen[$m]:-}" ] && return
  seen[$m]=1
  deps=$(awk -v m="$m:" '$1 == m {for (i = NF; i >= 2; i--) print $i}' "$moddir/modules.dep")
  for d in $deps; do load "$d"; done
  order+=("$m")
}
# Loaded by /init at boot, in dependency order.
boot_modules=(virtio_pci virtio_mmio virtio_blk virtio_net virtio_console virtio-rng virtio_balloon
  virtio_input evdev crc32c_generic ext2 ext4)
# Carried in the initramfs for tests that `modprobe` them (busybox modprobe reads
# /lib/modules/$kver/modules.dep): the second set of device types, their upper
# layers, and the crypto templates and AF_ALG for virtio_crypto's tests.
extra_modules=(virtio_scsi sd_mod 9pnet_virtio 9p virtio-gpu vmw_vsock_virtio_transport virtio_crypto
  af_alg algif_skcipher algif_hash algif_aead cbc ctr xts gcm aes_generic sha256_generic
  sha512_generic hmac virtiofs fuse)
module_path() {
  awk -v n="/$1.ko:" 'index($1, n) {sub(/:$/, "", $1); print $1; exit}' "$moddir/modules.dep"
}
for name in "${boot_modules[@]}"; do
  path=$(module_path "$name")
  if [ -z "$path" ]; then
    say "module $name: not a module (built in or absent)"
    continue
  fi
  load "$path"
done
boot_order=("${order[@]}")
for name in "${extra_modules[@]}"; do
  path=$(module_path "$name")
  if [ -z "$path" ]; then
    say "module $name: not a module (built in or absent)"
    continue
  fi
  load "$path"
done
: >"$initrd/etc/tv-modules"
guest_moddir=$initrd/lib/modules/$kver
for m in "${order[@]}"; do
  mkdir -p "$guest_moddir/$(dirname "$m")"
  cp "$moddir/$m" "$guest_moddir/$m"
done
for m in "${boot_order[@]}"; do echo "$m" >>"$initrd/etc/tv-modules"; done
# modules.dep of the modules carried (modprobe needs no other entry).
awk -v list="${order[*]}" 'BEGIN { n = split(list, a, " "); for (i = 1; i <= n; i++) have[a[i] ":"] = 1 }
  have[$1]' "$moddir/modules.dep" >"$guest_moddir/modules.dep"
(cd "$initrd" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/initrd.img"

# ---- into the cache ----
mkdir -p "$kit"
cp "$root/boot/vmlinuz-$kver" "$kit/bzImage"
cp "$work/initrd.img" "$kit/initrd.img"
cp "$root/usr/share/seabios/bios.bin" "$kit/bios.bin"
cp "$root/usr/share/seabios/vgabios-stdvga.bin" "$kit/vgabios.bin"
cp "$build/tv_mmio.ko" "$kit/tv_mmio.ko"
cp "$moddir/modules.dep" "$kit/modules.dep"
modules_json=$(printf '"%s",' "${boot_order[@]}")
extra_json=$(printf '"%s",' "${order[@]:${#boot_order[@]}}")
printf '{ "kit_version": %s, "kernel": "%s", "modules": [%s], "extra_modules": [%s] }\n' \
  "$kit_version" "$kver" "${modules_json%,}" "${extra_json%,}" \
  >"$stamp"
say "kit ready in $kit (kernel $kver, ${#boot_order[@]} modules loaded at boot, ${#order[@]} in all)"
