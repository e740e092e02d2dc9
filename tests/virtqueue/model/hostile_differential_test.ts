// Hostile rings, differentially: the engine's device side and the reference
// model's on the same random rings must agree on every chain and fault
// (see hostileRings in _suite.ts).
import { HOSTILE_CONFIGS, hostileRings, label } from "./_suite.ts";

const RUNS = Number(Deno.env.get("DIFF_RUNS") ?? 40) * 5;
const SEED = Number(Deno.env.get("DIFF_SEED") ?? 0x5eed);

HOSTILE_CONFIGS.forEach((f, i) => {
  Deno.test(`hostile rings ${label(f)}: engine and model agree on every chain and fault`, () => {
    hostileRings(f, SEED + 200 + i, RUNS);
  });
});
