// A virtio-console port as the device model sees it (spec 5.3): a pair of
// web streams for guest output and input, its state and the listeners of its
// PORT_OPEN changes. The device model (`device.ts`, which re-exports it)
// moves the data and runs the control queues; it reaches the port's private
// members through `portHooks`.

import { DeviceError } from "../../errors.ts";

/** One port to create with the device. */
export interface ConsolePortOptions {
  /** A name sent with VIRTIO_CONSOLE_PORT_NAME (multiport only). */
  readonly name?: string;
  /** Nominate the port as a console (VIRTIO_CONSOLE_CONSOLE_PORT); port 0 always is one. */
  readonly console?: boolean;
  /** The host side is open (VIRTIO_CONSOLE_PORT_OPEN from the device; default true). */
  readonly hostOpen?: boolean;
  /**
   * Output budget: how many bytes of guest output the port may hold unread
   * in its `readable` (default {@link CONSOLE_OUTPUT_BUFFER}, 1 MiB). Below
   * it, transmit buffers go back to the driver as soon as their bytes are
   * copied out, so the guest does not wait for the host's reader; at it, they
   * wait in the ring. It bounds the memory guest output can take.
   */
  readonly outputBuffer?: number;
}

/** Default {@link ConsolePortOptions.outputBuffer}: 1 MiB. */
export const CONSOLE_OUTPUT_BUFFER = 1 << 20;

export interface PendingWrite {
  data: Uint8Array;
  off: number;
  resolve: () => void;
}

/** A {@link ConsoleDevicePort}'s state; users read it through getters. */
export interface PortState {
  ready: boolean;
  guestOpen: boolean;
  hostOpen: boolean;
  removed: boolean;
}

/**
 * ConsoleDevicePort's private members, for the device model (`device.ts`);
 * set in its `static` block when this module loads.
 */
export let portHooks: {
  state(p: ConsoleDevicePort): PortState;
  controller(p: ConsoleDevicePort): ReadableStreamDefaultController<Uint8Array> | undefined;
  pending(p: ConsoleDevicePort): PendingWrite[];
  setGuestOpen(p: ConsoleDevicePort, open: boolean): void;
};

/** A port as the device side sees it. */
export class ConsoleDevicePort {
  /** Port number. */
  readonly id: number;
  /** Port name (PORT_NAME), if any. */
  readonly name: string | undefined;
  /** Is it a console port? */
  readonly console: boolean;
  /** What the driver wrote to the port (guest output). */
  readonly readable: ReadableStream<Uint8Array>;
  /** What the driver will read from the port (guest input); writes resolve once delivered. */
  readonly writable: WritableStream<Uint8Array>;
  /** The port's state; {@link ConsoleDevice} writes it through `portHooks`. */
  readonly #s: PortState = { ready: false, guestOpen: false, hostOpen: true, removed: false };
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  readonly #pending: PendingWrite[] = [];
  readonly #listeners = new Set<(open: boolean) => void>();

  static {
    portHooks = {
      state: (p) => p.#s,
      controller: (p) => p.#controller,
      pending: (p) => p.#pending,
      setGuestOpen: (p, open) => p.#setGuestOpen(open),
    };
  }

  /** Made by the device. */
  constructor(
    id: number,
    options: ConsolePortOptions,
    pull: (port: ConsoleDevicePort) => void,
    push: (port: ConsoleDevicePort) => void,
    rprocSerial = false,
  ) {
    this.id = id;
    this.name = options.name;
    // rproc-serial's one port is a plain port (Linux: "rproc_serial does not want the console port").
    this.console = !rprocSerial && (id === 0 || options.console === true);
    this.#s.hostOpen = options.hostOpen ?? true;
    const budget = options.outputBuffer ?? CONSOLE_OUTPUT_BUFFER;
    if (!Number.isSafeInteger(budget) || budget < 1) {
      throw new DeviceError(`console port output buffer ${budget} is not a positive byte count`, {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_OPTION",
      });
    }
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => pull(this),
    }, new ByteLengthQueuingStrategy({ highWaterMark: budget }));
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) =>
        new Promise<void>((resolve) => {
          if (this.#s.removed || chunk.length === 0) return resolve();
          this.#pending.push({ data: chunk.slice(), off: 0, resolve });
          push(this);
        }),
    });
  }

  /** The driver answered PORT_READY with success (always true for a single-port device once active). */
  get ready(): boolean {
    return this.#s.ready;
  }

  /** The driver has the port open (PORT_OPEN from the driver). */
  get guestOpen(): boolean {
    return this.#s.guestOpen;
  }

  /** The host side is open (sent to the driver as PORT_OPEN). */
  get hostOpen(): boolean {
    return this.#s.hostOpen;
  }

  /** Removed with {@link ConsoleDevice.removePort}. */
  get removed(): boolean {
    return this.#s.removed;
  }

  /** Call `listener` when the driver opens or closes the port; returns an unsubscribe function. */
  onOpenChange(listener: (open: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #setGuestOpen(open: boolean): void {
    if (open === this.#s.guestOpen) return;
    this.#s.guestOpen = open;
    for (const l of this.#listeners) l(open);
  }
}
