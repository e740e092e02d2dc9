// Storage with a SequentialBatch for the fuzzers (register_fuzz.ts, vhost_user_fuzz.ts): a
// MemoryStorage whose device holds a pass's reads and writes and runs them at its end, as
// FileStorage and PosixFileStorage do, so hostile rings and sessions meet the held-chain path.

import {
  type BlockBatch,
  type BlockStorage,
  type MemoryStorage,
  SequentialBatch,
} from "../../src/devices/blk/mod.ts";

/** `storage` with a {@link SequentialBatch}; `onQueue` is called for each read or write queued on it. */
export function withSequentialBatch(
  storage: MemoryStorage,
  onQueue: () => void = () => {},
): BlockStorage {
  const s: BlockStorage & { batch?: BlockBatch } = {
    size: storage.size,
    canUnmap: storage.canUnmap,
    read: (o, d) => storage.read(o, d),
    write: (o, b) => storage.write(o, b),
    flush: () => storage.flush(),
    discard: (o, n) => storage.discard(o, n),
    writeZeroes: (o, n, u) => storage.writeZeroes(o, n, u),
  };
  const inner = new SequentialBatch(s);
  s.batch = {
    readv: (o, d) => (onQueue(), inner.readv(o, d)),
    writev: (o, b) => (onQueue(), inner.writev(o, b)),
    submit: () => inner.submit(),
    result: (slot) => inner.result(slot),
  };
  return s;
}
