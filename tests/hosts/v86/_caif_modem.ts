// The modem's side of Linux's CAIF stack, as much as a CAIF socket needs: the v86 test's peer for
// AF_CAIF. Facts from Linux 6.1's net/caif (read, not copied): caif_virtio's link has no FCS and no
// STX (its caif_dev_common is zeroed), so each frame is a le16 length (the body's length + 2),
// the body, and 2 bytes of padding (cffrml); the body starts with the channel id (cfmuxl).
// Channel 0 is control (cfctrl): a LINK_SETUP request (command 0) carries the link parameters,
// and the answer is the same bytes with the response bit (0x20) set and the new channel id
// appended; LINK_DESTROY (1) is answered with the response bit. On an AT channel (VEI, link type
// 1) each message starts with VEI_PAYLOAD (0x00).

const CMD_LINK_SETUP = 0;
const CMD_LINK_DESTROY = 1;
const RSP_BIT = 0x20;
const ERR_BIT = 0x10;
const SRV_VEI = 1;
const VEI_PAYLOAD = 0x00;

/** What the modem saw on the control channel. */
export interface CaifControlEvent {
  readonly cmd: "setup" | "destroy";
  readonly channel: number;
  readonly linkType?: number;
}

/** A CAIF modem that answers link setups and replies to AT channel messages. */
export class CaifModem {
  readonly control: CaifControlEvent[] = [];
  readonly #channels = new Map<number, number>();
  #next = 5;

  constructor(
    readonly send: (frame: Uint8Array) => void,
    readonly answer: (message: Uint8Array) => Uint8Array,
  ) {}

  /** One uplink frame (headroom and tailroom already cut). */
  receive(frame: Uint8Array): void {
    if (frame.length < 3) return;
    const len = frame[0] | (frame[1] << 8);
    if (len < 3 || len > frame.length) return;
    const body = frame.subarray(2, len); // 2 + (len - 2): the padding left out
    const channel = body[0];
    if (channel === 0) this.#controlFrame(body.subarray(1));
    else if (this.#channels.get(channel) === SRV_VEI && body[1] === VEI_PAYLOAD) {
      this.#out(channel, [VEI_PAYLOAD, ...this.answer(body.subarray(2))]);
    }
  }

  #controlFrame(c: Uint8Array): void {
    if (c.length === 0 || (c[0] & (RSP_BIT | ERR_BIT)) !== 0) return;
    const cmd = c[0] & 0x0f;
    if (cmd === CMD_LINK_SETUP && c.length >= 4) {
      const channel = this.#next++;
      const linkType = c[1] & 0x0f;
      this.#channels.set(channel, linkType);
      this.control.push({ cmd: "setup", channel, linkType });
      this.#out(0, [RSP_BIT | c[0], ...c.subarray(1), channel]);
    } else if (cmd === CMD_LINK_DESTROY && c.length >= 2) {
      this.#channels.delete(c[1]);
      this.control.push({ cmd: "destroy", channel: c[1] });
      this.#out(0, [RSP_BIT | c[0], c[1]]);
    }
  }

  #out(channel: number, bytes: number[]): void {
    const body = [channel, ...bytes];
    const f = new Uint8Array(2 + body.length + 2);
    f[0] = (body.length + 2) & 0xff;
    f[1] = (body.length + 2) >> 8;
    f.set(body, 2);
    this.send(f);
  }
}
