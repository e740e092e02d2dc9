/**
 * The error hierarchy of typed-virtio. Every error the library throws is a
 * {@link VirtioError}; each layer has its own subclass, and messages name
 * the field, address, queue, descriptor or message that was wrong.
 *
 * This module is a leaf: every layer, the schema DSL included, may import it.
 *
 * @module
 */

/** Root of every error typed-virtio throws. */
export class VirtioError extends Error {
  /** Creates the error with a message that names what was wrong. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An invalid schema: overlapping fields, unknown types, bad names... */
export class SchemaError extends VirtioError {
  /** The schema (struct, union, register map or constant group) at fault. */
  readonly schema: string;
  /** The field at fault, when there is one. */
  readonly field: string | undefined;
  /** Creates the error for a schema and, where known, a field. */
  constructor(schema: string, field: string | undefined, message: string) {
    super(`schema ${schema}${field === undefined ? "" : `, field ${field}`}: ${message}`);
    this.schema = schema;
    this.field = field;
  }
}

/** The generator or its CLI was used wrongly (bad arguments, unreadable module). */
export class GenError extends VirtioError {}

/** A guest-physical access outside memory, across a region's end, or overflowing. */
export class MemoryError extends VirtioError {
  /** The guest-physical address of the access. */
  readonly address: number;
  /** The length of the access in bytes. */
  readonly length: number;
  /** Creates the error for the access at `address` of `length` bytes. */
  constructor(address: number, length: number, message: string) {
    super(`guest memory 0x${address.toString(16)}+${length}: ${message}`);
    this.address = address;
    this.length = length;
  }
}

/** A descriptor chain or ring state that breaks the spec (device or driver side). */
export class QueueError extends VirtioError {
  /** The queue index, when known (-1 when not). */
  readonly queue: number;
  /** The descriptor index at fault, when there is one. */
  readonly descriptor: number | undefined;
  /** Creates the error for a queue and, where known, a descriptor index. */
  constructor(queue: number, descriptor: number | undefined, message: string) {
    super(
      `queue ${queue}${descriptor === undefined ? "" : `, descriptor ${descriptor}`}: ${message}`,
    );
    this.queue = queue;
    this.descriptor = descriptor;
  }
}

/** A transport protocol violation: a bad register access, a bad vhost-user message... */
export class TransportError extends VirtioError {}

/** A device could not be negotiated, probed or driven. */
export class DeviceError extends VirtioError {}
