// 9P transport layouts: the config from Linux's include/uapi/linux/virtio_9p.h
// (`__virtio16 tag_len; __u8 tag[];`, packed), the 9P2000.L messages from the
// protocol's own field lists (size[4] type[1] tag[2], qid[13] = type[1]
// version[4] path[8], ...; Linux net/9p/protocol.c packs them with the same
// widths). Offsets typed in by hand, not computed by the generator.
import assert from "node:assert/strict";
import { layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/9p.ts";

const offsets = (t: StructType) =>
  Object.fromEntries(layout(t).fields.map((f) => [f.def.name, f.offset]));

const expected: [StructType, number, Record<string, number>][] = [
  [s.virtio_9p_config, 2, { tag_len: 0, tag: 2 }],
  [s.p9_header, 7, { size: 0, type: 4, tag: 5 }],
  [s.p9_qid, 13, { type: 0, version: 1, path: 5 }],
  [s.p9_tversion, 4, { msize: 0 }],
  [s.p9_tattach, 8, { fid: 0, afid: 4 }],
  [s.p9_twalk, 10, { fid: 0, newfid: 4, nwname: 8 }],
  [s.p9_rwalk, 2, { nwqid: 0 }],
  [s.p9_tlopen, 8, { fid: 0, flags: 4 }],
  [s.p9_rlopen, 17, { qid: 0, iounit: 13 }],
  [s.p9_tlcreate, 4, { fid: 0 }],
  [s.p9_tread, 16, { fid: 0, offset: 4, count: 12 }],
  [s.p9_rread, 4, { count: 0 }],
  [s.p9_twrite, 16, { fid: 0, offset: 4, count: 12 }],
  [s.p9_tclunk, 4, { fid: 0 }],
  [s.p9_tgetattr, 12, { fid: 0, request_mask: 4 }],
  [s.p9_rgetattr, 153, {
    valid: 0,
    qid: 8,
    mode: 21,
    uid: 25,
    gid: 29,
    nlink: 33,
    rdev: 41,
    size: 49,
    blksize: 57,
    blocks: 65,
    atime_sec: 73,
    atime_nsec: 81,
    mtime_sec: 89,
    mtime_nsec: 97,
    ctime_sec: 105,
    ctime_nsec: 113,
    btime_sec: 121,
    btime_nsec: 129,
    gen: 137,
    data_version: 145,
  }],
  [s.p9_tsetattr, 60, {
    fid: 0,
    valid: 4,
    mode: 8,
    uid: 12,
    gid: 16,
    size: 20,
    atime_sec: 28,
    atime_nsec: 36,
    mtime_sec: 44,
    mtime_nsec: 52,
  }],
  [s.p9_treaddir, 16, { fid: 0, offset: 4, count: 12 }],
  [s.p9_dirent, 22, { qid: 0, offset: 13, type: 21 }],
  [s.p9_tmkdir, 4, { dfid: 0 }],
  [s.p9_trename, 8, { fid: 0, dfid: 4 }],
  [s.p9_tlink, 8, { dfid: 0, fid: 4 }],
  [s.p9_txattrwalk, 8, { fid: 0, newfid: 4 }],
  [s.p9_rstatfs, 60, {
    type: 0,
    bsize: 4,
    blocks: 8,
    bfree: 16,
    bavail: 24,
    files: 32,
    ffree: 40,
    fsid: 48,
    namelen: 56,
  }],
  [s.p9_tfsync, 8, { fid: 0, datasync: 4 }],
  [s.p9_tlock, 29, { fid: 0, type: 4, flags: 5, start: 9, length: 17, proc_id: 25 }],
  [s.p9_tgetlock, 25, { fid: 0, type: 4, start: 5, length: 13, proc_id: 21 }],
  [s.p9_rgetlock, 21, { type: 0, start: 1, length: 9, proc_id: 17 }],
  [s.p9_tflush, 2, { oldtag: 0 }],
  [s.p9_rlerror, 4, { ecode: 0 }],
];

Deno.test("9P layouts match the protocol, and every struct is checked", () => {
  for (const [t, size, offs] of expected) {
    assert.equal(layout(t).size, size, t.name);
    assert.deepEqual(offsets(t), offs, t.name);
  }
  // tag[] grows with tag_len.
  assert.deepEqual(layout(s.virtio_9p_config).paramTerms, { length: 1 });
  const checked = new Set(expected.map(([t]) => t.name));
  for (const v of Object.values(s)) {
    if (v.kind === "struct") assert.ok(checked.has(v.name), `${v.name} is not checked`);
  }
});

Deno.test("9P constants: message types, feature bit, qid types", () => {
  const c = (g: { constants: readonly { name: string; value: number }[] }) =>
    Object.fromEntries(g.constants.map((x) => [x.name, x.value]));
  assert.deepEqual(c(s.virtio_9p_features), { VIRTIO_9P_MOUNT_TAG: 0 });
  const t = c(s.p9_msg_type);
  // Linux include/net/9p/9p.h enum p9_msg_t.
  for (
    const [name, v] of Object.entries({
      P9_TLERROR: 6,
      P9_TSTATFS: 8,
      P9_TLOPEN: 12,
      P9_TLCREATE: 14,
      P9_TSYMLINK: 16,
      P9_TMKNOD: 18,
      P9_TRENAME: 20,
      P9_TREADLINK: 22,
      P9_TGETATTR: 24,
      P9_TSETATTR: 26,
      P9_TXATTRWALK: 30,
      P9_TXATTRCREATE: 32,
      P9_TREADDIR: 40,
      P9_TFSYNC: 50,
      P9_TLOCK: 52,
      P9_TGETLOCK: 54,
      P9_TLINK: 70,
      P9_TMKDIR: 72,
      P9_TRENAMEAT: 74,
      P9_TUNLINKAT: 76,
      P9_TVERSION: 100,
      P9_TAUTH: 102,
      P9_TATTACH: 104,
      P9_TFLUSH: 108,
      P9_TWALK: 110,
      P9_TREAD: 116,
      P9_TWRITE: 118,
      P9_TCLUNK: 120,
      P9_TREMOVE: 122,
    })
  ) {
    assert.equal(t[name], v, name);
    assert.equal(t[name.replace("P9_T", "P9_R")], v + 1, name);
  }
  assert.equal(c(s.p9_qid_type).P9_QTDIR, 0x80);
  assert.equal(c(s.p9_qid_type).P9_QTSYMLINK, 0x02);
  assert.equal(c(s.p9_getattr_mask).P9_GETATTR_BASIC, 0x7ff);
  assert.equal(c(s.p9_setattr_valid).P9_ATTR_MTIME_SET, 0x100);
  assert.equal(c(s.p9_constants).V9FS_MAGIC, 0x01021997);
});
