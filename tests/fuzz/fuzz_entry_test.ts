// The fuzz entry point (scripts/fuzz.ts, `deno task fuzz`) on a short,
// fixed-seed run, and the ring fuzzer called directly. Also: a failing
// fuzzer gets a reproducer file, and a hanging one is stopped and reported.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fuzzRings } from "./ring_fuzz.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

async function fuzz(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "scripts", "fuzz.ts"), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("ring fuzzer: 300 fixed-seed cases, no failure", () => {
  const r = fuzzRings({ seed: 42, cases: 300 });
  assert.equal(r.cases, 300);
  assert.deepEqual(r.failures, []);
});

Deno.test("deno task fuzz: a fixed-seed run of the ring fuzzer passes and reports its rate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await fuzz([
      "--only",
      "rings",
      "--cases",
      "400",
      "--batch",
      "200",
      "--seed",
      "1",
      "--out",
      dir,
    ]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /rings: 400 cases in [\d.]+ s, \d+ cases\/s, 0 failures/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task fuzz: a failure is written as a reproducer, a hang is stopped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fuzzers = join(ROOT, "tests", "fuzz", "_test_fuzzers.ts");
    const failing = await fuzz([
      "--fuzzer",
      `${fuzzers}#fuzzAlwaysFails`,
      "--only",
      "fuzzAlwaysFails",
      "--cases",
      "3",
      "--seed",
      "5",
      "--out",
      dir,
    ]);
    assert.equal(failing.code, 1, failing.text);
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "fuzzAlwaysFails-seed5-case1.json")));
    assert.equal(rep.seed, 5);
    assert.equal(rep.case, 1);
    assert.deepEqual(rep.input, { bytes: [1, 2, 3] });
    assert.match(rep.replay, /--seed 5 --first 1 --cases 1/);

    const hanging = await fuzz([
      "--fuzzer",
      `${fuzzers}#fuzzHangs`,
      "--only",
      "fuzzHangs",
      "--cases",
      "2",
      "--timeout",
      "1",
      "--seed",
      "9",
      "--out",
      dir,
    ]);
    assert.equal(hanging.code, 1, hanging.text);
    const hang = JSON.parse(await Deno.readTextFile(join(dir, "fuzzHangs-seed9-case0.json")));
    assert.match(hang.error, /^hang/);
    assert.equal(hang.lastCase, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
