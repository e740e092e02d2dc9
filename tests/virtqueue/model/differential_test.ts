// Differential tests of the engine against the reference model: see _suite.ts.
// Fixed seeds and bounded runs keep the cost down; DIFF_RUNS and DIFF_SEED
// override them (e.g. DIFF_RUNS=2000 for a long run).
import { CONFIGS, differential, label } from "./_suite.ts";

const RUNS = Number(Deno.env.get("DIFF_RUNS") ?? 40);
const SEED = Number(Deno.env.get("DIFF_SEED") ?? 0x5eed);

CONFIGS.forEach((f, i) => {
  Deno.test(`differential ${label(f)}: engine and model agree on every observable`, () => {
    differential(f, false, SEED + i, RUNS);
  });
  Deno.test(`differential ${label(f)}: with hostile ring writes, same faults and bytes`, () => {
    differential(f, true, SEED + 100 + i, RUNS);
  });
});
