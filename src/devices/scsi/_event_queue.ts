/**
 * The device side of virtio-scsi's event queue (5.6.6.3): the buffers the
 * driver gave, held until an event fills one; the events waiting for a
 * buffer (at most the backlog); and the EVENTS_MISSED flag that an event
 * lost for want of a buffer leaves for the next one.
 *
 * @module
 */

import type { DeviceContext } from "../../device.ts";
import {
  VIRTIO_SCSI_T_EVENTS_MISSED,
  VIRTIO_SCSI_T_NO_EVENT,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
  VirtioScsiEvent,
  VirtioScsiLun,
} from "../../generated/devices/scsi.ts";
import { completeUsed } from "../../queue_service.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";
import { SCSI_EVENTQ, type ScsiStats } from "./device.ts";

interface QueuedEvent {
  event: number;
  lun: number;
  reason: number;
}

/** A device's event queue: buffers held, events waiting, events missed. */
export class ScsiEventQueue {
  readonly #stats: ScsiStats;
  readonly #backlog: number;
  readonly #evBytes = new Uint8Array(VirtioScsiEvent.SIZE);
  readonly #ev = new VirtioScsiEvent(new DataView(this.#evBytes.buffer));
  readonly #evLun = new VirtioScsiLun(
    new DataView(this.#evBytes.buffer),
    VirtioScsiEvent.OFFSETS.lun,
  );
  /** Event buffers the driver gave, oldest first. */
  readonly #eventBufs: DescriptorChain[] = [];
  readonly #events: QueuedEvent[] = [];
  #missed = false;

  /** Keeps at most `backlog` events while no buffer is there; counts into `stats`. */
  constructor(backlog: number, stats: ScsiStats) {
    this.#backlog = backlog;
    this.#stats = stats;
  }

  /** Holds a buffer the driver gave, until an event fills it. */
  hold(c: DescriptorChain): void {
    this.#eventBufs.push(c);
  }

  /** Drops the held buffers and the waiting events (a device reset). */
  reset(): void {
    this.#eventBufs.length = 0;
    this.#events.length = 0;
    this.#missed = false;
  }

  /** Sends a TRANSPORT_RESET event for `lun` with `reason`, or loses it when nothing can take it. */
  post(ctx: DeviceContext, lun: number, reason: number): void {
    if (this.#eventBufs.length === 0 && this.#events.length >= this.#backlog) {
      // 5.6.6.3: no buffer: the event is lost, and the next one says so.
      this.#missed = true;
      this.#stats.eventsMissed++;
      return;
    }
    this.#events.push({ event: VIRTIO_SCSI_T_TRANSPORT_RESET, lun, reason });
    this.deliver(ctx);
  }

  /** Fills held buffers with the waiting events (or a bare EVENTS_MISSED). */
  deliver(ctx: DeviceContext): void {
    const q = ctx.queues[SCSI_EVENTQ];
    if (q === undefined) return;
    while (this.#eventBufs.length > 0 && (this.#events.length > 0 || this.#missed)) {
      const c = this.#eventBufs.shift() as DescriptorChain;
      if (c.writableLength < VirtioScsiEvent.SIZE) {
        // Too short to hold an event (5.6.6.3: event_info_size): give it back empty.
        completeUsed(ctx, q, c, 0);
        continue;
      }
      const e = this.#events.shift();
      this.#evBytes.fill(0);
      const ev = this.#ev;
      ev.event = (e?.event ?? VIRTIO_SCSI_T_NO_EVENT) |
        (this.#missed ? VIRTIO_SCSI_T_EVENTS_MISSED : 0);
      ev.event >>>= 0;
      this.#missed = false;
      if (e !== undefined) {
        const l = this.#evLun;
        l.addressing = 1;
        l.target = 0;
        // As in REPORT LUNS (peripheral below 256, flat above): Linux's virtio_scsi
        // takes bytes 2-3 of an event's LUN as the LUN number as they are.
        l.lunAddressMethod = e.lun < 256 ? 0 : 1;
        l.lunId = e.lun;
        ev.reason = e.reason;
      }
      c.write(0, this.#evBytes);
      this.#stats.events++;
      completeUsed(ctx, q, c, VirtioScsiEvent.SIZE);
    }
  }
}
