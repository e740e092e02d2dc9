/**
 * A PCI function with quirks: any {@link PciBus} (our `PciFunction` hosting
 * a real device model, or the register fuzzer's made-up function) behind a
 * layer that misbehaves in one of the ways a driver must survive or report
 * (issue 18, "a driver must take over a device in any state"):
 *
 * - an MSI-X Message Control word that ignores writes, or whose function
 *   mask stays set;
 * - a smaller MSI-X table than the function has, or a table in no BAR;
 * - MSI-X vectors the function refuses to map: `config_msix_vector` and
 *   `queue_msix_vector` then read back VIRTIO_MSI_NO_VECTOR (4.1.5.1.2),
 *   modern and legacy header alike;
 * - a `queue_enable` (legacy: `queue_address`) that ignores writes;
 * - DEVICE_NEEDS_RESET set as soon as a queue is enabled.
 *
 * The layer finds the MSI-X capability and the common configuration by
 * walking the capability list once, so the inner function's config space
 * must read true while it is built.
 *
 * @module
 */

import type { ConfigWidth } from "../../src/device.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import {
  PCI_CAP_ID_VNDR,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_DEVICE_ID_MIN,
  VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX,
  VirtioPciCap,
  VirtioPciCommonCfg,
  VirtioPciLegacy,
} from "../../src/generated/pci.ts";
import type { PciBus } from "../../src/transport/pci/mod.ts";

// PCI Local Bus 3.0, 6.8.2: the MSI-X capability's Message Control and Table Offset/BIR.
const PCI_CAP_ID_MSIX = 0x11;
const MSIX_ENABLE = 0x8000;
const MSIX_MASKALL = 0x4000;
const MSIX_TABLE_SIZE = 0x07ff;

/** What a {@link quirkyFunction} does wrong; every field off by default. */
export interface PciQuirks {
  /** The MSI-X Message Control word ignores writes: enable and function mask keep their bits. */
  readonly msixControlStuck?: boolean;
  /** The MSI-X function mask is set now and stays set whatever is written (enable still works). */
  readonly msixMaskStuck?: boolean;
  /**
   * The MSI-X table as the capability reports it, in entries (Table Size + 1):
   * vectors at or past it are refused, and recorded in `pastTable`.
   */
  readonly msixTableEntries?: number;
  /** The BAR indicator the capability reports for the table (6 and 7 are reserved). */
  readonly msixTableBar?: number;
  /** Vectors the function refuses to map: they read back NO_VECTOR (4.1.5.1.2). */
  readonly refuseVector?: (vector: number) => boolean;
  /** `queue_enable` ignores writes and reads 0 (legacy: `queue_address` ignores them). */
  readonly queueEnableIgnored?: boolean;
  /** `device_status` reads DEVICE_NEEDS_RESET from the first queue enabled until a reset. */
  readonly needsResetOnQueueEnable?: boolean;
}

/** A {@link PciBus} with quirks, and what the driver did against them. */
export interface QuirkyFunction extends PciBus {
  /** Vectors the driver mapped past the reported table (4.1.5.1.2: it MUST NOT). */
  readonly pastTable: number[];
  /** Vectors refused (mapping attempts that read back NO_VECTOR), in order. */
  readonly refused: number[];
}

const CC = VirtioPciCommonCfg.OFFSETS;
const L = VirtioPciLegacy.OFFSETS;

/** `inner` behind the given quirks. */
export function quirkyFunction(inner: PciBus, quirks: PciQuirks): QuirkyFunction {
  const msix = findCap(inner, (at) => inner.configRead(at, 1) === PCI_CAP_ID_MSIX);
  const commonAt = findCap(
    inner,
    (at) =>
      inner.configRead(at, 1) === PCI_CAP_ID_VNDR &&
      inner.configRead(at + VirtioPciCap.OFFSETS.cfgType, 1) === VIRTIO_PCI_CAP_COMMON_CFG,
  );
  const common = commonAt === 0 ? undefined : {
    bar: inner.configRead(commonAt + VirtioPciCap.OFFSETS.bar, 1),
    offset: inner.configRead(commonAt + VirtioPciCap.OFFSETS.barOffset, 4),
  };
  const pciId = inner.configRead(2, 2);
  const transitional = pciId >= VIRTIO_PCI_DEVICE_ID_MIN &&
    pciId <= VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX;
  const control = msix === 0 ? -1 : msix + 2;
  if (quirks.msixMaskStuck && control >= 0) {
    inner.configWrite(control, 2, inner.configRead(control, 2) | MSIX_MASKALL);
  }
  const msixEnabled = () => control >= 0 && (inner.configRead(control, 2) & MSIX_ENABLE) !== 0;
  const S = DeviceStatus;
  let needsReset = false;
  const pastTable: number[] = [];
  const refused: number[] = [];
  /** The value a vector register gets: the driver's, or NO_VECTOR when the function refuses. */
  const vector = (v: number): number => {
    if (v === VIRTIO_MSI_NO_VECTOR) return v;
    const entries = quirks.msixTableEntries;
    if (entries !== undefined && v >= entries) pastTable.push(v);
    if ((entries !== undefined && v >= entries) || quirks.refuseVector?.(v)) {
      refused.push(v);
      return VIRTIO_MSI_NO_VECTOR;
    }
    return v;
  };
  const isCommon = (bar: number, offset: number, field: number) =>
    common !== undefined && bar === common.bar && offset === common.offset + field;
  // The legacy header's vector registers exist while MSI-X is on (4.1.4.10).
  const isLegacy = (bar: number, offset: number, field: number) =>
    transitional && bar === 0 && offset === field && msixEnabled();
  return {
    pastTable,
    refused,
    configRead(offset: number, width: ConfigWidth): number {
      let v = inner.configRead(offset, width);
      if (control < 0) return v;
      if (quirks.msixTableEntries !== undefined) {
        const size = (quirks.msixTableEntries - 1) & MSIX_TABLE_SIZE;
        v = patch(offset, width, v, control, 2, (c) => (c & ~MSIX_TABLE_SIZE) | size);
      }
      if (quirks.msixTableBar !== undefined) {
        const bir = quirks.msixTableBar & 7;
        v = patch(offset, width, v, msix + 4, 4, (t) => (t & ~7) | bir);
      }
      return v;
    },
    configWrite(offset: number, width: ConfigWidth, value: number): void {
      const onControl = control >= 0 && offset < control + 2 && offset + width > control;
      if (onControl && quirks.msixControlStuck) return;
      if (onControl && quirks.msixMaskStuck) {
        inner.configWrite(offset, width, value);
        inner.configWrite(control, 2, inner.configRead(control, 2) | MSIX_MASKALL);
        return;
      }
      inner.configWrite(offset, width, value);
    },
    barRead(bar: number, offset: number, width: ConfigWidth): number {
      const v = inner.barRead(bar, offset, width);
      const status = isCommon(bar, offset, CC.deviceStatus) ||
        (transitional && bar === 0 && offset === L.deviceStatus);
      return status && needsReset ? v | S.DEVICE_NEEDS_RESET : v;
    },
    barWrite(bar: number, offset: number, width: ConfigWidth, value: number): void {
      if (
        isCommon(bar, offset, CC.configMsixVector) || isCommon(bar, offset, CC.queueMsixVector) ||
        isLegacy(bar, offset, L.configMsixVector) || isLegacy(bar, offset, L.queueMsixVector)
      ) {
        return inner.barWrite(bar, offset, width, vector(value));
      }
      const enable = (isCommon(bar, offset, CC.queueEnable) && value === 1) ||
        (transitional && bar === 0 && offset === L.queueAddress && value !== 0);
      const reset = (isCommon(bar, offset, CC.deviceStatus) ||
        (transitional && bar === 0 && offset === L.deviceStatus)) && value === 0;
      if (reset) needsReset = false;
      if (enable && quirks.needsResetOnQueueEnable) needsReset = true;
      if (quirks.queueEnableIgnored) {
        if (isCommon(bar, offset, CC.queueEnable)) return;
        if (transitional && bar === 0 && offset === L.queueAddress && value !== 0) return;
      }
      inner.barWrite(bar, offset, width, value);
    },
    barSize: inner.barSize?.bind(inner),
    connect(handler: (vector: number) => void): void {
      inner.connect(handler);
    },
  };
}

/** The first capability on `bus`'s list that `is` accepts (0: none); a looping list ends. */
function findCap(bus: PciBus, is: (at: number) => boolean): number {
  const seen = new Set<number>();
  for (let at = bus.configRead(0x34, 1) & 0xfc; at !== 0 && !seen.has(at);) {
    seen.add(at);
    if (is(at)) return at;
    at = bus.configRead(at + 1, 1) & 0xfc;
  }
  return 0;
}

/**
 * `value`, read at `offset` with `width`, with the `size` bytes of a field at
 * `at` replaced by `change(field)` where the two overlap.
 */
function patch(
  offset: number,
  width: number,
  value: number,
  at: number,
  size: number,
  change: (field: number) => number,
): number {
  if (offset >= at + size || offset + width <= at) return value;
  const bytes = new Uint8Array(Math.max(offset + width, at + size) - Math.min(offset, at));
  const base = Math.min(offset, at);
  const put = (o: number, n: number, v: number) => {
    for (let i = 0; i < n; i++) bytes[o - base + i] = (v >>> (8 * i)) & 0xff;
  };
  const get = (o: number, n: number) => {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[o - base + i];
    return v;
  };
  put(offset, width, value);
  put(at, size, change(get(at, size)) >>> 0);
  return get(offset, width);
}
