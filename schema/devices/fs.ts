/**
 * The file system device (spec 5.11): FUSE over virtio. Its configuration
 * (5.11.4) and feature bits (5.11.3). The request and notification
 * buffers (`virtio_fs_req`, 5.11.6) carry FUSE messages: a device-readable
 * request (fuse_in_header and its arguments) and a device-writable reply
 * (fuse_out_header and its result). The FUSE layouts come from the FUSE
 * kernel protocol (version 7), which the spec refers to.
 *
 * @module
 */
import {
  addr,
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

/** 5.11.3: file system device feature bits. */
export const virtio_fs_features: ConstantGroup = featureBits("virtio_fs_features", {
  VIRTIO_FS_F_NOTIFICATION: {
    value: 0,
    doc: "FUSE notify messages are supported; virtqueue 1 is the notification queue.",
  },
}, { doc: "5.11.3: file system device feature bits." });

/** 5.11.4: the file system device's configuration layout. */
export const virtio_fs_config: StructType = struct("virtio_fs_config", {
  tag: doc(
    array(u8, 36),
    "Name of the file system (char[36]), UTF-8, NUL-padded; no NUL when it fills the field.",
  ),
  num_request_queues: doc(le32, "Number of request virtqueues, 1 or more."),
  notify_buf_size: doc(
    le32,
    "With VIRTIO_FS_F_NOTIFICATION: minimum size in bytes of each notification queue buffer.",
  ),
}, { doc: "5.11.4: file system device configuration; read-only for the driver." });

// ---------------------------------------------------------------------------
// FUSE (5.11.6: requests carry FUSE messages). The layouts below are those of
// the FUSE kernel protocol, major version 7 (Linux include/uapi/linux/fuse.h):
// little-endian on the little-endian guests this project serves, no implicit
// padding, every struct a multiple of 8 bytes.

/** 5.11.2: virtqueue indices of the file system device. */
export const virtio_fs_queues: ConstantGroup = enumeration("virtio_fs_queues", {
  hiprio: { value: 0, doc: "High-priority queue: FORGET, BATCH_FORGET and INTERRUPT." },
  notification: { value: 1, doc: "With VIRTIO_FS_F_NOTIFICATION only: notification queue." },
}, {
  doc: "5.11.2: virtqueue indices; request queues follow hiprio (and notification, if offered).",
  exportMembers: false,
});

/** FUSE protocol version numbers this project speaks. */
export const fuse_version: ConstantGroup = enumeration("fuse_version", {
  FUSE_KERNEL_VERSION: { value: 7, doc: "FUSE major protocol version." },
  FUSE_ROOT_ID: { value: 1, doc: "The node id of the root directory." },
}, { doc: "FUSE protocol constants." });

/** FUSE request opcodes. */
export const fuse_opcode: ConstantGroup = enumeration("fuse_opcode", {
  FUSE_LOOKUP: 1,
  FUSE_FORGET: { value: 2, doc: "No reply." },
  FUSE_GETATTR: 3,
  FUSE_SETATTR: 4,
  FUSE_READLINK: 5,
  FUSE_SYMLINK: 6,
  FUSE_MKNOD: 8,
  FUSE_MKDIR: 9,
  FUSE_UNLINK: 10,
  FUSE_RMDIR: 11,
  FUSE_RENAME: 12,
  FUSE_LINK: 13,
  FUSE_OPEN: 14,
  FUSE_READ: 15,
  FUSE_WRITE: 16,
  FUSE_STATFS: 17,
  FUSE_RELEASE: 18,
  FUSE_FSYNC: 20,
  FUSE_SETXATTR: 21,
  FUSE_GETXATTR: 22,
  FUSE_LISTXATTR: 23,
  FUSE_REMOVEXATTR: 24,
  FUSE_FLUSH: 25,
  FUSE_INIT: 26,
  FUSE_OPENDIR: 27,
  FUSE_READDIR: 28,
  FUSE_RELEASEDIR: 29,
  FUSE_FSYNCDIR: 30,
  FUSE_GETLK: 31,
  FUSE_SETLK: 32,
  FUSE_SETLKW: 33,
  FUSE_ACCESS: 34,
  FUSE_CREATE: 35,
  FUSE_INTERRUPT: 36,
  FUSE_BMAP: 37,
  FUSE_DESTROY: 38,
  FUSE_IOCTL: 39,
  FUSE_POLL: 40,
  FUSE_NOTIFY_REPLY: 41,
  FUSE_BATCH_FORGET: { value: 42, doc: "No reply." },
  FUSE_FALLOCATE: 43,
  FUSE_READDIRPLUS: 44,
  FUSE_RENAME2: 45,
  FUSE_LSEEK: 46,
  FUSE_COPY_FILE_RANGE: 47,
  FUSE_SETUPMAPPING: 48,
  FUSE_REMOVEMAPPING: 49,
}, { doc: "FUSE request opcodes (fuse_in_header.opcode)." });

/** INIT flags (fuse_init_in.flags / fuse_init_out.flags). */
export const fuse_init_flags: ConstantGroup = flags("fuse_init_flags", {
  FUSE_ASYNC_READ: 1 << 0,
  FUSE_POSIX_LOCKS: 1 << 1,
  FUSE_FILE_OPS: 1 << 2,
  FUSE_ATOMIC_O_TRUNC: { value: 1 << 3, doc: "The file system handles O_TRUNC in OPEN." },
  FUSE_EXPORT_SUPPORT: { value: 1 << 4, doc: "The file system handles lookups of . and .." },
  FUSE_BIG_WRITES: { value: 1 << 5, doc: "Writes larger than 4 KiB." },
  FUSE_DONT_MASK: 1 << 6,
  FUSE_SPLICE_WRITE: 1 << 7,
  FUSE_SPLICE_MOVE: 1 << 8,
  FUSE_SPLICE_READ: 1 << 9,
  FUSE_FLOCK_LOCKS: 1 << 10,
  FUSE_HAS_IOCTL_DIR: 1 << 11,
  FUSE_AUTO_INVAL_DATA: 1 << 12,
  FUSE_DO_READDIRPLUS: { value: 1 << 13, doc: "READDIRPLUS (READDIR with LOOKUP) is supported." },
  FUSE_READDIRPLUS_AUTO: 1 << 14,
  FUSE_ASYNC_DIO: 1 << 15,
  FUSE_WRITEBACK_CACHE: 1 << 16,
  FUSE_NO_OPEN_SUPPORT: 1 << 17,
  FUSE_PARALLEL_DIROPS: 1 << 18,
  FUSE_HANDLE_KILLPRIV: 1 << 19,
  FUSE_POSIX_ACL: 1 << 20,
  FUSE_ABORT_ERROR: 1 << 21,
  FUSE_MAX_PAGES: { value: 1 << 22, doc: "fuse_init_out.max_pages is valid." },
  FUSE_CACHE_SYMLINKS: 1 << 23,
  FUSE_NO_OPENDIR_SUPPORT: 1 << 24,
  FUSE_EXPLICIT_INVAL_DATA: 1 << 25,
  FUSE_MAP_ALIGNMENT: 1 << 26,
  FUSE_SUBMOUNTS: 1 << 27,
}, { doc: "FUSE_INIT flags, as the driver offers them and the device accepts them." });

/** fuse_setattr_in.valid bits. */
export const fuse_setattr_valid: ConstantGroup = flags("fuse_setattr_valid", {
  FATTR_MODE: 1 << 0,
  FATTR_UID: 1 << 1,
  FATTR_GID: 1 << 2,
  FATTR_SIZE: 1 << 3,
  FATTR_ATIME: 1 << 4,
  FATTR_MTIME: 1 << 5,
  FATTR_FH: 1 << 6,
  FATTR_ATIME_NOW: 1 << 7,
  FATTR_MTIME_NOW: 1 << 8,
  FATTR_LOCKOWNER: 1 << 9,
  FATTR_CTIME: 1 << 10,
}, { doc: "Which fields of fuse_setattr_in are to be set." });

/** fuse_open_out.open_flags bits. */
export const fuse_open_flags: ConstantGroup = flags("fuse_open_flags", {
  FOPEN_DIRECT_IO: 1 << 0,
  FOPEN_KEEP_CACHE: 1 << 1,
  FOPEN_NONSEEKABLE: 1 << 2,
  FOPEN_CACHE_DIR: 1 << 3,
  FOPEN_STREAM: 1 << 4,
}, { doc: "Flags the device returns for OPEN/OPENDIR/CREATE." });

/** fuse_getattr_in.getattr_flags bits. */
export const fuse_getattr_flags: ConstantGroup = flags("fuse_getattr_flags", {
  FUSE_GETATTR_FH: { value: 1 << 0, doc: "fuse_getattr_in.fh is valid." },
}, { doc: "GETATTR flags." });

/** fuse_fsync_in.fsync_flags bits. */
export const fuse_fsync_flags: ConstantGroup = flags("fuse_fsync_flags", {
  FUSE_FSYNC_FDATASYNC: { value: 1 << 0, doc: "Sync data only, not metadata." },
}, { doc: "FSYNC flags." });

/** RENAME2 flags (the renameat2 flags). */
export const fuse_rename_flags: ConstantGroup = flags("fuse_rename_flags", {
  RENAME_NOREPLACE: { value: 1 << 0, doc: "Fail with EEXIST if the target exists." },
  RENAME_EXCHANGE: { value: 1 << 1, doc: "Exchange source and target atomically." },
  RENAME_WHITEOUT: { value: 1 << 2, doc: "Leave a whiteout at the source." },
}, { doc: "fuse_rename2_in.flags (renameat2(2))." });

/** FUSE_MIN_READ_BUFFER and the compat sizes. */
export const fuse_sizes: ConstantGroup = enumeration("fuse_sizes", {
  FUSE_MIN_READ_BUFFER: { value: 8192, doc: "A request buffer is at least this large." },
  FUSE_COMPAT_ENTRY_OUT_SIZE: { value: 120, doc: "fuse_entry_out before minor 9." },
  FUSE_COMPAT_ATTR_OUT_SIZE: { value: 96, doc: "fuse_attr_out before minor 9." },
  FUSE_COMPAT_INIT_OUT_SIZE: { value: 8, doc: "fuse_init_out before minor 5." },
  FUSE_COMPAT_22_INIT_OUT_SIZE: { value: 24, doc: "fuse_init_out before minor 23." },
}, { doc: "FUSE buffer and compatibility sizes." });

/** Header of every FUSE request. */
export const fuse_in_header: StructType = struct("fuse_in_header", {
  len: doc(le32, "Length of the whole request, header included."),
  opcode: doc(le32, "The operation (fuse_opcode)."),
  unique: doc(le64, "Request id; the reply carries it back."),
  nodeid: addr(le64, "The node the request is about."),
  uid: le32,
  gid: le32,
  pid: le32,
  padding: le32,
}, { doc: "Header of every FUSE request (driver to device)." });

/** Header of every FUSE reply. */
export const fuse_out_header: StructType = struct("fuse_out_header", {
  len: doc(le32, "Length of the whole reply, header included."),
  error: doc(le32, "0, or a negative errno (as a signed 32-bit value)."),
  unique: doc(le64, "The request's unique id."),
}, { doc: "Header of every FUSE reply (device to driver)." });

/** Attributes of a node. */
export const fuse_attr: StructType = struct("fuse_attr", {
  ino: le64,
  size: field(le64, { asNumber: true, accessor: "fileSize" }),
  blocks: addr(),
  atime: le64,
  mtime: le64,
  ctime: le64,
  atimensec: le32,
  mtimensec: le32,
  ctimensec: le32,
  mode: doc(le32, "File type and permission bits (S_IF* | 07777)."),
  nlink: le32,
  uid: le32,
  gid: le32,
  rdev: le32,
  blksize: le32,
  flags: le32,
}, { doc: "Attributes of a node, as stat(2) gives them." });

/** Statistics of the file system. */
export const fuse_kstatfs: StructType = struct("fuse_kstatfs", {
  blocks: le64,
  bfree: le64,
  bavail: le64,
  files: le64,
  ffree: le64,
  bsize: le32,
  namelen: le32,
  frsize: le32,
  padding: le32,
  spare: array(le32, 6),
}, { doc: "File system statistics, as statfs(2) gives them." });

/** Reply to LOOKUP, MKNOD, MKDIR, SYMLINK, LINK (and the first part of CREATE's). */
export const fuse_entry_out: StructType = struct("fuse_entry_out", {
  nodeid: addr(le64, "The node id the driver uses from now on (one more lookup reference)."),
  generation: le64,
  entry_valid: doc(le64, "Seconds the name may be cached."),
  attr_valid: doc(le64, "Seconds the attributes may be cached."),
  entry_valid_nsec: le32,
  attr_valid_nsec: le32,
  attr: fuse_attr,
}, { doc: "A new reference to a node, with its attributes." });

/** FORGET's argument. */
export const fuse_forget_in: StructType = struct("fuse_forget_in", {
  nlookup: doc(le64, "How many lookup references the driver drops."),
}, { doc: "FORGET: drop lookup references of fuse_in_header.nodeid." });

/** One entry of BATCH_FORGET. */
export const fuse_forget_one: StructType = struct("fuse_forget_one", {
  nodeid: addr(),
  nlookup: le64,
}, { doc: "One node of a BATCH_FORGET." });

/** BATCH_FORGET's argument, followed by `count` fuse_forget_one. */
export const fuse_batch_forget_in: StructType = struct("fuse_batch_forget_in", {
  count: le32,
  dummy: le32,
}, { doc: "BATCH_FORGET: count fuse_forget_one entries follow." });

/** GETATTR's argument. */
export const fuse_getattr_in: StructType = struct("fuse_getattr_in", {
  getattr_flags: le32,
  dummy: le32,
  fh: addr(),
}, { doc: "GETATTR: optionally by an open handle (FUSE_GETATTR_FH)." });

/** Reply to GETATTR and SETATTR. */
export const fuse_attr_out: StructType = struct("fuse_attr_out", {
  attr_valid: le64,
  attr_valid_nsec: le32,
  dummy: le32,
  attr: fuse_attr,
}, { doc: "Attributes with their cache timeout." });

/** MKNOD's argument, followed by the name. */
export const fuse_mknod_in: StructType = struct("fuse_mknod_in", {
  mode: le32,
  rdev: le32,
  umask: le32,
  padding: le32,
}, { doc: "MKNOD: the NUL-terminated name follows." });

/** MKDIR's argument, followed by the name. */
export const fuse_mkdir_in: StructType = struct("fuse_mkdir_in", {
  mode: le32,
  umask: le32,
}, { doc: "MKDIR: the NUL-terminated name follows." });

/** RENAME's argument, followed by the old and the new name. */
export const fuse_rename_in: StructType = struct("fuse_rename_in", {
  newdir: addr(),
}, { doc: "RENAME: two NUL-terminated names follow." });

/** RENAME2's argument, followed by the old and the new name. */
export const fuse_rename2_in: StructType = struct("fuse_rename2_in", {
  newdir: addr(),
  flags: le32,
  padding: le32,
}, { doc: "RENAME2: two NUL-terminated names follow." });

/** LINK's argument, followed by the new name. */
export const fuse_link_in: StructType = struct("fuse_link_in", {
  oldnodeid: addr(),
}, { doc: "LINK: the NUL-terminated new name follows." });

/** SETATTR's argument. */
export const fuse_setattr_in: StructType = struct("fuse_setattr_in", {
  valid: doc(le32, "Which fields to set (fuse_setattr_valid)."),
  padding: le32,
  fh: addr(),
  size: field(le64, { asNumber: true, accessor: "fileSize" }),
  lock_owner: le64,
  atime: addr(),
  mtime: addr(),
  ctime: addr(),
  atimensec: le32,
  mtimensec: le32,
  ctimensec: le32,
  mode: le32,
  unused4: le32,
  uid: le32,
  gid: le32,
  unused5: le32,
}, { doc: "SETATTR: set the fields named by valid." });

/** OPEN/OPENDIR's argument. */
export const fuse_open_in: StructType = struct("fuse_open_in", {
  flags: doc(le32, "open(2) flags."),
  unused: le32,
}, { doc: "OPEN and OPENDIR." });

/** CREATE's argument, followed by the name. */
export const fuse_create_in: StructType = struct("fuse_create_in", {
  flags: le32,
  mode: le32,
  umask: le32,
  padding: le32,
}, { doc: "CREATE: the NUL-terminated name follows." });

/** Reply to OPEN/OPENDIR (and the second part of CREATE's). */
export const fuse_open_out: StructType = struct("fuse_open_out", {
  fh: addr(),
  open_flags: le32,
  padding: le32,
}, { doc: "An open handle." });

/** RELEASE/RELEASEDIR's argument. */
export const fuse_release_in: StructType = struct("fuse_release_in", {
  fh: addr(),
  flags: le32,
  release_flags: le32,
  lock_owner: le64,
}, { doc: "RELEASE and RELEASEDIR: close a handle." });

/** FLUSH's argument. */
export const fuse_flush_in: StructType = struct("fuse_flush_in", {
  fh: addr(),
  unused: le32,
  padding: le32,
  lock_owner: le64,
}, { doc: "FLUSH: a close(2) of one descriptor of the handle." });

/** READ/READDIR/READDIRPLUS's argument. */
export const fuse_read_in: StructType = struct("fuse_read_in", {
  fh: addr(),
  offset: field(le64, { asNumber: true, accessor: "readOffset" }),
  size: field(le32, { accessor: "readSize" }),
  read_flags: le32,
  lock_owner: le64,
  flags: le32,
  padding: le32,
}, { doc: "READ, READDIR and READDIRPLUS." });

/** WRITE's argument, followed by the data. */
export const fuse_write_in: StructType = struct("fuse_write_in", {
  fh: addr(),
  offset: field(le64, { asNumber: true, accessor: "writeOffset" }),
  size: field(le32, { accessor: "writeSize" }),
  write_flags: le32,
  lock_owner: le64,
  flags: le32,
  padding: le32,
}, { doc: "WRITE: size bytes of data follow." });

/** Reply to WRITE. */
export const fuse_write_out: StructType = struct("fuse_write_out", {
  size: field(le32, { accessor: "written" }),
  padding: le32,
}, { doc: "Bytes written." });

/** Reply to STATFS. */
export const fuse_statfs_out: StructType = struct("fuse_statfs_out", {
  st: fuse_kstatfs,
}, { doc: "STATFS reply." });

/** FSYNC/FSYNCDIR's argument. */
export const fuse_fsync_in: StructType = struct("fuse_fsync_in", {
  fh: addr(),
  fsync_flags: le32,
  padding: le32,
}, { doc: "FSYNC and FSYNCDIR." });

/** SETXATTR's argument, followed by the name and the value. */
export const fuse_setxattr_in: StructType = struct("fuse_setxattr_in", {
  size: field(le32, { accessor: "valueSize" }),
  flags: doc(le32, "XATTR_CREATE (1) / XATTR_REPLACE (2)."),
}, { doc: "SETXATTR: the NUL-terminated name, then size bytes of value follow." });

/** GETXATTR/LISTXATTR's argument. */
export const fuse_getxattr_in: StructType = struct("fuse_getxattr_in", {
  size: field(le32, { accessor: "bufferSize" }),
  padding: le32,
}, { doc: "GETXATTR (name follows) and LISTXATTR; size 0 asks for the size." });

/** Reply to GETXATTR/LISTXATTR with size 0. */
export const fuse_getxattr_out: StructType = struct("fuse_getxattr_out", {
  size: field(le32, { accessor: "valueSize" }),
  padding: le32,
}, { doc: "The size a GETXATTR or LISTXATTR reply would need." });

/** INIT's argument (the first 16 bytes; minor 36 and later add flags2 and more). */
export const fuse_init_in: StructType = struct("fuse_init_in", {
  major: le32,
  minor: le32,
  max_readahead: le32,
  flags: le32,
}, { doc: "INIT: the driver's version and the flags it offers." });

/** Reply to INIT. */
export const fuse_init_out: StructType = struct("fuse_init_out", {
  major: le32,
  minor: le32,
  max_readahead: le32,
  flags: le32,
  max_background: le16,
  congestion_threshold: le16,
  max_write: le32,
  time_gran: le32,
  max_pages: le16,
  map_alignment: le16,
  unused: array(le32, 8),
}, { doc: "INIT reply: the version and flags the device accepts, and its limits." });

/** FALLOCATE's argument. */
export const fuse_fallocate_in: StructType = struct("fuse_fallocate_in", {
  fh: addr(),
  offset: field(le64, { asNumber: true, accessor: "fallocOffset" }),
  length: addr(),
  mode: doc(le32, "fallocate(2) mode (FALLOC_FL_*)."),
  padding: le32,
}, { doc: "FALLOCATE." });

/** LSEEK's argument. */
export const fuse_lseek_in: StructType = struct("fuse_lseek_in", {
  fh: addr(),
  offset: field(le64, { asNumber: true, accessor: "seekOffset" }),
  whence: doc(le32, "SEEK_SET 0, SEEK_CUR 1, SEEK_END 2, SEEK_DATA 3, SEEK_HOLE 4."),
  padding: le32,
}, { doc: "LSEEK." });

/** Reply to LSEEK. */
export const fuse_lseek_out: StructType = struct("fuse_lseek_out", {
  offset: field(le64, { asNumber: true, accessor: "seekOffset" }),
}, { doc: "LSEEK reply: the resulting offset." });

/** INTERRUPT's argument. */
export const fuse_interrupt_in: StructType = struct("fuse_interrupt_in", {
  unique: le64,
}, { doc: "INTERRUPT: the unique id of the request to interrupt." });

/** A directory entry of a READDIR reply; the name (namelen bytes) follows, padded to 8. */
export const fuse_dirent: StructType = struct("fuse_dirent", {
  ino: le64,
  off: doc(le64, "Offset of the next entry, as the driver passes it back to READDIR."),
  namelen: le32,
  type: doc(le32, "DT_* type (the S_IF* type bits shifted right by 12)."),
}, { doc: "READDIR entry header; namelen bytes of name follow, padded to a multiple of 8." });

/** A directory entry of a READDIRPLUS reply; the name follows, padded to 8. */
export const fuse_direntplus: StructType = struct("fuse_direntplus", {
  entry_out: fuse_entry_out,
  dirent: fuse_dirent,
}, { doc: "READDIRPLUS entry: a lookup reply and a fuse_dirent; the name follows." });
