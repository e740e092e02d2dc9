/**
 * The 9P transport device (device id 9; spec 5 lists it, its layout is
 * Linux's `include/uapi/linux/virtio_9p.h`): the configuration (a mount
 * tag of `tag_len` bytes) and its feature bit, and the 9P2000.L messages
 * a request carries (Linux `include/net/9p/9p.h`, the 9P2000.L protocol
 * description of diod and QEMU's hw/9pfs).
 *
 * Every 9P message is little-endian and packed: `size[4] type[1] tag[2]`
 * ({@link p9_header}) and then the message's fields. Strings are `len[2]`
 * and `len` UTF-8 bytes, so a message's layout ends at its first string:
 * the structs below are the fixed parts, named `p9_<message>` (what follows
 * a string is read in sequence by the codec, as the protocol lists it).
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  flags,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** Feature bits of the 9P transport (linux/virtio_9p.h). */
export const virtio_9p_features: ConstantGroup = featureBits("virtio_9p_features", {
  VIRTIO_9P_MOUNT_TAG: {
    value: 0,
    doc: "The configuration space holds the mount tag (tag_len, tag).",
  },
}, { doc: "9P transport feature bits." });

/** The 9P transport's configuration: the mount tag the guest names in `mount -t 9p TAG`. */
export const virtio_9p_config: StructType = struct("virtio_9p_config", {
  tag_len: doc(le16, "Length of the tag in bytes."),
  tag: doc(array(u8, "length"), "The mount tag, not NUL-terminated."),
}, { doc: "9P transport configuration (with VIRTIO_9P_MOUNT_TAG); read-only for the driver." });

/** 9P message types (Linux `enum p9_msg_t`): T-messages and their R-replies (T + 1). */
export const p9_msg_type: ConstantGroup = enumeration("p9_msg_type", {
  P9_TLERROR: 6,
  P9_RLERROR: { value: 7, doc: "Error reply of 9P2000.L: a Linux errno." },
  P9_TSTATFS: 8,
  P9_RSTATFS: 9,
  P9_TLOPEN: 12,
  P9_RLOPEN: 13,
  P9_TLCREATE: 14,
  P9_RLCREATE: 15,
  P9_TSYMLINK: 16,
  P9_RSYMLINK: 17,
  P9_TMKNOD: 18,
  P9_RMKNOD: 19,
  P9_TRENAME: 20,
  P9_RRENAME: 21,
  P9_TREADLINK: 22,
  P9_RREADLINK: 23,
  P9_TGETATTR: 24,
  P9_RGETATTR: 25,
  P9_TSETATTR: 26,
  P9_RSETATTR: 27,
  P9_TXATTRWALK: 30,
  P9_RXATTRWALK: 31,
  P9_TXATTRCREATE: 32,
  P9_RXATTRCREATE: 33,
  P9_TREADDIR: 40,
  P9_RREADDIR: 41,
  P9_TFSYNC: 50,
  P9_RFSYNC: 51,
  P9_TLOCK: 52,
  P9_RLOCK: 53,
  P9_TGETLOCK: 54,
  P9_RGETLOCK: 55,
  P9_TLINK: 70,
  P9_RLINK: 71,
  P9_TMKDIR: 72,
  P9_RMKDIR: 73,
  P9_TRENAMEAT: 74,
  P9_RRENAMEAT: 75,
  P9_TUNLINKAT: 76,
  P9_RUNLINKAT: 77,
  P9_TVERSION: 100,
  P9_RVERSION: 101,
  P9_TAUTH: 102,
  P9_RAUTH: 103,
  P9_TATTACH: 104,
  P9_RATTACH: 105,
  P9_TERROR: 106,
  P9_RERROR: 107,
  P9_TFLUSH: 108,
  P9_RFLUSH: 109,
  P9_TWALK: 110,
  P9_RWALK: 111,
  P9_TOPEN: 112,
  P9_ROPEN: 113,
  P9_TCREATE: 114,
  P9_RCREATE: 115,
  P9_TREAD: 116,
  P9_RREAD: 117,
  P9_TWRITE: 118,
  P9_RWRITE: 119,
  P9_TCLUNK: 120,
  P9_RCLUNK: 121,
  P9_TREMOVE: 122,
  P9_RREMOVE: 123,
  P9_TSTAT: 124,
  P9_RSTAT: 125,
  P9_TWSTAT: 126,
  P9_RWSTAT: 127,
}, { doc: "9P message types (p9_header.type)." });

/** Protocol constants. */
export const p9_constants: ConstantGroup = enumeration("p9_constants", {
  P9_NOTAG: { value: 0xffff, doc: "The tag of Tversion." },
  P9_NOFID: { value: 0xffffffff, doc: "No fid (Tattach's afid without authentication)." },
  P9_MAXWELEM: { value: 16, doc: "Most names in one Twalk." },
  P9_IOHDRSZ: { value: 24, doc: "Room Linux keeps for the header of a Tread/Twrite within msize." },
  P9_READDIRHDRSZ: { value: 24, doc: "Room Linux keeps for the header of a Treaddir." },
  V9FS_MAGIC: { value: 0x01021997, doc: "f_type of a 9P file system (Rstatfs.type)." },
  P9_AT_REMOVEDIR: { value: 0x200, doc: "Tunlinkat flag: remove a directory." },
}, { doc: "9P protocol constants." });

/** Qid types (qid.type), from the file's mode. */
export const p9_qid_type: ConstantGroup = flags("p9_qid_type", {
  P9_QTDIR: 0x80,
  P9_QTAPPEND: 0x40,
  P9_QTEXCL: 0x20,
  P9_QTMOUNT: 0x10,
  P9_QTAUTH: 0x08,
  P9_QTTMP: 0x04,
  P9_QTSYMLINK: 0x02,
  P9_QTLINK: 0x01,
  P9_QTFILE: 0x00,
}, { doc: "Qid types (p9_qid.type)." });

/** Tgetattr request_mask / Rgetattr valid bits. */
export const p9_getattr_mask: ConstantGroup = flags("p9_getattr_mask", {
  P9_GETATTR_MODE: 0x1,
  P9_GETATTR_NLINK: 0x2,
  P9_GETATTR_UID: 0x4,
  P9_GETATTR_GID: 0x8,
  P9_GETATTR_RDEV: 0x10,
  P9_GETATTR_ATIME: 0x20,
  P9_GETATTR_MTIME: 0x40,
  P9_GETATTR_CTIME: 0x80,
  P9_GETATTR_INO: 0x100,
  P9_GETATTR_SIZE: 0x200,
  P9_GETATTR_BLOCKS: 0x400,
  P9_GETATTR_BTIME: 0x800,
  P9_GETATTR_GEN: 0x1000,
  P9_GETATTR_DATA_VERSION: 0x2000,
  P9_GETATTR_BASIC: { value: 0x7ff, doc: "Mode through blocks: what stat(2) gives." },
  P9_GETATTR_ALL: 0x3fff,
}, { doc: "Tgetattr request_mask and Rgetattr valid bits." });

/** Tsetattr valid bits. */
export const p9_setattr_valid: ConstantGroup = flags("p9_setattr_valid", {
  P9_ATTR_MODE: 0x1,
  P9_ATTR_UID: 0x2,
  P9_ATTR_GID: 0x4,
  P9_ATTR_SIZE: 0x8,
  P9_ATTR_ATIME: { value: 0x10, doc: "Set the access time (to now unless P9_ATTR_ATIME_SET)." },
  P9_ATTR_MTIME: {
    value: 0x20,
    doc: "Set the modification time (to now unless P9_ATTR_MTIME_SET).",
  },
  P9_ATTR_CTIME: 0x40,
  P9_ATTR_ATIME_SET: { value: 0x80, doc: "atime_sec/atime_nsec hold the time to set." },
  P9_ATTR_MTIME_SET: { value: 0x100, doc: "mtime_sec/mtime_nsec hold the time to set." },
}, { doc: "Tsetattr valid bits." });

/** Tlock / Tgetlock lock types and Rlock status. */
export const p9_lock: ConstantGroup = enumeration("p9_lock", {
  P9_LOCK_TYPE_RDLCK: 0,
  P9_LOCK_TYPE_WRLCK: 1,
  P9_LOCK_TYPE_UNLCK: 2,
  P9_LOCK_SUCCESS: { value: 0, doc: "Rlock status." },
  P9_LOCK_BLOCKED: { value: 1, doc: "Rlock status." },
  P9_LOCK_ERROR: { value: 2, doc: "Rlock status." },
  P9_LOCK_GRACE: { value: 3, doc: "Rlock status." },
}, { doc: "Lock types (Tlock.type, Tgetlock.type) and Rlock status values." });

// ---------------------------------------------------------------------------
// Messages: the fixed part of each (up to its first string).

/** The header of every 9P message. */
export const p9_header: StructType = struct("p9_header", {
  size: field(le32, { accessor: "msgSize", doc: "Length of the whole message, header included." }),
  type: doc(u8, "The message type (p9_msg_type)."),
  tag: doc(le16, "Chosen by the client; the reply carries it back."),
}, { doc: "size[4] type[1] tag[2]: the header of every message." });

/** A qid: the server's unique identity of a file. */
export const p9_qid: StructType = struct("p9_qid", {
  type: doc(u8, "P9_QT* bits, from the file's type."),
  version: doc(le32, "Version of the file (changes when it does); 0 here."),
  path: doc(le64, "Unique within the server (the inode number)."),
}, { doc: "qid[13]: type[1] version[4] path[8]." });

/** Tversion (followed by version[s]) and Rversion (the same). */
export const p9_tversion: StructType = struct("p9_tversion", {
  msize: doc(le32, "Largest message, header included, the sender accepts."),
}, { doc: "Tversion and Rversion: msize[4] version[s]." });

/** Tattach: fid[4] afid[4] uname[s] aname[s] n_uname[4]. */
export const p9_tattach: StructType = struct("p9_tattach", {
  fid: doc(le32, "The fid the root is bound to."),
  afid: doc(le32, "Authentication fid; P9_NOFID without authentication."),
}, { doc: "Tattach's fixed part; uname[s] aname[s] n_uname[4] follow." });

/** Twalk: fid[4] newfid[4] nwname[2] nwname*(wname[s]). */
export const p9_twalk: StructType = struct("p9_twalk", {
  fid: le32,
  newfid: doc(le32, "Bound to the result when every name was walked; may equal fid."),
  nwname: doc(le16, "Number of names (at most P9_MAXWELEM)."),
}, { doc: "Twalk's fixed part; nwname names follow." });

/** Rwalk: nwqid[2] nwqid*(qid[13]). */
export const p9_rwalk: StructType = struct("p9_rwalk", {
  nwqid: doc(le16, "Number of names walked; fewer than asked when one failed."),
}, { doc: "Rwalk's fixed part; nwqid qids follow." });

/** Tlopen: fid[4] flags[4]. */
export const p9_tlopen: StructType = struct("p9_tlopen", {
  fid: le32,
  flags: doc(le32, "Linux open flags (P9_DOTL_*, the values of x86 Linux)."),
}, { doc: "Tlopen." });

/** Rlopen and Rlcreate: qid[13] iounit[4]. */
export const p9_rlopen: StructType = struct("p9_rlopen", {
  qid: p9_qid,
  iounit: doc(le32, "Largest I/O the server wants in one message; 0 for msize - P9_IOHDRSZ."),
}, { doc: "Rlopen and Rlcreate." });

/** Tlcreate: fid[4] name[s] flags[4] mode[4] gid[4]. */
export const p9_tlcreate: StructType = struct("p9_tlcreate", {
  fid: doc(le32, "The directory; afterwards the new file, open."),
}, { doc: "Tlcreate's fixed part; name[s] flags[4] mode[4] gid[4] follow." });

/** Tread: fid[4] offset[8] count[4]. */
export const p9_tread: StructType = struct("p9_tread", {
  fid: le32,
  offset: field(le64, { accessor: "fileOffset", doc: "Byte offset in the file." }),
  count: doc(le32, "Bytes to read."),
}, { doc: "Tread." });

/** Rread: count[4] data[count]. */
export const p9_rread: StructType = struct("p9_rread", {
  count: doc(le32, "Bytes that follow."),
}, { doc: "Rread's fixed part (also Rwrite, Rreaddir: count[4])." });

/** Twrite: fid[4] offset[8] count[4] data[count]. */
export const p9_twrite: StructType = struct("p9_twrite", {
  fid: le32,
  offset: field(le64, { accessor: "fileOffset", doc: "Byte offset in the file." }),
  count: doc(le32, "Bytes that follow."),
}, { doc: "Twrite's fixed part; count bytes of data follow." });

/** Tclunk, Tremove, Treadlink, Tstatfs: fid[4]. */
export const p9_tclunk: StructType = struct("p9_tclunk", {
  fid: le32,
}, { doc: "Tclunk, Tremove, Treadlink and Tstatfs: fid[4]." });

/** Tgetattr: fid[4] request_mask[8]. */
export const p9_tgetattr: StructType = struct("p9_tgetattr", {
  fid: le32,
  request_mask: doc(le64, "P9_GETATTR_* bits wanted."),
}, { doc: "Tgetattr." });

/** Rgetattr: the attributes of a file. */
export const p9_rgetattr: StructType = struct("p9_rgetattr", {
  valid: doc(le64, "P9_GETATTR_* bits of the fields that hold values."),
  qid: p9_qid,
  mode: doc(le32, "Type and permission bits (S_IF* | 07777)."),
  uid: le32,
  gid: le32,
  nlink: le64,
  rdev: le64,
  size: field(le64, { accessor: "fileSize" }),
  blksize: le64,
  blocks: le64,
  atime_sec: le64,
  atime_nsec: le64,
  mtime_sec: le64,
  mtime_nsec: le64,
  ctime_sec: le64,
  ctime_nsec: le64,
  btime_sec: le64,
  btime_nsec: le64,
  gen: le64,
  data_version: le64,
}, { doc: "Rgetattr." });

/** Tsetattr: fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime[16] mtime[16]. */
export const p9_tsetattr: StructType = struct("p9_tsetattr", {
  fid: le32,
  valid: doc(le32, "P9_ATTR_* bits of the fields to set."),
  mode: le32,
  uid: le32,
  gid: le32,
  size: field(le64, { accessor: "fileSize" }),
  atime_sec: le64,
  atime_nsec: le64,
  mtime_sec: le64,
  mtime_nsec: le64,
}, { doc: "Tsetattr." });

/** Treaddir: fid[4] offset[8] count[4]. */
export const p9_treaddir: StructType = struct("p9_treaddir", {
  fid: le32,
  offset: field(le64, {
    accessor: "dirOffset",
    doc: "0, or the offset of the last entry returned so far.",
  }),
  count: doc(le32, "Most bytes of entries to return."),
}, { doc: "Treaddir." });

/** One directory entry of Rreaddir: qid[13] offset[8] type[1] name[s]. */
export const p9_dirent: StructType = struct("p9_dirent", {
  qid: p9_qid,
  offset: field(le64, { accessor: "nextOffset", doc: "Where the next Treaddir resumes." }),
  type: doc(u8, "The entry's d_type (DT_*)."),
}, { doc: "The fixed part of an Rreaddir entry; name[s] follows." });

/** Tmkdir: dfid[4] name[s] mode[4] gid[4]. */
export const p9_tmkdir: StructType = struct("p9_tmkdir", {
  dfid: doc(le32, "The parent directory."),
}, { doc: "Tmkdir's fixed part (also Tsymlink: fid[4]); strings and words follow." });

/** Trename: fid[4] dfid[4] name[s]. */
export const p9_trename: StructType = struct("p9_trename", {
  fid: doc(le32, "The file to move."),
  dfid: doc(le32, "The directory to move it into."),
}, { doc: "Trename's fixed part; name[s] follows." });

/** Tlink: dfid[4] fid[4] name[s]. */
export const p9_tlink: StructType = struct("p9_tlink", {
  dfid: doc(le32, "The directory of the new name."),
  fid: doc(le32, "The existing file."),
}, { doc: "Tlink's fixed part; name[s] follows." });

/** Txattrwalk: fid[4] newfid[4] name[s]. */
export const p9_txattrwalk: StructType = struct("p9_txattrwalk", {
  fid: le32,
  newfid: doc(le32, "Bound to the attribute's value, read with Tread."),
}, { doc: "Txattrwalk's fixed part; name[s] (empty: the list of names) follows." });

/** Rstatfs: the file system's statistics. */
export const p9_rstatfs: StructType = struct("p9_rstatfs", {
  type: doc(le32, "V9FS_MAGIC."),
  bsize: le32,
  blocks: le64,
  bfree: le64,
  bavail: le64,
  files: le64,
  ffree: le64,
  fsid: le64,
  namelen: le32,
}, { doc: "Rstatfs." });

/** Tfsync: fid[4] datasync[4]. */
export const p9_tfsync: StructType = struct("p9_tfsync", {
  fid: le32,
  datasync: doc(le32, "Non-zero: data only (fdatasync)."),
}, { doc: "Tfsync." });

/** Tlock: fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s]. */
export const p9_tlock: StructType = struct("p9_tlock", {
  fid: le32,
  type: doc(u8, "P9_LOCK_TYPE_*."),
  flags: doc(le32, "1: block, 2: reclaim."),
  start: le64,
  length: le64,
  proc_id: le32,
}, { doc: "Tlock's fixed part; client_id[s] follows." });

/** Tgetlock: fid[4] type[1] start[8] length[8] proc_id[4] client_id[s]. */
export const p9_tgetlock: StructType = struct("p9_tgetlock", {
  fid: le32,
  type: doc(u8, "P9_LOCK_TYPE_*."),
  start: le64,
  length: le64,
  proc_id: le32,
}, { doc: "Tgetlock's fixed part; client_id[s] follows." });

/** Rgetlock: type[1] start[8] length[8] proc_id[4] client_id[s]. */
export const p9_rgetlock: StructType = struct("p9_rgetlock", {
  type: doc(u8, "P9_LOCK_TYPE_UNLCK when nothing conflicts."),
  start: le64,
  length: le64,
  proc_id: le32,
}, { doc: "Rgetlock's fixed part; client_id[s] follows." });

/** Tflush: oldtag[2]. */
export const p9_tflush: StructType = struct("p9_tflush", {
  oldtag: doc(le16, "The tag of the request to flush."),
}, { doc: "Tflush." });

/** Rlerror: ecode[4]. */
export const p9_rlerror: StructType = struct("p9_rlerror", {
  ecode: doc(le32, "A Linux errno."),
}, { doc: "Rlerror." });
