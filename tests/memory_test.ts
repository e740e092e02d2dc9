// Guest memory and the DMA allocator.
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryError } from "../src/errors.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";

Deno.test("regions over ArrayBuffer, SharedArrayBuffer and a byte range are zero-copy", () => {
  const ab = new ArrayBuffer(0x1000);
  const sab = new SharedArrayBuffer(0x1000);
  const backing = new Uint8Array(0x3000);
  const mem = new GuestMemory([
    { base: 0x10000, buffer: sab },
    { base: 0, buffer: ab },
    { base: 0x20000, buffer: backing.subarray(0x1000, 0x2000) },
  ]);
  assert.deepEqual(mem.regions.map((r) => r.base), [0, 0x10000, 0x20000]);
  assert.equal(mem.shared, true);
  mem.writeUint32(0x10, 0xdeadbeef);
  assert.equal(new DataView(ab).getUint32(0x10, true), 0xdeadbeef);
  mem.bytes(0x10004, 2).set([7, 8]);
  assert.deepEqual([...new Uint8Array(sab, 4, 2)], [7, 8]);
  mem.view(0x20000, 8).setBigUint64(0, 0x0102030405060708n, true);
  assert.equal(backing[0x1000], 8, "the region starts at the subarray's offset");
  assert.equal(mem.readBigUint64(0x20000), 0x0102030405060708n);
  mem.writeUint16(0x20ffe, 0xabcd);
  assert.equal(mem.readUint16(0x20ffe), 0xabcd);
  assert.equal(backing[0x2000], 0, "nothing past the region's end was touched");
  mem.writeUint8(3, 9);
  assert.equal(mem.readUint8(3), 9);
  mem.writeBigUint64(0x100, 5n);
  assert.equal(mem.readUint32(0x100), 5);
  const dst = new Uint8Array(2);
  mem.read(0x10004, dst);
  assert.deepEqual([...dst], [7, 8]);
  mem.write(0x20, dst);
  assert.deepEqual([...mem.bytes(0x20, 2)], [7, 8]);
});

Deno.test("accesses outside memory, across a region's end or overflowing are MemoryErrors", () => {
  const mem = new GuestMemory([{ base: 0x1000, buffer: new ArrayBuffer(0x1000) }, {
    base: 0x2000,
    buffer: new ArrayBuffer(0x1000),
  }]);
  const fails = (fn: () => unknown, addr: number, code: string, re: RegExp) =>
    assert.throws(
      fn,
      (e) =>
        e instanceof MemoryError && e.address === addr && e.code === code && re.test(e.message),
    );
  fails(
    () => mem.bytes(0x800, 4),
    0x800,
    "ERR_VIRTIO_MEMORY_OUTSIDE",
    /outside every memory region/,
  );
  fails(
    () => mem.bytes(0x1ffe, 4),
    0x1ffe,
    "ERR_VIRTIO_MEMORY_CROSSES_REGION",
    /crosses the end of the region 0x1000\+4096/,
  );
  fails(() => mem.view(0x3000, 1), 0x3000, "ERR_VIRTIO_MEMORY_OUTSIDE", /outside every/);
  fails(() => mem.bytes(2 ** 53 - 2, 4), 2 ** 53 - 2, "ERR_VIRTIO_MEMORY_OVERFLOW", /2\^53/);
  // A negative address reads as one: -0x4, not 0x-4.
  fails(
    () => mem.bytes(-4, 4),
    -4,
    "ERR_VIRTIO_MEMORY_BAD_ADDRESS",
    /^guest memory -0x4\+4: address is not a non-negative/,
  );
  fails(() => mem.bytes(0x1000, -1), 0x1000, "ERR_VIRTIO_MEMORY_BAD_LENGTH", /length/);
  fails(() => mem.bytes(0.5, 1), 0.5, "ERR_VIRTIO_MEMORY_BAD_ADDRESS", /non-negative safe integer/);
  assert.equal(mem.findRegion(0x1ffe, 4), -1);
  assert.equal(mem.findRegion(0x2000, 0x1000), 1);
  assert.equal(mem.bytes(0x2fff, 0).length, 0, "an empty range at the last byte");
  assert.throws(
    () => mem.addRegion(0x2800, new ArrayBuffer(0x1000)),
    (e) =>
      e instanceof MemoryError && e.code === "ERR_VIRTIO_MEMORY_REGION_OVERLAP" &&
      /overlaps the region at 0x2000/.test(e.message),
  );
  assert.throws(
    () => mem.addRegion(-0x1000, new ArrayBuffer(16)),
    (e) => e instanceof MemoryError && e.code === "ERR_VIRTIO_MEMORY_BAD_REGION",
  );
});

Deno.test("DmaAllocator: alignment, exhaustion, coalescing, bad frees", () => {
  const a = new DmaAllocator(0x1000, 0x100);
  const x = a.alloc(0x10, 0x40);
  assert.equal(x, 0x1000);
  const y = a.alloc(0x10, 0x40);
  assert.equal(y, 0x1040);
  const z = a.alloc(1);
  assert.equal(z, 0x1010, "first fit uses the gap before y");
  assert.equal(a.bytesUsed, 0x21);
  assert.equal(a.tryAlloc(0x100), -1);
  assert.throws(
    () => a.alloc(0x100),
    (e) => e instanceof MemoryError && e.code === "ERR_VIRTIO_MEMORY_EXHAUSTED",
  );
  a.free(x);
  a.free(y);
  a.free(z);
  assert.equal(a.bytesUsed, 0);
  assert.equal(a.alloc(0x100), 0x1000, "all extents coalesced back into one");
  const code = (c: string) => (e: unknown) => e instanceof MemoryError && e.code === c;
  assert.throws(() => a.free(0x1001), code("ERR_VIRTIO_MEMORY_BAD_FREE"));
  assert.throws(() => a.alloc(8, 3), code("ERR_VIRTIO_MEMORY_ALLOC_ALIGN"));
  assert.throws(() => a.alloc(8, 3), /aligned to 3: not a power of two/);
  assert.throws(() => a.alloc(-8), code("ERR_VIRTIO_MEMORY_ALLOC_SIZE"));
  assert.throws(() => new DmaAllocator(0, 0), code("ERR_VIRTIO_MEMORY_BAD_ALLOCATOR"));
});

Deno.test("DmaAllocator property: allocations never overlap, stay in range and are aligned", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            size: fc.integer({ min: 1, max: 300 }),
            align: fc.constantFrom(1, 2, 8, 16, 64, 4096),
          }),
          fc.nat(),
        ),
        { maxLength: 200 },
      ),
      (ops) => {
        const a = new DmaAllocator(0x10000, 0x4000);
        const live = new Map<number, number>();
        for (const op of ops) {
          if (typeof op === "number") {
            const keys = [...live.keys()];
            if (keys.length === 0) continue;
            const k = keys[op % keys.length];
            a.free(k);
            live.delete(k);
            continue;
          }
          const p = a.tryAlloc(op.size, op.align);
          if (p < 0) continue;
          assert.equal(p % op.align, 0);
          assert.ok(p >= 0x10000 && p + op.size <= 0x14000);
          for (const [q, s] of live) assert.ok(p + op.size <= q || q + s <= p, "no overlap");
          live.set(p, op.size);
        }
        assert.equal(a.bytesUsed, [...live.values()].reduce((x, y) => x + y, 0));
        for (const k of live.keys()) a.free(k);
        assert.equal(a.tryAlloc(0x4000), 0x10000, "everything coalesces after freeing all");
      },
    ),
    { seed: 36 },
  );
});

Deno.test("regionFor: the region holding a range, cached; NaN and negative values are not found", () => {
  const mem = new GuestMemory([
    { base: 0x1000, buffer: new ArrayBuffer(0x1000) },
    { base: 0x4000, buffer: new ArrayBuffer(0x1000) },
  ]);
  const [a, b] = mem.regions;
  assert.equal(mem.regionFor(0x1000, 0x1000), a);
  assert.equal(mem.regionFor(0x4ff0, 16), b);
  assert.equal(mem.regionFor(0x4ff0, 16), b, "again, from the cache");
  assert.equal(mem.findRegion(0x4ff0, 16), 1);
  assert.equal(mem.regionFor(0x4ff0, 17), undefined, "crosses the end");
  assert.equal(mem.regionFor(0x2000, 0), undefined, "between regions");
  // The cache holds region b: values that fail every comparison must not pass.
  assert.equal(mem.regionFor(NaN, 4), undefined);
  assert.equal(mem.regionFor(0x4000, NaN), undefined);
  assert.equal(mem.regionFor(0x4000, -1), undefined);
  assert.equal(mem.findRegion(NaN, 4), -1);
  assert.equal(mem.regionFor(2 ** 64, 4), undefined);
  // Adding a region re-sorts the list; lookups stay right.
  const c = mem.addRegion(0, new ArrayBuffer(0x1000));
  assert.equal(mem.regionFor(0x10, 4), c);
  assert.equal(mem.findRegion(0x4000, 4), 2);
});
