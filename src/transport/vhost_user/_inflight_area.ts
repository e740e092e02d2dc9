/**
 * The inflight area of VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD as the back-end
 * holds it: GET_INFLIGHT_FD makes a new one (a memfd the front-end keeps),
 * SET_INFLIGHT_FD maps the one the front-end hands back at every start, and
 * each split ring started while it is set is resumed from, and tracked in,
 * its part (see `_inflight.ts`).
 *
 * @module
 */

import type { DeviceQueue } from "../../virtqueue/mod.ts";
import { inflightQueueBytes, isResubmittable, resumeInflight } from "./_inflight.ts";
import { mapPeerFile } from "./_fd.ts";
import { F_SEAL_GROW, F_SEAL_SHRINK, type Mapping, memfdCreate, unmap } from "./_libc.ts";
import { type InflightDesc, inflightPayload } from "./_protocol.ts";
import { isQueueSize } from "./_rings.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";

/** Most queues an inflight area may describe. */
const MAX_INFLIGHT_QUEUES = 1024;

/** A new area for GET_INFLIGHT_FD: the memfd (the caller sends and closes it) and the reply. */
export interface NewInflightArea {
  /** The memfd, zeroed, of {@link NewInflightArea.size} bytes. */
  readonly fd: number;
  /** Its size. */
  readonly size: number;
  /** The reply's payload. */
  readonly payload: Uint8Array;
}

/** GET_INFLIGHT_FD: a new zeroed area for `d.numQueues` queues of `d.queueSize`. */
export function newInflightArea(d: InflightDesc): NewInflightArea {
  if (d.numQueues < 1 || d.numQueues > MAX_INFLIGHT_QUEUES || !isQueueSize(d.queueSize)) {
    throw new VhostUserError(
      `VHOST_USER_GET_INFLIGHT_FD: ${d.numQueues} queues of ${d.queueSize} is not a valid request`,
      { code: VhostUserErrorCode.BAD_INFLIGHT },
    );
  }
  const size = d.numQueues * inflightQueueBytes(d.queueSize);
  // Sealed, so the area comes back acceptable to a back-end that requires seals.
  const fd = memfdCreate("typed-virtio-inflight", size, F_SEAL_SHRINK | F_SEAL_GROW);
  const payload = inflightPayload({
    mmapSize: size,
    mmapOffset: 0,
    numQueues: d.numQueues,
    queueSize: d.queueSize,
  });
  return { fd, size, payload };
}

/** What {@link InflightArea.track} did, for the log. */
export interface TrackResult {
  /** The queue to serve: tracked, or `queue` itself. */
  readonly queue: DeviceQueue;
  /** Why the queue is not tracked, when it is not and an area is set. */
  readonly warning?: string;
  /** Requests resubmitted from the area. */
  readonly resubmitted: number;
}

/** The area SET_INFLIGHT_FD set, mapped; none until then. */
export class InflightArea {
  readonly #requireSeal: boolean;
  #current: { mapping: Mapping; desc: InflightDesc } | undefined;

  /** No area yet; areas handed over must be sealed against shrinking when `requireSeal`. */
  constructor(requireSeal: boolean = false) {
    this.#requireSeal = requireSeal;
  }

  /**
   * SET_INFLIGHT_FD: checks the description, maps the area from the
   * front-end's file `fd` (checked against its size first) and replaces the
   * current one. On any error the current area stays. The caller closes `fd`.
   */
  set(d: InflightDesc, fd: number): void {
    const need = d.numQueues * inflightQueueBytes(d.queueSize);
    if (!isQueueSize(d.queueSize) || d.numQueues < 1 || d.mmapSize < need) {
      throw new VhostUserError(
        `VHOST_USER_SET_INFLIGHT_FD: an area of ${d.mmapSize} bytes cannot track ${d.numQueues} queues of ${d.queueSize}`,
        { code: VhostUserErrorCode.BAD_INFLIGHT },
      );
    }
    if (d.mmapOffset % 4096 !== 0) {
      throw new VhostUserError(
        `VHOST_USER_SET_INFLIGHT_FD: mmap offset ${d.mmapOffset} is not page aligned`,
        { code: VhostUserErrorCode.BAD_INFLIGHT },
      );
    }
    const what = "VHOST_USER_SET_INFLIGHT_FD";
    const mapping = mapPeerFile(fd, d.mmapOffset, d.mmapSize, what, this.#requireSeal);
    this.drop();
    this.#current = { mapping, desc: d };
  }

  /**
   * A ring just started: a split ring covered by the area is resumed from
   * its part (resubmitting what an earlier back-end left in flight) and
   * tracked in it; any other queue comes back as it is.
   */
  track(queue: DeviceQueue, index: number): TrackResult {
    const inf = this.#current;
    if (inf === undefined || !isResubmittable(queue)) return { queue, resubmitted: 0 };
    const d = inf.desc;
    if (index >= d.numQueues || queue.size !== d.queueSize) {
      return {
        queue,
        resubmitted: 0,
        warning: `vring ${index} (size ${queue.size}) is not covered by the inflight area ` +
          `(${d.numQueues} queues of ${d.queueSize}); not tracked`,
      };
    }
    const bytes = inflightQueueBytes(d.queueSize);
    const r = resumeInflight(queue, new DataView(inf.mapping.buffer, index * bytes, bytes));
    if (r === undefined) {
      return {
        queue,
        resubmitted: 0,
        warning: `vring ${index}: the inflight area holds another layout; not tracked`,
      };
    }
    return { queue: r.queue, resubmitted: r.resubmitted };
  }

  /** Unmaps the area (the front-end keeps it). */
  drop(): void {
    const inf = this.#current;
    this.#current = undefined;
    if (inf !== undefined) unmap(inf.mapping);
  }
}
