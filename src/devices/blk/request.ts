/**
 * A virtio-blk request as the driver's API sees it: the error a request
 * ends with when the device answers a status other than OK
 * ({@link BlkRequestError}), the ranges of a discard or write-zeroes
 * request, a raw request and its result, and the per-request state the
 * driver hands to the queue ({@link BlkPending}, {@link BlkSg}).
 *
 * @module
 */

import type { Completion } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP } from "../../generated/devices/blk.ts";

/** A request the device completed with a status other than `VIRTIO_BLK_S_OK`. */
export class BlkRequestError extends DeviceError {
  /** The default code of this class: `ERR_VIRTIO_DEVICE_BLK_STATUS`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_DEVICE_BLK_STATUS";
  /** The status byte (`VIRTIO_BLK_S_IOERR`, `VIRTIO_BLK_S_UNSUPP`...). */
  readonly status: number;
  /** The request type. */
  readonly type: number;
  /** Creates the error for a request `type` that ended with `status`. */
  constructor(type: number, status: number, message: string) {
    super(message, { code: statusCode(status) });
    this.type = type;
    this.status = status;
  }
}

/**
 * The code of a {@link BlkRequestError} for a status byte:
 * `ERR_VIRTIO_DEVICE_BLK_STATUS_IOERR`, `..._UNSUPP`, or `ERR_VIRTIO_DEVICE_BLK_STATUS`
 * for any other value.
 */
function statusCode(status: number): string {
  if (status === VIRTIO_BLK_S_IOERR) return "ERR_VIRTIO_DEVICE_BLK_STATUS_IOERR";
  if (status === VIRTIO_BLK_S_UNSUPP) return "ERR_VIRTIO_DEVICE_BLK_STATUS_UNSUPP";
  return BlkRequestError.defaultCode;
}

/** One range of a discard or write-zeroes request. */
export interface BlkRange {
  /** First 512-byte sector. */
  readonly sector: number;
  /** Number of sectors. */
  readonly count: number;
}

/** What a raw request returns: the status and the bytes the device wrote. */
export interface BlkRawResult {
  /** The status byte. */
  readonly status: number;
  /** The bytes before the status that the device wrote (the request's writable data). */
  readonly data: Uint8Array;
  /** The used length the device reported. */
  readonly usedLen: number;
}

/** A raw request, for callers that build requests themselves (tests, extensions). */
export interface BlkRawRequest {
  /** `VIRTIO_BLK_T_*`. */
  readonly type: number;
  /** The `sector` field (default 0). */
  readonly sector?: number;
  /** Device-readable data after the header. */
  readonly out?: Uint8Array;
  /** Bytes of device-writable data before the status byte (default 0). */
  readonly inLen?: number;
  /** The queue to use (default: round robin). */
  readonly queue?: number;
}

/**
 * The driver's per-request state, handed to {@link Virtqueue.submit} as
 * the request's {@link Completion}; reused from a pool.
 */
export interface BlkPending extends Completion {
  /** Request type. */
  type: number;
  /** Guest address of the request's DMA allocation (header, data, status). */
  addr: number;
  /** Bytes of data between header and status. */
  dataLen: number;
  /** True when the data is device-writable (a read). */
  dataIn: boolean;
  /** Where read data goes; undefined for a raw request (data copied into the result). */
  dst: Uint8Array | undefined;
  /**
   * Fail with {@link BlkRequestError} on a status other than OK, else
   * resolve with `undefined`; when false, resolve with the result.
   */
  check: boolean;
  /** The request's sector, for error messages. */
  sector: number;
  /** True when {@link BlkPending.addr} is one of the disk's reusable 4 KiB slots. */
  pooled: boolean;
  /** Settles the request's promise (with `undefined` for a checked request). */
  resolve: (r: BlkRawResult | undefined) => void;
  /** Fails the request's promise. */
  reject: (e: unknown) => void;
  /** Reused device-readable scatter list (its elements are reused too). */
  sgsOut: BlkSg[];
  /** Reused device-writable scatter list (its elements are reused too). */
  sgsIn: BlkSg[];
}

/** A scatter-list element (the engine's `Sg`) the driver rewrites for each request that reuses it. */
export interface BlkSg {
  /** Guest-physical address. */
  addr: number;
  /** Length in bytes. */
  len: number;
}
