// The SET_MEM_TABLE checks no fuzz case reached (docs/reliability.md, "Fuzz
// coverage"): a hostile front-end's memory table with no region or too many,
// cut short, with an address beyond 2^53, an empty region, or a region that
// runs past the end of the address space is refused with a typed error before
// anything is mapped; so is a header cut short. Pure decoding, no socket.
import assert from "node:assert/strict";
import {
  checkRegions,
  decodeHeader,
  decodeMemoryTable,
  memoryTablePayload,
  type VhostUserMessage,
} from "../../../src/transport/vhost_user/_protocol.ts";
import { VhostUserError, VhostUserErrorCode } from "../../../src/transport/vhost_user/errors.ts";
import { VhostUserMemory, VhostUserMemoryRegion } from "../../../src/generated/vhost_user.ts";
import { VHOST_USER_SET_MEM_TABLE } from "../../../src/generated/vhost_user.ts";

/** A region as four raw 64-bit fields (so values past 2^53 can be written). */
interface RawRegion {
  gpa: bigint;
  size: bigint;
  uaddr: bigint;
  offset: bigint;
}

/** A SET_MEM_TABLE message claiming `nregions` and carrying `regions`, laid out by the schema. */
function table(nregions: number, regions: readonly RawRegion[], cut = 0): VhostUserMessage {
  const R = VhostUserMemoryRegion.OFFSETS;
  const payload = new Uint8Array(
    VhostUserMemory.OFFSETS.regions + regions.length * VhostUserMemoryRegion.SIZE,
  );
  const v = new DataView(payload.buffer);
  v.setUint32(VhostUserMemory.OFFSETS.nregions, nregions, true);
  regions.forEach((r, i) => {
    const at = VhostUserMemory.OFFSETS.regions + i * VhostUserMemoryRegion.SIZE;
    v.setBigUint64(at + R.guestPhysAddr, r.gpa, true);
    v.setBigUint64(at + R.memorySize, r.size, true);
    v.setBigUint64(at + R.userspaceAddr, r.uaddr, true);
    v.setBigUint64(at + R.mmapOffset, r.offset, true);
  });
  return {
    request: VHOST_USER_SET_MEM_TABLE,
    flags: 1,
    payload: payload.subarray(0, payload.length - cut),
    fds: [],
  };
}

const OK: RawRegion = { gpa: 0n, size: 0x10000n, uaddr: 0x7f0000000000n, offset: 0n };

function refused(m: VhostUserMessage, code: string, message: RegExp): void {
  assert.throws(() => decodeMemoryTable(m), (e: unknown) => {
    assert.ok(e instanceof VhostUserError, `a VhostUserError, not ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("SET_MEM_TABLE: a valid table decodes (the baseline of the refusals below)", () => {
  const regions = decodeMemoryTable(table(1, [OK]));
  assert.deepEqual(regions, [{
    guestPhysAddr: 0,
    memorySize: 0x10000,
    userspaceAddr: 0x7f0000000000,
    mmapOffset: 0,
  }]);
});

Deno.test("SET_MEM_TABLE: no region, or more than the 8 of the baseline, is refused", () => {
  refused(table(0, []), VhostUserErrorCode.BAD_MEMORY_TABLE, /0 regions \(1 to 8 allowed\)/);
  refused(table(9, [OK]), VhostUserErrorCode.BAD_MEMORY_TABLE, /9 regions/);
  refused(table(0xffffffff, [OK]), VhostUserErrorCode.BAD_MEMORY_TABLE, /4294967295 regions/);
});

Deno.test("SET_MEM_TABLE: a table shorter than its region count says is refused", () => {
  refused(table(2, [OK]), VhostUserErrorCode.SHORT_PAYLOAD, /too short for 2 memory regions/);
  refused(table(1, [OK], 1), VhostUserErrorCode.SHORT_PAYLOAD, /too short/);
  refused(table(1, [], 0), VhostUserErrorCode.SHORT_PAYLOAD, /too short/);
});

Deno.test("SET_MEM_TABLE: an address or size beyond 2^53 is refused, in every field", () => {
  // The generated accessors read such a field as a rounded number (at least
  // 2^53), never throwing, so the overflow check is what refuses it (the
  // BAD_ADDRESS catch around the reads is not reached; docs/reliability.md).
  for (const big of [1n << 53n, (1n << 53n) + 1n, 1n << 60n, (1n << 64n) - 1n]) {
    for (const field of ["gpa", "size", "uaddr", "offset"] as const) {
      refused(
        table(1, [{ ...OK, [field]: big }]),
        VhostUserErrorCode.BAD_MEMORY_TABLE,
        /region 0 overflows the address space/,
      );
    }
  }
  // The second region too, not only the first.
  refused(
    table(2, [OK, { ...OK, gpa: 0x100000n, uaddr: 1n << 60n }]),
    VhostUserErrorCode.BAD_MEMORY_TABLE,
    /region 1 overflows/,
  );
});

Deno.test("SET_MEM_TABLE: an empty region is refused", () => {
  refused(
    table(1, [{ ...OK, size: 0n }]),
    VhostUserErrorCode.BAD_MEMORY_TABLE,
    /region 0 is empty/,
  );
});

Deno.test("SET_MEM_TABLE: a region running past 2^53 (base + size) is refused", () => {
  const top = BigInt(Number.MAX_SAFE_INTEGER);
  for (const field of ["gpa", "uaddr", "offset"] as const) {
    refused(
      table(1, [{ ...OK, [field]: top - 0x1000n }]),
      VhostUserErrorCode.BAD_MEMORY_TABLE,
      /region 0 overflows the address space/,
    );
  }
});

Deno.test("memory tables we send: none, or more than 8 regions, is refused before sending", () => {
  const r = { guestPhysAddr: 0, memorySize: 0x1000, userspaceAddr: 0, mmapOffset: 0 };
  for (const n of [0, 9]) {
    assert.throws(
      () => memoryTablePayload(Array.from({ length: n }, (_, i) => ({ ...r, guestPhysAddr: i }))),
      (e: unknown) => e instanceof VhostUserError && e.code === VhostUserErrorCode.BAD_MEMORY_TABLE,
    );
  }
  // checkRegions is the same rule for both directions.
  assert.throws(
    () => checkRegions([{ ...r, memorySize: 0 }]),
    (e: unknown) => e instanceof VhostUserError && e.code === VhostUserErrorCode.BAD_MEMORY_TABLE,
  );
});

Deno.test("a message header cut short is refused with SHORT_PAYLOAD", () => {
  for (const n of [0, 1, 11]) {
    assert.throws(
      () => decodeHeader(new Uint8Array(n)),
      (e: unknown) => e instanceof VhostUserError && e.code === VhostUserErrorCode.SHORT_PAYLOAD,
    );
  }
  assert.deepEqual(decodeHeader(new Uint8Array(12)), { request: 0, flags: 0, size: 0 });
});
