// Shared by the device tests: an assert.throws / assert.rejects validator for a typed-virtio
// error of a given class and stable code (issue 16: tests check codes where they check errors).

import assert from "node:assert/strict";
import type { VirtioError } from "../../src/errors.ts";

/** Validates an error of class `cls` with `code` (and, given, a message matching `says`). */
export function coded(
  cls: abstract new (...a: never[]) => VirtioError,
  code: string,
  says?: RegExp,
): (e: unknown) => true {
  return (e: unknown) => {
    assert.ok(e instanceof cls, `${e} is not a ${cls.name}`);
    assert.equal(e.code, code, e.message);
    if (says !== undefined) assert.match(e.message, says);
    return true;
  };
}
