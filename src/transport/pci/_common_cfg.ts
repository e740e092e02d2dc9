/**
 * The common configuration structure of a virtio PCI function (4.1.4.3),
 * device side: fields sized and placed from the generated
 * `VirtioPciCommonCfg.OFFSETS`, accesses checked for natural width
 * (4.1.3.1), and each field mapped onto the shared
 * {@link TransportDeviceState}.
 *
 * Private to src/transport/pci/.
 *
 * @module
 */

import type { ConfigWidth } from "../../device.ts";
import { VIRTIO_MSI_NO_VECTOR, VirtioPciCommonCfg } from "../../generated/pci.ts";
import type { TransportDeviceState } from "../device_state.ts";
import { high32 as hi, low32 as lo } from "../_address.ts";

/** What the common configuration needs from the PCI function around it. */
export interface CommonCfgHost {
  /** The shared device state. */
  readonly core: TransportDeviceState;
  /** Can the function deliver MSI-X vector `v`? */
  vectorOk(v: number): boolean;
  /** A reset: clear the ISR and pending MSI-X messages. */
  clearInterrupts(): void;
}

const CC = VirtioPciCommonCfg.OFFSETS;
/** Read-only fields of the common configuration (4.1.4.3: the rest are read-write). */
const COMMON_READ_ONLY = new Set([
  "device_feature",
  "num_queues",
  "config_generation",
  "queue_notify_off",
  "queue_notif_config_data",
  "admin_queue_index",
  "admin_queue_num",
]);

interface CommonField {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly readOnly: boolean;
}

/** The common configuration fields by offset, sized from the generated offsets table. */
const COMMON_FIELDS: readonly CommonField[] = (() => {
  const entries = Object.entries(CC).sort((a, b) => a[1] - b[1]);
  return entries.map(([camel, offset], i) => {
    const name = camel.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    return {
      name,
      offset,
      size: (entries[i + 1]?.[1] ?? VirtioPciCommonCfg.SIZE) - offset,
      readOnly: COMMON_READ_ONLY.has(name),
    };
  });
})();

/** The common configuration field covering each byte offset (an array lookup per access). */
const COMMON_AT: readonly (CommonField | undefined)[] = (() => {
  const at: (CommonField | undefined)[] = new Array(VirtioPciCommonCfg.SIZE).fill(undefined);
  for (const f of COMMON_FIELDS) at.fill(f, f.offset, f.offset + f.size);
  return at;
})();

/** The common configuration of one PCI function. */
export class CommonCfg {
  readonly #host: CommonCfgHost;

  /** The common configuration of the function `host`. */
  constructor(host: CommonCfgHost) {
    this.#host = host;
  }

  #field(
    offset: number,
    width: number,
    op: string,
    value?: number,
  ): CommonField | undefined {
    const f = offset >= 0 ? COMMON_AT[offset] : undefined;
    if (f === undefined) {
      this.#host.core.refuse(
        `common cfg+0x${offset.toString(16)}`,
        value,
        `${op} of no field`,
        "common cfg accesses of no field",
      );
      return undefined;
    }
    // 4.1.3.1: natural width; 64-bit fields as two 32-bit halves.
    const part = offset - f.offset;
    const ok = f.size === 8 ? width === 4 && part % 4 === 0 : width === f.size && part === 0;
    if (!ok) {
      this.#host.core.refuse(f.name, value, `${width}-byte ${op} of a ${f.size}-byte field`);
      return undefined;
    }
    this.#host.core.legacy = false;
    return f;
  }

  /** A driver read of the common configuration at `offset`. */
  read(offset: number, width: ConfigWidth): number {
    const f = this.#field(offset, width, "read");
    if (f === undefined) return 0;
    const part = offset - f.offset;
    const core = this.#host.core;
    const q = core.queues[core.queueSel];
    switch (f.name) {
      case "device_feature_select":
        return core.deviceFeaturesSel;
      case "device_feature":
        return core.deviceFeatureWord(core.deviceFeaturesSel);
      case "driver_feature_select":
        return core.driverFeaturesSel;
      case "driver_feature":
        return Number((core.driverFeatures >> BigInt(32 * core.driverFeaturesSel)) & 0xffffffffn);
      case "config_msix_vector":
        return core.configVector;
      case "num_queues":
        return core.deviceQueueCount;
      case "admin_queue_index":
        // 4.1.4.3: the first administration queue, after the device's queues.
        return core.deviceQueueCount;
      case "admin_queue_num":
        return core.transportQueues.length;
      case "device_status":
        return core.status;
      case "config_generation":
        return core.device.configGeneration & 0xff;
      case "queue_select":
        return core.queueSel;
      case "queue_size":
        return q?.size ?? 0; // 0 for an unavailable queue
      case "queue_msix_vector":
        return q?.vector ?? VIRTIO_MSI_NO_VECTOR;
      case "queue_enable":
        return q?.ready ? 1 : 0;
      case "queue_notify_off":
        return core.queueSel;
      case "queue_desc":
      case "queue_driver":
      case "queue_device": {
        const which = f.name === "queue_desc"
          ? "desc"
          : f.name === "queue_driver"
          ? "driver"
          : "device";
        const v = q?.[which] ?? 0;
        return part === 0 ? lo(v) : hi(v);
      }
      case "queue_reset":
        return 0;
      default:
        return 0;
    }
  }

  /** A driver write of the common configuration at `offset`. */
  write(offset: number, width: ConfigWidth, value: number): void {
    const f = this.#field(offset, width, "write", value);
    if (f === undefined) return;
    const part = offset - f.offset;
    if (f.readOnly) {
      return this.#host.core.refuse(f.name, value, "write to a read-only field (4.1.4.3)");
    }
    const core = this.#host.core;
    switch (f.name) {
      case "device_feature_select":
        core.deviceFeaturesSel = value;
        return;
      case "driver_feature_select":
        core.driverFeaturesSel = value;
        return;
      case "driver_feature":
        return core.writeDriverFeatures(f.name, core.driverFeaturesSel, value);
      case "config_msix_vector":
        core.configVector = this.#host.vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      case "device_status":
        core.writeStatus(f.name, value);
        if (value === 0) {
          this.#host.clearInterrupts();
        }
        return;
      case "queue_select":
        core.queueSel = value;
        return;
      case "queue_size":
        return core.setQueueSize(f.name, value);
      case "queue_msix_vector": {
        const q = core.selected(f.name, value);
        // 4.1.5.1.2: a vector the device cannot map reads back as NO_VECTOR.
        if (q) q.vector = this.#host.vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      }
      case "queue_enable":
        if (value !== 1) return core.refuse(f.name, value, "only 1 may be written (4.1.4.3.2)");
        return core.setQueueReady(f.name, value);
      case "queue_desc":
      case "queue_driver":
      case "queue_device": {
        const q = core.selected(f.name, value);
        if (q === undefined || !core.queueWritable(f.name, q, value)) return;
        const which = f.name === "queue_desc"
          ? "desc"
          : f.name === "queue_driver"
          ? "driver"
          : "device";
        const old = q[which];
        const next = part === 0 ? hi(old) * 0x1_0000_0000 + value : value * 0x1_0000_0000 + lo(old);
        if (next > Number.MAX_SAFE_INTEGER) {
          return core.refuse(f.name, value, "address above 2^53 is not supported");
        }
        q[which] = next;
        return;
      }
      case "queue_reset":
        if (!core.ringResetNegotiated) {
          return core.refuse(f.name, value, "VIRTIO_F_RING_RESET not negotiated");
        }
        if (value !== 1) return core.refuse(f.name, value, "only 1 may be written");
        if (core.selected(f.name, value)) core.disableQueue(core.queueSel);
        return;
    }
  }
}
