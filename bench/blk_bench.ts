// virtio-blk: 4 KiB random reads and writes at queue depth 1 and 32 through
// the whole stack (BlkDisk driver, PCI transport, BlkDevice, file storage)
// against plain `pread`/`pwrite` on the same image file, in the same run.
// Each iteration moves 32 blocks of 4 KiB: at depth 1 one request at a time
// (each awaited), at depth 32 all 32 in flight at once. `deno bench` prints
// each line's cost relative to its group's baseline.
//
// Two baselines, each against the stack over the storage making the same
// system call: `node:fs` `readSync`/`writeSync` at a position (one
// `pread`/`pwrite`, what `FileStorage` calls), and, with `--allow-ffi`,
// libc's `pread`/`pwrite` through Deno FFI (what `PosixFileStorage` calls).
// With `--allow-ffi` the first group also has the stack over `UringFileStorage`
// (io_uring: one `io_uring_enter` per queue pass, 32 requests at depth 32).
// On ext4 and tmpfs io_uring hands every buffered write to its worker thread,
// whose time overlaps the caller's: compare its write lines by CPU time
// (bench/_bench_compare.ts, bench/_blk_uring_compare.ts), not wall clock.
// A seek and a read on a `Deno.FsFile` (two system calls) is shown beside
// the first for reference, and so is the floor: a bare split ring written by
// hand, one promise per request, one `pread`/`pwrite` per request
// (bench/_blk_floor.ts), what any promise-based request through a ring
// costs here before the stack's layers.
//
// Run: deno bench --allow-read --allow-write [--allow-ffi] bench/blk_bench.ts

import { readSync, writeSync } from "node:fs";
import { openSync as openFd } from "node:fs";
import { blkStack, blockOffsets } from "./_blk_rig.ts";
import { BareRingDisk } from "./_blk_floor.ts";
import { type Libc, openLibc } from "../src/_libc.ts";
import {
  AsyncFileStorage,
  type BlkDisk,
  FileStorage,
  PosixFileStorage,
  UringFileStorage,
} from "../src/devices/blk/mod.ts";

const IMAGE = 64 << 20;
const BLOCK = 4096;
const PER_ITER = 32;
const path = await Deno.makeTempFile({ prefix: "blk-bench-", suffix: ".img" });
{
  const f = await Deno.open(path, { write: true });
  await f.truncate(IMAGE);
  f.close();
}
globalThis.addEventListener("unload", () => Deno.removeSync(path));

// The same pseudo-random block numbers for every line.
const nextOffset = blockOffsets(IMAGE, BLOCK);
const stack = blkStack;

const plain = Deno.openSync(path, { read: true, write: true });
const fd = openFd(path, "r+");
// libc through FFI when permitted (the PosixFileStorage lines and their baseline).
const ffi = (await Deno.permissions.query({ name: "ffi" })).state === "granted";
const libc: Libc | undefined = ffi
  ? openLibc((os) => new Error(`blk bench: FFI lines need Linux; this is ${os}`))
  : undefined;
const cfd = libc?.open(new TextEncoder().encode(path + "\0"), 2, /* O_RDWR */ 0) ?? -1;
const plainAsync = Array.from(
  { length: 4 },
  () => Deno.openSync(path, { read: true, write: true }),
);
const syncDisk = await stack(new FileStorage(path));
const asyncDisk = await stack(new AsyncFileStorage(path, { handles: 4 }));
const posixDisk = ffi ? await stack(new PosixFileStorage(path)) : undefined;
// io_uring: the requests of a queue pass in one io_uring_enter (with --allow-ffi).
const uringDisk = ffi ? await stack(new UringFileStorage(path)) : undefined;
// The stack alone: storage that moves no byte (what the stack costs without the system call).
const nullDisk = await stack({ size: IMAGE, read() {}, write() {}, flush() {} });
// The floor: a hand-written split ring over the same descriptor as the baseline.
const floorDisk = new BareRingDisk(fd);
// The same, each request served inside its own call: no kick microtask (depth 1 only).
const floorNow = new BareRingDisk(fd, true);
// The floor must move the right bytes to be a fair line: a write through it reads back by pread,
// a block written by pwrite reads back through it, at depth 1 and with 32 in flight.
{
  const pattern = (seed: number) =>
    Uint8Array.from({ length: BLOCK }, (_, i) => (i * 7 + seed) & 0xff);
  const at = (i: number) => (IMAGE - (i + 1) * BLOCK);
  const got = new Uint8Array(BLOCK);
  await floorDisk.write(at(0), pattern(1));
  await floorNow.write(at(1), pattern(2));
  pwriteNode(at(2), pattern(3));
  const outs = Array.from({ length: 32 }, () => new Uint8Array(BLOCK));
  await Promise.all(outs.map((o, i) => floorDisk.read(at(i % 3), o)));
  for (let i = 0; i < 3; i++) {
    preadNode(at(i), got);
    if (got.join() !== pattern(i + 1).join() || outs[i].join() !== got.join()) {
      throw new Error(`blk bench: the bare ring moved the wrong bytes at block ${i}`);
    }
  }
  await floorNow.read(at(2), got);
  if (got.join() !== pattern(3).join()) throw new Error("blk bench: the bare ring misread");
}
const bufs = Array.from({ length: PER_ITER }, () => new Uint8Array(BLOCK).fill(0x5a));

function preadNode(off: number, buf: Uint8Array): void {
  let n = 0;
  while (n < buf.length) n += readSync(fd, buf, n, buf.length - n, off + n) || buf.length;
}
function pwriteNode(off: number, buf: Uint8Array): void {
  let n = 0;
  while (n < buf.length) n += writeSync(fd, buf, n, buf.length - n, off + n);
}
function preadFfi(l: Libc, off: number, buf: Uint8Array): void {
  if (Number(l.pread(cfd, buf, BigInt(buf.length), BigInt(off))) !== buf.length) {
    throw new Error("blk bench: short pread");
  }
}
function pwriteFfi(l: Libc, off: number, buf: Uint8Array): void {
  if (Number(l.pwrite(cfd, buf, BigInt(buf.length), BigInt(off))) !== buf.length) {
    throw new Error("blk bench: short pwrite");
  }
}
function plainRead(off: number, buf: Uint8Array): void {
  plain.seekSync(off, Deno.SeekMode.Start);
  let n = 0;
  while (n < buf.length) n += plain.readSync(buf.subarray(n)) ?? buf.length;
}
function plainWrite(off: number, buf: Uint8Array): void {
  plain.seekSync(off, Deno.SeekMode.Start);
  let n = 0;
  while (n < buf.length) n += plain.writeSync(buf.subarray(n));
}
async function plainAsyncOp(i: number, write: boolean): Promise<void> {
  const f = plainAsync[i & 3];
  // One outstanding op per handle at a time: chain on the handle.
  await f.seek(nextOffset(), Deno.SeekMode.Start);
  if (write) await f.write(bufs[i]);
  else await f.read(bufs[i]);
}

for (const write of [false, true]) {
  const op = write ? "write" : "read";
  const io = (d: BlkDisk, i: number) =>
    write ? d.write(nextOffset() / 512, bufs[i]) : d.read(nextOffset() / 512, bufs[i]);
  const pcall = write ? "pwrite" : "pread";

  for (const depth of [1, 32]) {
    const group = `${op} qd${depth}`;
    const qd = depth === 1 ? "" : ", 32 in flight";
    const through = async (d: BlkDisk) => {
      if (depth === 1) {
        for (let i = 0; i < PER_ITER; i++) await io(d, i);
        return;
      }
      const all: Promise<void>[] = [];
      for (let i = 0; i < PER_ITER; i++) all.push(io(d, i));
      await Promise.all(all);
    };
    Deno.bench(`${pcall} (node:fs at a position)${qd}`, { group, baseline: true }, () => {
      for (let i = 0; i < PER_ITER; i++) {
        write ? pwriteNode(nextOffset(), bufs[i]) : preadNode(nextOffset(), bufs[i]);
      }
    });
    Deno.bench(`virtio-blk stack ${op}, FileStorage${qd}`, { group }, () => through(syncDisk));
    Deno.bench(
      `floor: a bare split ring by hand, a promise per request, ${pcall}${qd}`,
      { group },
      async () => {
        const f = (i: number) =>
          write ? floorDisk.write(nextOffset(), bufs[i]) : floorDisk.read(nextOffset(), bufs[i]);
        if (depth === 1) {
          for (let i = 0; i < PER_ITER; i++) await f(i);
          return;
        }
        const all: Promise<undefined>[] = [];
        for (let i = 0; i < PER_ITER; i++) all.push(f(i));
        await Promise.all(all);
      },
    );
    if (depth === 1) {
      Deno.bench(
        `floor: the same, served inside the call (no kick microtask), ${pcall}`,
        { group },
        async () => {
          for (let i = 0; i < PER_ITER; i++) {
            await (write
              ? floorNow.write(nextOffset(), bufs[i])
              : floorNow.read(nextOffset(), bufs[i]));
          }
        },
      );
    }
    if (uringDisk !== undefined) {
      Deno.bench(
        `virtio-blk stack ${op}, UringFileStorage${qd}`,
        { group },
        () => through(uringDisk),
      );
    }
    Deno.bench(
      `virtio-blk stack ${op}, AsyncFileStorage${qd}`,
      { group },
      () => through(asyncDisk),
    );
    Deno.bench(
      `virtio-blk stack ${op}, no I/O (storage does nothing)${qd}`,
      { group },
      () => through(nullDisk),
    );
    Deno.bench(`seek + ${op} (Deno.FsFile), for reference${qd}`, { group }, () => {
      for (let i = 0; i < PER_ITER; i++) {
        write ? plainWrite(nextOffset(), bufs[i]) : plainRead(nextOffset(), bufs[i]);
      }
    });
    if (depth === 32) {
      Deno.bench(`seek + ${op}, async, 4 handles, for reference`, { group }, async () => {
        const chains: Promise<void>[] = [
          Promise.resolve(),
          Promise.resolve(),
          Promise.resolve(),
          Promise.resolve(),
        ];
        for (let i = 0; i < PER_ITER; i++) {
          chains[i & 3] = chains[i & 3].then(() => plainAsyncOp(i, write));
        }
        await Promise.all(chains);
      });
    }
    if (libc !== undefined && posixDisk !== undefined) {
      const l = libc;
      const ffiGroup = `${group}, FFI`;
      Deno.bench(`${pcall} (libc through FFI)${qd}`, { group: ffiGroup, baseline: true }, () => {
        for (let i = 0; i < PER_ITER; i++) {
          write ? pwriteFfi(l, nextOffset(), bufs[i]) : preadFfi(l, nextOffset(), bufs[i]);
        }
      });
      Deno.bench(
        `virtio-blk stack ${op}, PosixFileStorage${qd}`,
        { group: ffiGroup },
        () => through(posixDisk),
      );
    }
  }
}
