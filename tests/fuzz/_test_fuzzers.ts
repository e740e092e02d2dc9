// Fuzzers that misbehave on purpose, for tests/fuzz/fuzz_entry_test.ts: the
// entry point must write a reproducer for a failure and stop a hang.

/** Fails case 1 of every run, with an input to write down. */
export function fuzzAlwaysFails(o: { seed: number; cases: number; first?: number }) {
  const first = o.first ?? 0;
  const failures = [];
  for (let i = first; i < first + o.cases; i++) {
    if (i === 1) failures.push({ case: i, error: "TypeError: boom", input: { bytes: [1, 2, 3] } });
  }
  return { cases: o.cases, failures };
}

/** Never returns. */
export function fuzzHangs(_o: { seed: number; cases: number }): never {
  for (;;) {
    // spin
  }
}
