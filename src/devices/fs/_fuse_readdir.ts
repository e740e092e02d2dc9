/**
 * The FUSE directory listing: `READDIR` (fuse_dirent records) and
 * `READDIRPLUS` (fuse_direntplus: each with its entry, so the guest needs
 * no LOOKUP), from the entries a handle read at `OPENDIR` or at offset 0.
 * `.` and `..` come first; an entry removed since is skipped; a record
 * that does not fit ends the reply, and the next READDIR resumes there.
 *
 * @module
 */

import { FuseDirent, FuseDirentplus, FuseReadIn } from "../../generated/devices/fs.ts";
import { childPath, fsError, type FsStat, S_IFMT } from "./filesystem.ts";
import type { Node } from "./_fuse_nodes.ts";
import type { FuseSession } from "./_fuse_session.ts";
import { OUT } from "./_fuse_wire.ts";

const encoder = new TextEncoder();

/** READDIR, or READDIRPLUS (`plus`): the records from the offset asked; returns their length. */
export function readdir(s: FuseSession, plus: boolean): number {
  const r = s.req.in.read.at(s.req.args(FuseReadIn.SIZE));
  const hd = s.handles.handle(r.fh);
  if (hd.entries === undefined) throw fsError("ENOTDIR", "READDIR on a file handle");
  const dir = hd.node.path;
  if (dir === undefined) return 0; // the directory was removed: it has no entries left
  const start = r.readOffset;
  // Offset 0 starts a new listing (rewinddir(3)): see what is there now.
  if (start === 0) hd.entries = s.fs.readdir(dir);
  const entries = hd.entries;
  const out = s.reply.bytes;
  const limit = OUT + Math.min(r.readSize, s.reply.cap - OUT);
  let pos = OUT;
  const total = entries.length + 2;
  for (let idx = Number.isSafeInteger(start) ? start : total; idx < total; idx++) {
    // Names from the tree's own listing, not from the guest.
    const name = idx === 0 ? "." : idx === 1 ? ".." : entries[idx - 2].name;
    const fixed = plus ? FuseDirentplus.SIZE : FuseDirent.SIZE;
    const nameAt = pos + fixed;
    if (nameAt >= limit) break;
    const { read, written } = encoder.encodeInto(name, out.subarray(nameAt, limit));
    if (read < name.length) break;
    const size = (fixed + written + 7) & ~7;
    if (pos + size > limit) break;
    let st: FsStat;
    let node: Node | undefined;
    try {
      st = s.fs.stat(idx < 2 ? dir : childPath(dir, name));
    } catch {
      continue; // removed since OPENDIR
    }
    const d = plus ? s.reply.o.direntplus.at(pos).dirent : s.reply.o.dirent.at(pos);
    if (plus) {
      // . and .. get node id 0: the driver takes no reference for them.
      if (idx >= 2) node = s.nodes.ref(childPath(dir, name), st);
      s.reply.fillEntry(pos, node?.id ?? 0, st);
    }
    d.ino = BigInt(st.ino);
    d.off = BigInt(idx + 1);
    d.namelen = written;
    d.type = (st.mode & S_IFMT) >>> 12;
    out.fill(0, nameAt + written, pos + size);
    pos += size;
  }
  return pos - OUT;
}
