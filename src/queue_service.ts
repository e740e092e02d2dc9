/**
 * The device-side queue-serving loop every device model shares: pop each
 * available chain, serve it, publish the used entries as one batch,
 * notify the driver when it asks for it, and close the race with a driver
 * adding buffers as notifications come back on (spec 2.7.10 / 2.8.10:
 * re-enable, then check again).
 *
 * A model gives {@link serveQueue} a {@link ChainServer}: an object made
 * once (usually in the constructor), so serving a chain allocates nothing.
 * `serveChain` returns the used length, or {@link CHAIN_HELD} when the
 * device keeps the chain and completes it later with {@link completeUsed}
 * (blk's asynchronous storage, balloon's stats buffer).
 *
 * Loops that stop before the queue is empty (a stream with no room, a
 * backend that is full) publish what they used with {@link publishUsed}.
 *
 * @example A device that answers every buffer with one byte, 0x2a
 * ```ts
 * import type { DeviceContext } from "./device.ts";
 * import { DmaAllocator, GuestMemory } from "./memory.ts";
 * import {
 *   allocateQueue,
 *   createDeviceQueue,
 *   createDriverQueue,
 *   queueOptionsFromFeatures,
 * } from "./virtqueue/mod.ts";
 * import { type ChainServer, serveQueue } from "./queue_service.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const alloc = new DmaAllocator(0, 1 << 16);
 * const opts = queueOptionsFromFeatures(0n, 0);
 * const addrs = allocateQueue(alloc, 8, false);
 * const driver = createDriverQueue<number>(memory, addrs, opts);
 * const notified: number[] = [];
 * const ctx: DeviceContext = {
 *   memory,
 *   features: 0n,
 *   queues: [createDeviceQueue(memory, addrs, opts)],
 *   notifyUsed: (i) => notified.push(i),
 *   configChanged: () => {},
 *   needsReset: (e) => { throw e; },
 * };
 * // Made once per device: serving a chain allocates nothing.
 * const server: ChainServer = {
 *   serveChain: (chain) => (chain.writeUint8(0, 0x2a), 1),
 *   isLive: (c) => c === ctx,
 * };
 * for (let i = 0; i < 3; i++) driver.addSgs([], [{ addr: alloc.alloc(4, 4), len: 4 }], i);
 * driver.kick();
 * serveQueue(ctx, 0, server); // what queueNotify(0) does
 * if (notified.length !== 1 || driver.getBuf()?.len !== 1) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import type { DeviceContext } from "./device.ts";
import type { DescriptorChain, DeviceQueue } from "./virtqueue/mod.ts";

/**
 * What {@link ChainServer.serveChain} returns for a chain the device keeps:
 * it is not used now, and the device completes it later (with
 * {@link completeUsed}) or holds it until it has something to say.
 */
export const CHAIN_HELD: number = -1;

/** How a device model serves the chains of its queues; made once, reused for every chain. */
export interface ChainServer {
  /**
   * Serves one chain popped from `q` (queue `q.index` of `ctx`). Returns the
   * bytes written into its device-writable part, which {@link serveQueue}
   * returns as used, or {@link CHAIN_HELD} when the device keeps the chain.
   * A throw is treated like a malformed chain: the device needs a reset.
   */
  serveChain(chain: DescriptorChain, q: DeviceQueue, ctx: DeviceContext): number;
  /** True while `ctx` is the device's live context (false once it was reset). */
  isLive(ctx: DeviceContext): boolean;
  /**
   * Optional: called when a pass has taken every available chain of `q`,
   * before the used entries are published (and when a pass stops on an
   * error). Completes chains held in the pass for work done all at once
   * (blk's io_uring batch), stages them with {@link DeviceQueue.pushUsed}
   * and returns how many it staged.
   */
  endPass?(q: DeviceQueue, ctx: DeviceContext): number;
}

/**
 * Serves every available chain of queue `index` of `ctx` through `server`,
 * used entries published in batches, and loops while the driver added more
 * as notifications were re-enabled and the device was not reset meanwhile.
 *
 * A chain the queue refuses (a `QueueError`) or a throw from
 * {@link ChainServer.serveChain} stops serving: what was served is
 * published, and {@link DeviceContext.needsReset} gets the error. Returns
 * false then, true otherwise (also when the queue is not enabled).
 */
export function serveQueue(ctx: DeviceContext, index: number, server: ChainServer): boolean {
  const q = ctx.queues[index];
  if (q === undefined) return true;
  do {
    let served = 0;
    for (;;) {
      try {
        const c = q.pop();
        if (c === null) break;
        const len = server.serveChain(c, q, ctx);
        if (len !== CHAIN_HELD) {
          q.pushUsed(c, len);
          served++;
        }
      } catch (e) {
        // Chains held for the end of the pass complete first: nothing is left queued.
        try {
          if (server.endPass !== undefined) served += server.endPass(q, ctx);
        } catch {
          // the device needs a reset anyway
        }
        if (served > 0) q.flushUsed();
        ctx.needsReset(e);
        return false;
      }
    }
    if (server.endPass !== undefined) {
      try {
        served += server.endPass(q, ctx);
      } catch (e) {
        if (served > 0) q.flushUsed();
        ctx.needsReset(e);
        return false;
      }
    }
    if (served > 0) publishUsed(ctx, q);
    // Close the race with a driver adding buffers as notifications come back on.
  } while (q.enableNotification() && server.isLive(ctx));
  return true;
}

/**
 * Publishes the used entries staged on `q` with {@link DeviceQueue.pushUsed}
 * and raises a used-buffer notification when the driver wants one.
 */
export function publishUsed(ctx: DeviceContext, q: DeviceQueue): void {
  q.flushUsed();
  if (q.needsNotification()) ctx.notifyUsed(q.index);
}

/**
 * Returns one chain as used with `len` bytes written, outside a serving
 * loop (a held chain completing later), and notifies when the driver wants it.
 */
export function completeUsed(
  ctx: DeviceContext,
  q: DeviceQueue,
  chain: DescriptorChain,
  len: number,
): void {
  q.addUsed(chain, len);
  if (q.needsNotification()) ctx.notifyUsed(q.index);
}
