/**
 * Extra files for the guest's initramfs: a cpio archive in the "newc" format
 * the kernel unpacks (Documentation/driver-api/early-userspace/buffer-format
 * in Linux). Appended after the kit's compressed initramfs, its entries are
 * added to the root file system before `/init` runs.
 *
 * @module
 */

import { V86HostError } from "./_internals.ts";

/** A file for the guest: its bytes, or bytes and a mode (default 0o755). */
export type GuestFile = Uint8Array | { readonly data: Uint8Array; readonly mode?: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const HEADER = 110; // "070701" and 13 fields of 8 hex digits
const TRAILER = "TRAILER!!!";

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * The newc archive of `files` (absolute guest paths), with an entry for every
 * parent directory, ending in the trailer. Paths must be absolute, without
 * `.`/`..` components or empty ones.
 */
export function newcArchive(files: Readonly<Record<string, GuestFile>>): Uint8Array {
  const enc = new TextEncoder();
  const entries: { name: string; mode: number; data: Uint8Array }[] = [];
  const dirs = new Set<string>();
  for (const [path, file] of Object.entries(files)) {
    const parts = path.split("/");
    if (
      parts[0] !== "" || parts.length < 2 ||
      parts.slice(1).some((p) => p === "" || p === "." || p === "..")
    ) {
      throw new V86HostError(
        `guest file path ${JSON.stringify(path)}: must be absolute and plain`,
        {
          code: "ERR_VIRTIO_V86_FILE_PATH",
        },
      );
    }
    for (let i = 2; i < parts.length; i++) {
      const dir = parts.slice(1, i).join("/");
      if (!dirs.has(dir)) {
        dirs.add(dir);
        entries.push({ name: dir, mode: S_IFDIR | 0o755, data: new Uint8Array(0) });
      }
    }
    const data = file instanceof Uint8Array ? file : file.data;
    const mode = file instanceof Uint8Array ? 0o755 : (file.mode ?? 0o755);
    entries.push({ name: parts.slice(1).join("/"), mode: S_IFREG | (mode & 0o7777), data });
  }
  entries.push({ name: TRAILER, mode: 0, data: new Uint8Array(0) });
  let size = 0;
  for (const e of entries) {
    size += pad4(HEADER + enc.encode(e.name).length + 1) + pad4(e.data.length);
  }
  const out = new Uint8Array(size);
  let at = 0;
  let ino = 0x7a000; // away from the kit archive's inode numbers
  for (const e of entries) {
    const name = enc.encode(e.name);
    const fields = [
      e.name === TRAILER ? 0 : ino++, // c_ino
      e.mode,
      0, // c_uid
      0, // c_gid
      e.mode & S_IFDIR ? 2 : 1, // c_nlink
      0, // c_mtime
      e.data.length, // c_filesize
      0, // c_devmajor
      0, // c_devminor
      0, // c_rdevmajor
      0, // c_rdevminor
      name.length + 1, // c_namesize, with the NUL
      0, // c_check
    ];
    out.set(enc.encode("070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("")), at);
    out.set(name, at + HEADER);
    at += pad4(HEADER + name.length + 1);
    out.set(e.data, at);
    at += pad4(e.data.length);
  }
  return out;
}

/** The kit's initramfs with `files` appended (the kernel unpacks both, in order). */
export function withGuestFiles(
  initrd: Uint8Array,
  files: Readonly<Record<string, GuestFile>>,
): Uint8Array {
  const extra = newcArchive(files);
  const start = pad4(initrd.length);
  const out = new Uint8Array(start + extra.length);
  out.set(initrd, 0);
  out.set(extra, start);
  return out;
}
