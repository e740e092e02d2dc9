/**
 * The legacy I/O header of a transitional virtio PCI function (4.1.4.10),
 * device side: the registers of the generated `VirtioPciLegacy.REGISTERS`,
 * then the device config (at 20, or 24 with MSI-X enabled), mapped onto the
 * shared {@link TransportDeviceState}.
 *
 * Private to src/transport/pci/.
 *
 * @module
 */

import type { ConfigWidth } from "../../device.ts";
import {
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_LEGACY_CONFIG_OFF,
  VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX,
  VIRTIO_PCI_QUEUE_ADDR_SHIFT,
  VIRTIO_PCI_VRING_ALIGN,
  VirtioPciLegacy,
} from "../../generated/pci.ts";
import type { TransportDeviceState } from "../device_state.ts";

/** What the legacy header needs from the PCI function around it. */
export interface LegacyHeaderHost {
  /** The shared device state. */
  readonly core: TransportDeviceState;
  /** Is MSI-X enabled (the device config then starts at 24)? */
  msixEnabled(): boolean;
  /** Can the function deliver MSI-X vector `v`? */
  vectorOk(v: number): boolean;
  /** Read the ISR status, which clears it. */
  readIsr(): number;
  /** A reset: clear the ISR. */
  clearIsr(): void;
  /** Read the device config at `offset`, checked. */
  deviceConfigRead(offset: number, width: ConfigWidth, where: string): number;
  /** Write the device config at `offset`, checked. */
  deviceConfigWrite(offset: number, width: ConfigWidth, value: number, where: string): void;
}

const LEGACY_REGS = VirtioPciLegacy.REGISTERS;
type LegacyReg = (typeof LEGACY_REGS)[number];
/** The legacy header register starting at each byte offset. */
const LEGACY_AT: readonly (LegacyReg | undefined)[] = (() => {
  const at: (LegacyReg | undefined)[] = [];
  for (const r of LEGACY_REGS) at[r.offset] = r;
  return at;
})();

/** The legacy I/O header of one transitional PCI function. */
export class LegacyHeader {
  readonly #host: LegacyHeaderHost;

  /** The legacy header of the function `host`. */
  constructor(host: LegacyHeaderHost) {
    this.#host = host;
  }

  #reg(offset: number, width: number, op: string, value?: number): LegacyReg | undefined {
    const r = offset >= 0 ? LEGACY_AT[offset] : undefined;
    if (r === undefined || width !== r.size) {
      this.#host.core.refuse(
        `legacy+0x${offset.toString(16)}`,
        value,
        `bad ${width}-byte ${op}`,
        "legacy header accesses of no register",
      );
      return undefined;
    }
    this.#host.core.legacy = true;
    return r;
  }

  /** Where the device config starts in the legacy header (20, or 24 with MSI-X enabled). */
  configOffset(): number {
    return this.#host.msixEnabled()
      ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX
      : VIRTIO_PCI_LEGACY_CONFIG_OFF;
  }

  /**
   * Is `width` bytes at `offset` exactly one register of the header (and a
   * writable one when `write`), before the device config? The check of an
   * administration command's access (2.12.1.2: "a single field").
   */
  isRegister(offset: number, width: number, write: boolean): boolean {
    if (offset < 0 || offset + width > this.configOffset()) return false;
    const r = LEGACY_AT[offset];
    return r !== undefined && r.size === width && (!write || r.access !== "r");
  }

  /** A driver read of the legacy header at `offset` of BAR0. */
  read(offset: number, width: ConfigWidth): number {
    const cfg = this.#host.msixEnabled()
      ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX
      : VIRTIO_PCI_LEGACY_CONFIG_OFF;
    if (offset >= cfg) return this.#host.deviceConfigRead(offset - cfg, width, "legacy config");
    const r = this.#reg(offset, width, "read");
    if (r === undefined) return 0;
    const core = this.#host.core;
    // The legacy interface has no administration queues: only the device model's queues.
    const q = core.queueSel < core.deviceQueueCount ? core.queues[core.queueSel] : undefined;
    switch (r.name) {
      case "device_feature":
        return core.deviceFeatureWord(0);
      case "driver_feature":
        return Number(core.driverFeatures & 0xffffffffn);
      case "queue_address":
        return q?.pfn ?? 0;
      case "queue_size":
        return q?.max ?? 0;
      case "queue_select":
        return core.queueSel;
      case "device_status":
        return core.status;
      case "isr_status":
        return this.#host.readIsr();
      case "config_msix_vector":
        return core.configVector;
      case "queue_msix_vector":
        return q?.vector ?? VIRTIO_MSI_NO_VECTOR;
      default:
        return 0;
    }
  }

  /** A driver write of the legacy header at `offset` of BAR0. */
  write(offset: number, width: ConfigWidth, value: number): void {
    const cfg = this.#host.msixEnabled()
      ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX
      : VIRTIO_PCI_LEGACY_CONFIG_OFF;
    if (offset >= cfg) {
      return this.#host.deviceConfigWrite(offset - cfg, width, value, "legacy config");
    }
    const r = this.#reg(offset, width, "write", value);
    if (r === undefined) return;
    if (r.access === "r") {
      return this.#host.core.refuse(r.name, value, "write to a read-only register");
    }
    const core = this.#host.core;
    switch (r.name) {
      case "driver_feature":
        return core.writeDriverFeatures(r.name, 0, value);
      case "queue_address":
        if (core.queueSel >= core.deviceQueueCount) {
          return core.refuse(r.name, value, `queue ${core.queueSel} does not exist (legacy)`);
        }
        core.pageSize = 1 << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
        core.queueAlign = VIRTIO_PCI_VRING_ALIGN;
        return core.setQueuePfn(r.name, value);
      case "queue_select":
        core.queueSel = value;
        return;
      case "queue_notify":
        return core.notify(value);
      case "device_status":
        core.writeStatus(r.name, value);
        if (value === 0) this.#host.clearIsr();
        return;
      case "config_msix_vector":
        core.configVector = this.#host.vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      case "queue_msix_vector": {
        const q = core.selected(r.name, value);
        if (q) q.vector = this.#host.vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      }
    }
  }
}
