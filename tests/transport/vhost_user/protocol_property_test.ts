// Properties of the vhost-user message reader (src/transport/vhost_user/
// _protocol.ts), which parses what a hostile peer sends: over a fake stream
// (no socket), any stream of valid messages split at any points comes out
// as the same messages with their descriptors; any bytes at all give
// messages, "again", end of stream or a VhostUserError with a code, never
// another exception; descriptors of a rejected or unfinished message are
// closed, never lost.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeMessage,
  headerFlags,
  MAX_PAYLOAD_SIZE,
  MessageReader,
  type RecvResult,
  type VhostUserMessage,
} from "../../../src/transport/vhost_user/_protocol.ts";
import { VhostUserError } from "../../../src/transport/vhost_user/errors.ts";

/** A fake stream: chunks of bytes, each with the descriptors that arrive with its first byte. */
function fakeStream(chunks: { bytes: Uint8Array; fds: number[] }[]) {
  let i = 0;
  let off = 0;
  let fdsGiven = false;
  const closed: number[] = [];
  /** Every descriptor the reader was handed. */
  const given: number[] = [];
  const recv = (buf: Uint8Array): RecvResult => {
    if (i >= chunks.length) return { n: 0, fds: [], truncated: false };
    const c = chunks[i];
    const n = Math.min(buf.length, c.bytes.length - off);
    buf.set(c.bytes.subarray(off, off + n));
    const fds = fdsGiven ? [] : c.fds;
    fdsGiven = true;
    given.push(...fds);
    off += n;
    if (off >= c.bytes.length) {
      i++;
      off = 0;
      fdsGiven = false;
    }
    return { n, fds, truncated: false };
  };
  return { reader: new MessageReader(recv, (fd) => closed.push(fd)), closed, given };
}

const message = fc.record({
  request: fc.integer({ min: 0, max: 60 }),
  payload: fc.uint8Array({ maxLength: 300 }),
  fds: fc.array(fc.integer({ min: 100, max: 10_000 }), { maxLength: 3 }),
});

Deno.test("vhost-user reader: valid messages split anywhere come out whole, with their fds", () => {
  fc.assert(
    fc.property(
      fc.array(message, { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 40 })),
      (msgs, cuts) => {
        // Each message is cut into pieces; its descriptors come with its first piece.
        const chunks: { bytes: Uint8Array; fds: number[] }[] = [];
        let k = 0;
        for (const m of msgs) {
          const bytes = encodeMessage(m.request, headerFlags(), m.payload);
          let at = 0;
          let first = true;
          while (at < bytes.length) {
            const n = Math.min(
              cuts.length === 0 ? bytes.length : cuts[k++ % cuts.length],
              bytes.length - at,
            );
            chunks.push({ bytes: bytes.subarray(at, at + n), fds: first ? m.fds : [] });
            first = false;
            at += n;
          }
        }
        const { reader, closed } = fakeStream(chunks);
        const out: VhostUserMessage[] = [];
        for (;;) {
          const r = reader.read();
          if (r.kind === "eof") break;
          if (r.kind === "message") out.push(r.message);
        }
        assert.equal(out.length, msgs.length);
        out.forEach((m, i) => {
          assert.equal(m.request, msgs[i].request);
          assert.deepEqual([...m.payload], [...msgs[i].payload]);
          assert.deepEqual(m.fds, msgs[i].fds);
        });
        assert.deepEqual(closed, [], "no descriptor of a complete message is closed by the reader");
      },
    ),
    { numRuns: 300, seed: 17 },
  );
});

Deno.test("vhost-user reader: any bytes give messages or a coded VhostUserError; held fds are closed", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          bytes: fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 64 }),
            // A header that is valid but for one field, and a little payload.
            fc.tuple(
              fc.integer({ min: 0, max: 0xffff }),
              fc.integer({ min: 0, max: 2 * MAX_PAYLOAD_SIZE }),
              fc.integer({ min: 0, max: 15 }),
            )
              .map(([req, size, flags]) => {
                const b = encodeMessage(req, flags, new Uint8Array(Math.min(size, 16)));
                new DataView(b.buffer).setUint32(8, size, true);
                return b;
              }),
          ),
          fds: fc.array(fc.integer({ min: 100, max: 10_000 }), { maxLength: 2 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      (chunks) => {
        const { reader, closed, given } = fakeStream(chunks);
        const delivered: number[] = [];
        try {
          for (;;) {
            const r = reader.read();
            if (r.kind === "eof") break;
            if (r.kind === "message") delivered.push(...r.message.fds);
          }
        } catch (e) {
          assert.ok(e instanceof VhostUserError, `untyped: ${e}`);
          assert.match(e.code, /^ERR_VIRTIO_TRANSPORT_VHOST_USER_/);
          // read() closed what it held when it threw (its contract).
        }
        // Every descriptor the reader was handed came out with a message or was closed, once.
        const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
        assert.deepEqual(sorted([...delivered, ...closed]), sorted(given));
      },
    ),
    { numRuns: 500, seed: 18 },
  );
});
