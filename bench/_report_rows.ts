// The machine-readable side of the bench/_*_compare.ts scripts: with `--json`
// among their arguments they print, beside their table, one line per ratio
// ("BENCH_ROW {...}"), which bench/report.ts collects. Other arguments keep
// their places (`positional()` drops the `--` flags).

/** One measured ratio: the case's cost (CPU time) over its baseline's, in the same run. */
export interface BenchRow {
  /** What part of the project (accessors, engine, transports, devices, ...). */
  readonly area: string;
  /** The case measured. */
  readonly case: string;
  /** The baseline it is measured against, in the same process and run. */
  readonly baseline: string;
  /** Cost of the case over cost of the baseline (1.25 = takes 25% more time). */
  readonly ratio: number;
  /** Anything else worth printing (absolute rates, wall-clock ratio). */
  readonly detail?: string;
}

/** The script's arguments without `--` flags. */
export function positional(): string[] {
  return Deno.args.filter((a) => !a.startsWith("--"));
}

const json = Deno.args.includes("--json");

/** Print `row` for bench/report.ts when the script runs with `--json`. */
export function reportRow(row: BenchRow): void {
  if (json) console.log(`BENCH_ROW ${JSON.stringify(row)}`);
}
