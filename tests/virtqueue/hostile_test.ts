// The device side against a hostile driver: rings written by hand with raw
// DataView writes. Each fault is a QueueError naming queue, descriptor and
// cause, and the queue stays usable (the next good chain is served).
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import { AVAIL, handPacked, handSplit, INDIRECT, NEXT, USED, WRITE } from "./_hand_rig.ts";

const split = (indirect = true) => handSplit(8, indirect);

function expectFault(
  fn: () => unknown,
  descriptor: number | undefined,
  cause: RegExp,
  code: string,
) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof QueueError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.queue, 3);
    assert.equal(e.descriptor, descriptor);
    assert.match(e.message, cause);
    return true;
  });
}

/** After a fault, a good one-descriptor chain at head 7 still goes through. */
function stillWorks(q: ReturnType<typeof split>) {
  q.desc(7, q.buf, 8, WRITE);
  q.offer(7);
  const c = q.device.pop();
  assert.ok(c);
  assert.equal(c.head, 7);
  q.device.addUsed(c, 8);
}

const splitCases: [
  string,
  (q: ReturnType<typeof split>) => void,
  number | undefined,
  RegExp,
  string,
][] = [
  [
    "a descriptor loop",
    (q) => {
      q.desc(0, q.buf, 8, NEXT, 1);
      q.desc(1, q.buf, 8, NEXT, 0);
      q.offer(0);
    },
    0,
    /longer than the queue size 8 \(a loop\?\)/,
    "ERR_VIRTIO_QUEUE_LOOP",
  ],
  [
    "next out of range",
    (q) => {
      q.desc(0, q.buf, 8, NEXT, 9);
      q.offer(0);
    },
    0,
    /next 9 is outside the descriptor table of 8/,
    "ERR_VIRTIO_QUEUE_NEXT_RANGE",
  ],
  [
    "a head out of range",
    (q) => q.offer(8),
    8,
    /head is outside the descriptor table/,
    "ERR_VIRTIO_QUEUE_HEAD_RANGE",
  ],
  [
    "an address outside memory",
    (q) => {
      q.desc(0, 0x10, 8, 0);
      q.offer(0);
    },
    0,
    /buffer 0x10\+8 is outside guest memory/,
    "ERR_VIRTIO_QUEUE_ADDRESS",
  ],
  [
    "a buffer crossing the end of memory",
    (q) => {
      q.desc(0, q.mem.regions[0].end - 4, 8, 0);
      q.offer(0);
    },
    0,
    /outside guest memory/,
    "ERR_VIRTIO_QUEUE_ADDRESS",
  ],
  [
    "an address beyond 2^53",
    (q) => {
      q.desc(0, 0, 8, 0);
      q.v.setBigUint64(q.addrs.desc - q.base, 0xffff_ffff_ffff_fff0n, true);
      q.offer(0);
    },
    0,
    /outside guest memory/,
    "ERR_VIRTIO_QUEUE_ADDRESS",
  ],
  [
    "writable before readable",
    (q) => {
      q.desc(0, q.buf, 8, WRITE | NEXT, 1);
      q.desc(1, q.buf, 8, 0);
      q.offer(0);
    },
    1,
    /device-readable buffer after a device-writable one/,
    "ERR_VIRTIO_QUEUE_READABLE_AFTER_WRITABLE",
  ],
  [
    "a chain over 2^32 bytes",
    (q) => {
      q.desc(0, q.buf, 0xffffffff, NEXT, 1);
      q.desc(1, q.buf, 8, 0);
      q.offer(0);
    },
    0,
    /outside guest memory|2\^32/,
    "ERR_VIRTIO_QUEUE_ADDRESS",
  ],
  [
    "an indirect table length of 0",
    (q) => {
      q.desc(0, q.table, 0, INDIRECT);
      q.offer(0);
    },
    0,
    /length 0 is not a non-zero multiple of 16/,
    "ERR_VIRTIO_QUEUE_INDIRECT_LENGTH",
  ],
  [
    "an indirect table length of 24",
    (q) => {
      q.desc(0, q.table, 24, INDIRECT);
      q.offer(0);
    },
    0,
    /length 24 is not a non-zero multiple of 16/,
    "ERR_VIRTIO_QUEUE_INDIRECT_LENGTH",
  ],
  [
    "an indirect table outside memory",
    (q) => {
      q.desc(0, 0x100, 32, INDIRECT);
      q.offer(0);
    },
    0,
    /indirect table 0x100\+32 is outside guest memory/,
    "ERR_VIRTIO_QUEUE_ADDRESS",
  ],
  [
    "INDIRECT together with NEXT",
    (q) => {
      q.desc(0, q.table, 32, INDIRECT | NEXT, 1);
      q.offer(0);
    },
    0,
    /continues the chain/,
    "ERR_VIRTIO_QUEUE_INDIRECT_WITH_NEXT",
  ],
  [
    "a nested indirect table",
    (q) => {
      q.desc(0, q.buf, 8, 0, 0, q.table);
      q.desc(1, q.table, 32, INDIRECT, 0, q.table);
      q.v.setUint16(q.table - q.base + 12, NEXT, true);
      q.v.setUint16(q.table - q.base + 14, 1, true);
      q.desc(0, q.table, 32, INDIRECT);
      q.offer(0);
    },
    0,
    /indirect table entry 1: .*indirect table inside an indirect table|inside an indirect table/,
    "ERR_VIRTIO_QUEUE_NESTED_INDIRECT",
  ],
  [
    "a loop inside an indirect table",
    (q) => {
      q.desc(0, q.buf, 8, NEXT, 1, q.table);
      q.desc(1, q.buf, 8, NEXT, 0, q.table);
      q.desc(0, q.table, 32, INDIRECT);
      q.offer(0);
    },
    0,
    /loops in a table of 2/,
    "ERR_VIRTIO_QUEUE_LOOP",
  ],
  [
    "an indirect next out of range",
    (q) => {
      q.desc(0, q.buf, 8, NEXT, 5, q.table);
      q.desc(0, q.table, 32, INDIRECT);
      q.offer(0);
    },
    0,
    /entry 0: next 5 is outside the table of 2/,
    "ERR_VIRTIO_QUEUE_NEXT_RANGE",
  ],
  [
    "an indirect table that is too long",
    (q) => {
      q.desc(0, q.table, 16 * 2000, INDIRECT);
      q.offer(0);
    },
    0,
    /2000 entries exceeds the limit of 1024/,
    "ERR_VIRTIO_QUEUE_CHAIN_TOO_LONG",
  ],
];

for (const [name, setup, descriptor, cause, code] of splitCases) {
  Deno.test(`split device: ${name}`, () => {
    const q = split();
    setup(q);
    expectFault(() => q.device.pop(), descriptor, cause, code);
    assert.equal(q.device.inFlight, 0, "no chain leaks out of the pool");
    stillWorks(q);
  });
}

Deno.test("split device: INDIRECT without VIRTIO_F_INDIRECT_DESC", () => {
  const q = split(false);
  q.desc(0, q.table, 32, INDIRECT);
  q.offer(0);
  expectFault(
    () => q.device.pop(),
    0,
    /VIRTIO_F_INDIRECT_DESC was not negotiated/,
    "ERR_VIRTIO_QUEUE_INDIRECT_NOT_NEGOTIATED",
  );
  stillWorks(q);
});

Deno.test("split device: an available index jumping by more than the queue size", () => {
  const q = split();
  q.v.setUint16(q.addrs.driver - q.base + 2, 9, true);
  expectFault(
    () => q.device.pop(),
    undefined,
    /9 entries ahead of 0, more than the queue size 8/,
    "ERR_VIRTIO_QUEUE_AVAIL_IDX",
  );
  expectFault(
    () => q.device.pop(),
    undefined,
    /more than the queue size/,
    "ERR_VIRTIO_QUEUE_AVAIL_IDX",
  ); // still refused
  q.v.setUint16(q.addrs.driver - q.base + 2, 0xfff0, true); // "backwards" is a huge jump too
  expectFault(
    () => q.device.pop(),
    undefined,
    /more than the queue size/,
    "ERR_VIRTIO_QUEUE_AVAIL_IDX",
  );
});

Deno.test("split device: a head offered again while the device holds it", () => {
  const q = split();
  q.desc(0, q.buf, 8, WRITE);
  q.offer(0);
  q.offer(0);
  const c = q.device.pop();
  assert.ok(c);
  expectFault(
    () => q.device.pop(),
    0,
    /made available again while the device holds it/,
    "ERR_VIRTIO_QUEUE_HEAD_IN_USE",
  );
  q.device.addUsed(c, 0);
  stillWorks(q);
});

Deno.test("split device: zero or more direct descriptors then one indirect (2.7.5.3.2)", () => {
  const q = split();
  q.desc(0, q.buf, 4, NEXT, 1, q.table);
  q.desc(1, q.buf + 16, 8, WRITE, 0, q.table);
  q.desc(0, q.buf, 2, NEXT, 1);
  q.desc(1, q.table, 32, INDIRECT | WRITE); // WRITE on the table descriptor is ignored
  q.offer(0);
  const c = q.device.pop();
  assert.ok(c);
  assert.deepEqual([c.readableCount, c.writableCount, c.readableLength, c.writableLength], [
    2,
    1,
    6,
    8,
  ]);
  assert.equal(c.descriptorCount, 2);
});

/** A packed queue whose descriptor ring the test writes itself. */
const packed = handPacked;

Deno.test("packed device: AVAIL and USED both set to the wrap counter", () => {
  const q = packed();
  q.desc(0, q.buf, 8, 0, AVAIL | USED);
  expectFault(() => q.device.pop(), 0, /wrap counter nonsense/, "ERR_VIRTIO_QUEUE_WRAP_COUNTER");
  // Flags from another lap (AVAIL 0, USED 1) simply mean "not available".
  q.desc(0, q.buf, 8, 0, USED);
  assert.equal(q.device.pop(), null);
  q.desc(0, q.buf, 8, 0, AVAIL | WRITE);
  assert.ok(q.device.pop());
});

Deno.test("packed device: a chain that runs into a descriptor that is not available", () => {
  const q = packed();
  q.desc(1, q.buf, 8, 0, 0);
  q.desc(0, q.buf, 8, 0, AVAIL | NEXT);
  expectFault(() => q.device.pop(), 1, /not available/, "ERR_VIRTIO_QUEUE_CHAIN_UNAVAILABLE");
  assert.equal(q.device.state().nextAvail, 2, "the examined descriptors are consumed");
});

Deno.test("packed device: a chain longer than the ring (every descriptor NEXT)", () => {
  const q = packed(4);
  for (let i = 3; i >= 0; i--) q.desc(i, q.buf, 8, 0, AVAIL | NEXT);
  expectFault(
    () => q.device.pop(),
    0,
    /longer than the queue size 4|not available/,
    "ERR_VIRTIO_QUEUE_CHAIN_TOO_LONG",
  );
  assert.equal(q.device.inFlight, 0);
});

Deno.test("packed device: indirect faults", () => {
  const cases: [(q: ReturnType<typeof packed>) => void, RegExp, string][] = [
    [
      (q) => q.desc(0, q.table, 20, 0, AVAIL | INDIRECT),
      /length 20/,
      "ERR_VIRTIO_QUEUE_INDIRECT_LENGTH",
    ],
    [
      (q) => q.desc(0, q.table, 32, 0, AVAIL | INDIRECT | NEXT),
      /continues the chain/,
      "ERR_VIRTIO_QUEUE_INDIRECT_WITH_NEXT",
    ],
    [
      (q) => {
        q.desc(0, q.table, 32, 0, INDIRECT, q.table);
        q.desc(0, q.table, 32, 0, AVAIL | INDIRECT);
      },
      /inside an indirect table/,
      "ERR_VIRTIO_QUEUE_NESTED_INDIRECT",
    ],
    [
      (q) => {
        q.desc(0, q.buf, 8, 0, WRITE, q.table);
        q.desc(1, q.buf, 8, 0, 0, q.table);
        q.desc(0, q.table, 32, 0, AVAIL | INDIRECT);
      },
      /entry 1: device-readable buffer after a device-writable one/,
      "ERR_VIRTIO_QUEUE_READABLE_AFTER_WRITABLE",
    ],
    [
      (q) => {
        q.desc(0, 0x20, 8, 0, 0, q.table);
        q.desc(0, q.table, 16, 0, AVAIL | INDIRECT);
      },
      /entry 0: buffer 0x20\+8 is outside guest memory/,
      "ERR_VIRTIO_QUEUE_ADDRESS",
    ],
  ];
  for (const [setup, cause, code] of cases) {
    const q = packed();
    setup(q);
    expectFault(() => q.device.pop(), 0, cause, code);
    q.desc(1, q.buf, 8, 9, AVAIL | WRITE);
    const c = q.device.pop();
    assert.ok(c, "the next descriptor is served");
    assert.equal(c.head, 9);
  }
});

Deno.test("packed device: more buffers offered than the queue holds", () => {
  const q = packed(2);
  q.desc(0, q.buf, 8, 0, AVAIL);
  q.desc(1, q.buf, 8, 1, AVAIL);
  assert.ok(q.device.pop());
  assert.ok(q.device.pop());
  // Second lap: the driver re-offers slots the device has not used.
  q.desc(0, q.buf, 8, 0, USED);
  expectFault(
    () => q.device.pop(),
    0,
    /more than 2 buffers available at once/,
    "ERR_VIRTIO_QUEUE_TOO_MANY_BUFFERS",
  );
});
