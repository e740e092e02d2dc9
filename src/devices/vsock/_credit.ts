/**
 * Credit-based flow control of a vsock connection (spec 5.10.6.3): the
 * counters each side keeps, all modulo 2^32; what we may still send (the
 * peer's `buf_alloc - (tx_cnt - fwd_cnt)`); what the peer may still send
 * us; and when to tell the peer that our reader made room.
 *
 * @module
 */

/** A connection's credit counters. */
export interface Credit {
  /** The peer's `buf_alloc`, from its last packet. */
  peerBufAlloc: number;
  /** The peer's `fwd_cnt`, from its last packet. */
  peerFwdCnt: number;
  /** Bytes sent in RW packets. */
  txCnt: number;
  /** Bytes received in RW packets. */
  rxCnt: number;
  /** Bytes handed to the reader. */
  fwdCnt: number;
  /** `fwd_cnt` as last sent to the peer. */
  fwdSent: number;
}

/** What we may still send: the peer's `buf_alloc - (tx_cnt - fwd_cnt)`. */
export function peerCredit(s: Credit): number {
  const inFlight = (s.txCnt - s.peerFwdCnt) >>> 0;
  return inFlight >= s.peerBufAlloc ? 0 : s.peerBufAlloc - inFlight;
}

/** Bytes received and not yet read. */
export function unread(s: Credit): number {
  return (s.rxCnt - s.fwdCnt) >>> 0;
}

/** What the peer may still send us: our `bufAlloc` less what our reader has not taken. */
export function ourCredit(s: Credit, bufAlloc: number): number {
  return bufAlloc - unread(s);
}

/** The peer's `buf_alloc` and `fwd_cnt`, as every packet from it carries them. */
export function peerCounters(s: Credit, bufAlloc: number, fwdCnt: number): void {
  s.peerBufAlloc = bufAlloc;
  s.peerFwdCnt = fwdCnt;
}

/** `n` bytes went out in an RW packet. */
export function countSent(s: Credit, n: number): void {
  s.txCnt = (s.txCnt + n) >>> 0;
}

/** `n` bytes came in an RW packet. */
export function countReceived(s: Credit, n: number): void {
  s.rxCnt = (s.rxCnt + n) >>> 0;
}

/** The reader took `n` bytes. */
export function countRead(s: Credit, n: number): void {
  s.fwdCnt = (s.fwdCnt + n) >>> 0;
}

/** Nobody reads any more: all that came counts as read, so the peer keeps its credit. */
export function countAllRead(s: Credit): void {
  s.fwdCnt = s.rxCnt;
}

/** A packet tells the peer our `fwd_cnt`: returns it, remembered as sent. */
export function advertise(s: Credit): number {
  s.fwdSent = s.fwdCnt;
  return s.fwdCnt;
}

/** Is a CREDIT_UPDATE due? Once a quarter of the buffer (`bufAlloc`) is free again, or all of it. */
export function updateDue(s: Credit, bufAlloc: number): boolean {
  const freed = (s.fwdCnt - s.fwdSent) >>> 0;
  return freed >= bufAlloc / 4 || (unread(s) === 0 && freed > 0);
}
