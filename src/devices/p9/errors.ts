/**
 * The 9P client's error ({@link P9Error}): a request the server answered
 * with Rlerror, or a reply that was not a well-formed answer (EPROTO).
 *
 * @module
 */

import { DeviceError, type VirtioErrorOptions } from "../../errors.ts";
import { ERRNO_NAME } from "./_wire.ts";

/** A failed 9P request: the server's Rlerror errno, or EPROTO for a malformed reply. */
export class P9Error extends DeviceError {
  /** The Linux errno. */
  readonly errno: number;
  /** Creates the error; the code is `ERR_VIRTIO_DEVICE_9P_<ERRNO NAME>`. */
  constructor(errno: number, message: string, options?: VirtioErrorOptions) {
    super(`virtio-9p: ${message}`, {
      ...options,
      code: options?.code ?? `ERR_VIRTIO_DEVICE_9P_${ERRNO_NAME.get(errno) ?? "ERRNO"}`,
    });
    this.errno = errno;
  }
}
