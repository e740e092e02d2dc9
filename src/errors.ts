/**
 * The error hierarchy of typed-virtio. Every error the library throws is a
 * {@link VirtioError}; each layer has its own subclass, and messages name
 * the field, address, queue, descriptor or message that was wrong.
 *
 * Every error carries a stable {@link VirtioError.code}, as Node's errors
 * do, so a program can switch on it without parsing messages. Each class has
 * a default code (`ERR_VIRTIO_QUEUE` for a {@link QueueError}); a throw site
 * that knows the exact cause gives a more precise one that starts with the
 * class's code (`ERR_VIRTIO_QUEUE_LOOP`). Codes, once published, do not change.
 *
 * This module is a leaf: every layer, the schema DSL included, may import it.
 *
 * @example Switching on a code
 * ```ts
 * import { QueueError, VirtioError } from "./errors.ts";
 *
 * const e: unknown = new QueueError(0, 3, "descriptor loop", { code: "ERR_VIRTIO_QUEUE_LOOP" });
 * if (!(e instanceof VirtioError) || e.code !== "ERR_VIRTIO_QUEUE_LOOP") throw new Error("unreachable");
 * if (new QueueError(0, undefined, "x").code !== "ERR_VIRTIO_QUEUE") throw new Error("unreachable");
 * ```
 *
 * @module
 */

/** Options of every typed-virtio error: the standard `cause`, and a precise code. */
export interface VirtioErrorOptions extends ErrorOptions {
  /**
   * The stable code of this failure. It defaults to the class's code
   * ({@link VirtioError.defaultCode}); a precise code starts with it.
   */
  code?: string;
}

/** Root of every error typed-virtio throws. */
export class VirtioError extends Error {
  /** The code of errors of this class when the throw site gives none. */
  static readonly defaultCode: string = "ERR_VIRTIO";
  /** The stable code a program can switch on, e.g. `ERR_VIRTIO_QUEUE_LOOP`. */
  readonly code: string;
  /** Creates the error with a message that names what was wrong. */
  constructor(message: string, options?: VirtioErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options?.code ?? (new.target as typeof VirtioError).defaultCode;
  }
}

/** An invalid schema: overlapping fields, unknown types, bad names... */
export class SchemaError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_SCHEMA`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_SCHEMA";
  /** The schema (struct, union, register map or constant group) at fault. */
  readonly schema: string;
  /** The field at fault, when there is one. */
  readonly field: string | undefined;
  /** Creates the error for a schema and, where known, a field. */
  constructor(
    schema: string,
    field: string | undefined,
    message: string,
    options?: VirtioErrorOptions,
  ) {
    super(`schema ${schema}${field === undefined ? "" : `, field ${field}`}: ${message}`, options);
    this.schema = schema;
    this.field = field;
  }
}

/** The generator or its CLI was used wrongly (bad arguments, unreadable module). */
export class GenError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_GEN`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_GEN";
}

/** Formats a guest-physical address for a message, negative or not (`-0x4`, `0x1000`). */
export function formatAddress(address: number): string {
  if (!Number.isFinite(address)) return String(address);
  return address < 0 ? `-0x${(-address).toString(16)}` : `0x${address.toString(16)}`;
}

/** A guest-physical access outside memory, across a region's end, or overflowing. */
export class MemoryError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_MEMORY`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_MEMORY";
  /** The guest-physical address of the access. */
  readonly address: number;
  /** The length of the access in bytes. */
  readonly length: number;
  /** Creates the error for the access at `address` of `length` bytes. */
  constructor(address: number, length: number, message: string, options?: VirtioErrorOptions) {
    super(`guest memory ${formatAddress(address)}+${length}: ${message}`, options);
    this.address = address;
    this.length = length;
  }
}

/** A descriptor chain or ring state that breaks the spec (device or driver side). */
export class QueueError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_QUEUE`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_QUEUE";
  /** The queue index, when known (-1 when not). */
  readonly queue: number;
  /** The descriptor index at fault, when there is one. */
  readonly descriptor: number | undefined;
  /** Creates the error for a queue and, where known, a descriptor index. */
  constructor(
    queue: number,
    descriptor: number | undefined,
    message: string,
    options?: VirtioErrorOptions,
  ) {
    super(
      `queue ${queue}${descriptor === undefined ? "" : `, descriptor ${descriptor}`}: ${message}`,
      options,
    );
    this.queue = queue;
    this.descriptor = descriptor;
  }
}

/** A transport protocol violation: a bad register access, a bad vhost-user message... */
export class TransportError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_TRANSPORT`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_TRANSPORT";
}

/** A device could not be negotiated, probed or driven. */
export class DeviceError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_DEVICE`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_DEVICE";
}

/**
 * A caller passed an argument the API cannot take (a negative length, a
 * width that is not 1, 2, 4 or 8, an offset past a config space). Thrown at
 * the edge of the API, before any state changes.
 */
export class ArgumentError extends VirtioError {
  /** The code of errors of this class when the throw site gives none: `ERR_VIRTIO_ARGUMENT`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_ARGUMENT";
}
