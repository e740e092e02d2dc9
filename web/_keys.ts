/**
 * Browser key codes (`KeyboardEvent.code`) to Linux input key codes
 * (`linux/input-event-codes.h`), for the page's virtio-input keyboard.
 *
 * @module
 */

const ROWS: [string, number][] = [
  ["QWERTYUIOP", 16],
  ["ASDFGHJKL", 30],
  ["ZXCVBNM", 44],
];

const TABLE = new Map<string, number>([
  ["Escape", 1],
  ["Digit0", 11],
  ["Minus", 12],
  ["Equal", 13],
  ["Backspace", 14],
  ["Tab", 15],
  ["Enter", 28],
  ["ControlLeft", 29],
  ["Semicolon", 39],
  ["Quote", 40],
  ["ShiftLeft", 42],
  ["Comma", 51],
  ["Period", 52],
  ["Slash", 53],
  ["ShiftRight", 54],
  ["AltLeft", 56],
  ["Space", 57],
  ["ArrowUp", 103],
  ["ArrowLeft", 105],
  ["ArrowRight", 106],
  ["ArrowDown", 108],
]);
for (let d = 1; d <= 9; d++) TABLE.set(`Digit${d}`, d + 1);
for (const [letters, first] of ROWS) {
  [...letters].forEach((c, i) => TABLE.set(`Key${c}`, first + i));
}

/** The Linux key code of a browser `KeyboardEvent.code`, or undefined. */
export function linuxKeyCode(code: string): number | undefined {
  return TABLE.get(code);
}
