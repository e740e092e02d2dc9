// Mutation check of the differential tests: deliberately broken variants of
// the engine (an off-by-one at the end of the ring, a ring word never
// written, a bounds check skipped...) must each be caught by the tests of
// tests/virtqueue/model/. Each mutant is a copy of src/ and the model tests
// in a temporary directory with one textual patch applied; the differential
// suites run against it (in this process, fewer runs) and must find a
// difference between engine and model. A patch whose target text is gone
// fails this test, so the list follows the engine's code.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Mutation {
  name: string;
  file: string;
  from: string;
  to: string;
}

export const MUTATIONS: Mutation[] = [
  {
    name: "packed driver wraps one descriptor early",
    file: "src/virtqueue/packed/driver.ts",
    from: "if (++pos === size) {",
    to: "if (++pos === size - 1) {",
  },
  {
    name: "packed device wraps one descriptor late",
    file: "src/virtqueue/packed/device.ts",
    from: "      if (endPos === size) {",
    to: "      if (endPos === size + 1) {",
  },
  {
    name: "split driver never writes the avail idx (unshared memory)",
    file: "src/virtqueue/split/driver.ts",
    from: "else av.setUint16(ab + A.idx, idx, true);",
    to: "else void idx;",
  },
  {
    name: "split device skips the bounds check on next",
    file: "src/virtqueue/split/device.ts",
    from: "if (next >= size) this.#badNext(c, idx, next);",
    to: "",
  },
  {
    name: "the chain rules skip readable-after-writable",
    file: "src/virtqueue/_chain_builder.ts",
    from: "return region === undefined || (!writable && writableCount > 0) ||",
    to: "return region === undefined ||",
  },
  {
    name: "vring_need_event off by one",
    file: "src/virtqueue/_ring_util.ts",
    from: "return ((newIdx - event - 1) & 0xffff)",
    to: "return ((newIdx - event) & 0xffff)",
  },
  {
    name: "split driver does not move used_event in getBuf",
    file: "src/virtqueue/split/driver.ts",
    from: "else this.#av.setUint16(this.#usedEventAt, now, true);",
    to: "else void now;",
  },
  {
    name: "IN_ORDER skipped buffers reported as empty",
    file: "src/virtqueue/_driver_core.ts",
    from: "this.#lastLen = this.writable[id];",
    to: "this.#lastLen = 0;",
  },
  {
    name: "split device accepts an avail idx one past the queue size",
    file: "src/virtqueue/split/device.ts",
    from: "if (pending > this.size) this.#availAhead",
    to: "if (pending > this.size + 1) this.#availAhead",
  },
  {
    name: "packed device ignores the USED bit",
    file: "src/virtqueue/packed/device.ts",
    from: "return ((flags >>> 7) & 1) === wrap && ((flags >>> 15) & 1) !== wrap;",
    to: "return ((flags >>> 7) & 1) === wrap;",
  },
  {
    name: "split device forgets the used len",
    file: "src/virtqueue/split/device.ts",
    from: "this.#uv.setUint32(e + E.len, len, true);",
    to: "void len;",
  },
  {
    name: "split indirect loop check one late",
    file: "src/virtqueue/split/device.ts",
    from: "if (++n > entries) {",
    to: "if (++n > entries + 1) {",
  },
];

async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** A copy of what the differential tests need, with `m` applied (none: the engine as it is). */
async function mutant(m: Mutation | undefined): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "vq_mutant_" });
  await sh(
    "cp",
    ["-r", join(ROOT, "src"), join(ROOT, "deno.json"), join(ROOT, "deno.lock"), dir],
    ROOT,
  );
  await Deno.mkdir(join(dir, "tests", "virtqueue"), { recursive: true });
  await sh(
    "cp",
    ["-r", join(ROOT, "tests", "virtqueue", "model"), join(dir, "tests", "virtqueue")],
    ROOT,
  );
  if (m !== undefined) {
    const path = join(dir, m.file);
    const text = await Deno.readTextFile(path);
    const at = text.indexOf(m.from);
    assert.ok(at >= 0, `mutation "${m.name}": target text not found in ${m.file}`);
    await Deno.writeTextFile(path, text.slice(0, at) + m.to + text.slice(at + m.from.length));
  }
  return dir;
}

/**
 * Runs the differential suites of `dir` in this process (a mutant's modules
 * are a module graph of their own); the first difference found, or undefined.
 */
async function difference(dir: string, runs: number): Promise<string | undefined> {
  const suite = await import(join(dir, "tests", "virtqueue", "model", "_suite.ts"));
  const jobs: (() => void)[] = [];
  suite.CONFIGS.forEach((f: unknown, i: number) => {
    jobs.push(() => suite.differential(f, false, 0x5eed + i, runs));
    jobs.push(() => suite.differential(f, true, 0x5eed + 100 + i, runs));
  });
  suite.HOSTILE_CONFIGS.forEach((f: unknown, i: number) => {
    jobs.push(() => suite.hostileRings(f, 0x5eed + 200 + i, runs * 5));
  });
  for (const job of jobs) {
    try {
      job();
    } catch (e) {
      // fast-check's error carries the assertion as its cause. Caught means a
      // difference the oracle found, not a crash of the copy.
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : "";
      const text = cause || String(e instanceof Error ? e.message : e);
      if (/differs/.test(text)) return text.split("\n")[0];
      throw e;
    }
  }
  return undefined;
}

const RUNS = 10;

Deno.test("mutation check: the differential tests pass on the engine and catch every mutant", async () => {
  const base = await mutant(undefined);
  try {
    assert.equal(await difference(base, RUNS), undefined, "the unmutated copy differs");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
  const survivors: string[] = [];
  for (const m of MUTATIONS) {
    const dir = await mutant(m);
    try {
      const found = await difference(dir, RUNS);
      if (found === undefined) survivors.push(m.name);
      else console.log(`caught: ${m.name}: ${found.slice(0, 100)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  assert.deepEqual(survivors, [], "mutants the differential tests did not catch");
});
