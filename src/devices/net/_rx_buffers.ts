/**
 * How the virtio-net device model fills a receive queue's buffers with a
 * frame and its `virtio_net_hdr` (spec 5.1.6.3, 5.1.6.4): one buffer per
 * frame, or with VIRTIO_NET_F_MRG_RXBUF as many as the frame needs
 * (`num_buffers`), gathered across calls while the driver has too few.
 *
 * Each fill returns 1 when the frame was written, 0 when the queue has no
 * buffer now (the frame waits), -1 when it can never fit (dropped).
 *
 * @module
 */

import type { VirtioNetHdr } from "../../generated/devices/net.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import type { DeviceQueue } from "../../virtqueue/queue.ts";

/** Per receive queue: chains popped but not yet used, kept for the next frame (MRG_RXBUF gathering). */
export interface RxState {
  held: DescriptorChain[];
}

/**
 * A device's one `virtio_net_hdr` scratch: `bytes`, `fields` (the accessor
 * over them; the caller fills all but `num_buffers` before a fill) and
 * `len`, the header length negotiated (10 or 12 bytes).
 */
export interface HeaderScratch {
  readonly bytes: Uint8Array;
  readonly fields: VirtioNetHdr;
  len: number;
}

/** Without MRG_RXBUF: one buffer per frame. 1 done, 0 no buffer, -1 dropped. */
export function fillSingle(
  q: DeviceQueue,
  st: RxState,
  h: HeaderScratch,
  frame: Uint8Array,
): number {
  const c = st.held.length ? st.held[0] : q.pop();
  if (c === null) return 0;
  const hl = h.len;
  if (c.writableLength < hl + frame.length) {
    // Keep the buffer for a smaller frame; this one does not fit.
    if (!st.held.length) st.held.push(c);
    return -1;
  }
  if (st.held.length) st.held.shift();
  h.fields.numBuffers = 1;
  c.write(0, h.bytes, 0, hl);
  c.write(hl, frame);
  q.addUsed(c, hl + frame.length);
  return 1;
}

/**
 * With MRG_RXBUF: gather buffers until the header and frame fit, then
 * fill every buffer but the last completely (5.1.6.4.2).
 */
export function fillMergeable(
  q: DeviceQueue,
  st: RxState,
  h: HeaderScratch,
  frame: Uint8Array,
): number {
  const hl = h.len;
  const need = hl + frame.length;
  const held = st.held;
  let have = 0;
  for (const c of held) have += c.writableLength;
  while (have < need) {
    if (held.length >= q.size) return -1; // cannot ever fit (5.1.6.3.1 asks for 1526+ byte buffers)
    const c = q.pop();
    if (c === null) return 0;
    if (c.writableLength < hl) {
      // Too small even for the header (5.1.6.3.1): give it back empty.
      q.addUsed(c, 0);
      continue;
    }
    held.push(c);
    have += c.writableLength;
  }
  let count = 0;
  for (let left = need; left > 0; count++) left -= held[count].writableLength;
  h.fields.numBuffers = count;
  let off = 0; // into the frame
  for (let i = 0; i < count; i++) {
    const c = held[i];
    let w = 0;
    if (i === 0) w = c.write(0, h.bytes, 0, hl);
    const n = Math.min(c.writableLength - w, frame.length - off);
    c.write(w, frame, off, n);
    off += n;
    q.pushUsed(c, w + n);
  }
  held.splice(0, count);
  q.flushUsed();
  return 1;
}
