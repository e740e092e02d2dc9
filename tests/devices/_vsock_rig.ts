// A hand-built driver for the hostile virtio-vsock tests: raw rx, tx and event rings in
// plain (or shared) memory in front of a VsockDevice, packets written and parsed through
// the generated header accessor, so a test can send anything a hostile driver could.

import type { DeviceContext } from "../../src/device.ts";
import { VsockDevice } from "../../src/devices/vsock/device.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import { VirtioVsockHdr } from "../../src/generated/devices/vsock.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  type DriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";

/** Header fields a test sets; the rest default to a stream packet from CID 3 to the host. */
export interface Hdr {
  srcCid: bigint;
  dstCid: bigint;
  srcPort: number;
  dstPort: number;
  len: number;
  type: number;
  op: number;
  flags: number;
  bufAlloc: number;
  fwdCnt: number;
}

/** A packet the device put in an rx buffer. */
export interface Got extends Hdr {
  data: Uint8Array;
}

export const GUEST_CID = 3;
const HDR = VirtioVsockHdr.SIZE;
const RX_SIZE = HDR + 4096;

export interface VsockRig {
  memory: GuestMemory;
  sab: SharedArrayBuffer;
  device: VsockDevice;
  resets: unknown[];
  alloc: DmaAllocator;
  /** Puts a packet on the tx queue (header fields over the defaults) and kicks. */
  send(h: Partial<Hdr>, payload?: Uint8Array, readable?: number): number;
  /** Writes a header into guest memory at `addr`. */
  writeHdr(addr: number, h: Partial<Hdr>): void;
  /** Submits raw buffers on tx and kicks the device. */
  sendRaw(addr: number, len: number): void;
  /** Every packet the device has placed in rx buffers so far (buffers reposted). */
  received(): Got[];
  tx: DriverQueue<number>;
}

/** Base header: stream, CID 3 -> 2, with a generous buf_alloc. */
export function hdr(h: Partial<Hdr>): Hdr {
  return {
    srcCid: BigInt(GUEST_CID),
    dstCid: 2n,
    srcPort: 40000,
    dstPort: 1234,
    len: 0,
    type: 1,
    op: 1,
    flags: 0,
    bufAlloc: 1 << 20,
    fwdCnt: 0,
    ...h,
  };
}

export function vsockRig(bufAlloc?: number, seqpacket = false): VsockRig {
  const sab = new SharedArrayBuffer(4 << 20);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, (4 << 20) - 0x1000);
  // VIRTIO_VSOCK_F_SEQPACKET is feature bit 1 (5.10.3).
  const features = (1n << BigInt(VIRTIO_F_VERSION_1)) | (seqpacket ? 1n << 1n : 0n);
  const addrs = [0, 1, 2].map(() => allocateQueue(alloc, 64, false));
  const drv = addrs.map((a, i) =>
    createDriverQueue<number>(memory, a, queueOptionsFromFeatures(features, i))
  );
  const device = new VsockDevice({ guestCid: GUEST_CID, bufAlloc, queueSize: 64 });
  const resets: unknown[] = [];
  const ctx: DeviceContext = {
    memory,
    features,
    queues: addrs.map((a, i) =>
      createDeviceQueue(memory, a, queueOptionsFromFeatures(features, i))
    ),
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => resets.push(e),
  };
  const rxBase = alloc.alloc(32 * RX_SIZE, 16);
  for (let i = 0; i < 32; i++) drv[0].addSgs([], [{ addr: rxBase + i * RX_SIZE, len: RX_SIZE }], i);
  drv[0].kick();
  device.activate(ctx);
  const txBuf = alloc.alloc(HDR + 65536 * 2, 16);
  const writeHdr = (addr: number, h: Partial<Hdr>) => {
    const a = new VirtioVsockHdr(memory.view(addr, HDR));
    const v = hdr(h);
    a.srcCid = v.srcCid;
    a.dstCid = v.dstCid;
    a.srcPort = v.srcPort;
    a.dstPort = v.dstPort;
    a.len = v.len;
    a.type = v.type;
    a.op = v.op;
    a.flags = v.flags;
    a.bufAlloc = v.bufAlloc;
    a.fwdCnt = v.fwdCnt;
  };
  let n = 0;
  const sendRaw = (addr: number, len: number) => {
    drv[1].addSgs([{ addr, len }], [], n++);
    drv[1].kick();
    device.queueNotify(1);
    while (drv[1].getBuf() !== null);
  };
  return {
    memory,
    sab,
    device,
    resets,
    alloc,
    tx: drv[1],
    writeHdr,
    sendRaw,
    send(h, payload = new Uint8Array(0), readable) {
      writeHdr(txBuf, { len: payload.length, ...h });
      memory.write(txBuf + HDR, payload);
      sendRaw(txBuf, readable ?? HDR + payload.length);
      return n;
    },
    received() {
      const out: Got[] = [];
      for (let b = drv[0].getBuf(); b !== null; b = drv[0].getBuf()) {
        const addr = rxBase + b.token * RX_SIZE;
        const a = new VirtioVsockHdr(new DataView(memory.bytes(addr, HDR).slice().buffer));
        out.push({
          srcCid: a.srcCid,
          dstCid: a.dstCid,
          srcPort: a.srcPort,
          dstPort: a.dstPort,
          len: a.len,
          type: a.type,
          op: a.op,
          flags: a.flags,
          bufAlloc: a.bufAlloc,
          fwdCnt: a.fwdCnt,
          data: memory.bytes(addr + HDR, Math.min(a.len, b.len - HDR)).slice(),
        });
        drv[0].addSgs([], [{ addr, len: RX_SIZE }], b.token);
      }
      drv[0].kick();
      device.queueNotify(0);
      return out;
    },
  };
}
