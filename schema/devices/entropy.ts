/**
 * The entropy device (spec 5.4). It has one request queue into which the
 * driver places device-writable buffers for the device to fill with random
 * bytes. The spec defines no feature bits, no configuration layout and no
 * request structure, so the only export is the queue index.
 *
 * @module
 */
import { type ConstantGroup, enumeration } from "../dsl.ts";

/** 5.4.2: virtqueue indices. */
export const virtio_entropy_queues: ConstantGroup = enumeration("virtio_entropy_queues", {
  requestq: { value: 0, doc: "Device-writable buffers the device fills with random bytes." },
}, {
  doc: "5.4.2: virtqueue indices of the entropy device (it has no feature bits, 5.4.3).",
  exportMembers: false,
});
