/**
 * Which engine and transport code the fuzzers reach (issue 18): runs the
 * fuzz tests under Deno's coverage and prints line and branch coverage for
 * each file of `src/virtqueue/`, `src/transport/` and the 9P and FUSE
 * request decoders (`src/devices/p9/`, `src/devices/fs/`), then the error
 * branches they never reach (uncovered lines that throw or build an error).
 *
 * ```
 * deno task fuzz:coverage [--uncovered] [--keep DIR] [TEST_FILE...]
 * ```
 *
 * The fuzz tests are every `*_test.ts` under `tests/fuzz/` and every
 * `tests/**\/*fuzz*_test.ts` elsewhere (the ring fuzz in
 * `tests/virtqueue/`, the vhost-user message fuzz in `tests/interop/`), or
 * the files given. `--uncovered` lists every uncovered error line, not only
 * the count per file. `--keep DIR` keeps the raw coverage and `lcov.info`
 * in DIR. Figures are recorded in docs/reliability.md.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;
const AREAS = ["src/virtqueue/", "src/transport/", "src/devices/p9/", "src/devices/fs/"];

/** Coverage of one source file, from lcov. */
export interface FileCoverage {
  /** Path relative to the repository. */
  readonly file: string;
  /** Lines found and hit. */
  readonly linesFound: number;
  readonly linesHit: number;
  /** Branches found and taken. */
  readonly branchesFound: number;
  readonly branchesHit: number;
  /** Line numbers never run. */
  readonly uncoveredLines: readonly number[];
}

/** Parses an lcov report into one entry per source file (paths made relative to `root`). */
export function parseLcov(text: string, root: string): FileCoverage[] {
  const out: FileCoverage[] = [];
  let file = "";
  let lf = 0, lh = 0, brf = 0, brh = 0;
  let uncovered: number[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("SF:")) {
      file = line.slice(3).replace(/^file:\/\//, "");
      if (file.startsWith(root)) file = file.slice(root.length);
      lf =
        lh =
        brf =
        brh =
          0;
      uncovered = [];
    } else if (line.startsWith("DA:")) {
      const [n, count] = line.slice(3).split(",");
      if (Number(count) === 0) uncovered.push(Number(n));
    } else if (line.startsWith("LF:")) lf = Number(line.slice(3));
    else if (line.startsWith("LH:")) lh = Number(line.slice(3));
    else if (line.startsWith("BRF:")) brf = Number(line.slice(4));
    else if (line.startsWith("BRH:")) brh = Number(line.slice(4));
    else if (line === "end_of_record") {
      out.push({
        file,
        linesFound: lf,
        linesHit: lh,
        branchesFound: brf,
        branchesHit: brh,
        uncoveredLines: uncovered,
      });
    }
  }
  return out;
}

/** Uncovered lines of `source` that throw or construct an error: the error branches never taken. */
export function uncoveredErrorLines(
  source: string,
  uncovered: readonly number[],
): { line: number; text: string }[] {
  const lines = source.split("\n");
  const out: { line: number; text: string }[] = [];
  for (const n of uncovered) {
    const text = (lines[n - 1] ?? "").trim();
    if (/\bthrow\b|new \w*Error\(|needsReset\(|deviceFailed\(/.test(text)) {
      out.push({ line: n, text });
    }
  }
  return out;
}

function pct(hit: number, found: number): string {
  return found === 0 ? "   -  " : `${(100 * hit / found).toFixed(1).padStart(5)}%`;
}

function fuzzTests(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) walk(rel);
      else if (
        e.name.endsWith("_test.ts") && (dir === "tests/fuzz" || e.name.includes("fuzz"))
      ) found.push(rel);
    }
  };
  walk("tests");
  return found.sort();
}

async function main(): Promise<number> {
  const args = [...Deno.args];
  const listAll = args.includes("--uncovered");
  const keepAt = args.indexOf("--keep");
  const keep = keepAt >= 0 ? args[keepAt + 1] : undefined;
  const files = args.filter((a, i) => !a.startsWith("--") && (keepAt < 0 || i !== keepAt + 1));
  const tests = files.length > 0 ? files : fuzzTests();
  const dir = keep ?? await Deno.makeTempDir({ prefix: "typed-virtio-fuzzcov-" });
  const cov = `${dir}/raw`;
  try {
    await Deno.remove(cov, { recursive: true }).catch(() => {});
    console.log(`fuzz coverage: running ${tests.join(", ")}`);
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", `--coverage=${cov}`, ...tests],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!run.success) {
      console.error("fuzz coverage: the fuzz tests failed; coverage below is of a failing run");
    }
    const lcovFile = `${dir}/lcov.info`;
    const report = await new Deno.Command(Deno.execPath(), {
      args: [
        "coverage",
        cov,
        "--lcov",
        `--output=${lcovFile}`,
        ...AREAS.map((a) => `--include=${a}`),
      ],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!report.success) return 1;
    const all = parseLcov(await Deno.readTextFile(lcovFile), ROOT)
      .filter((f) => AREAS.some((a) => f.file.startsWith(a)))
      .sort((a, b) => a.file.localeCompare(b.file));
    // Files no fuzz test loads are not in the report at all: list them as such.
    const loaded = new Set(all.map((f) => f.file));
    const unloaded: string[] = [];
    for (const area of AREAS) {
      const walk = (dir: string) => {
        for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
          const rel = `${dir}${e.name}`;
          if (e.isDirectory) walk(`${rel}/`);
          else if (e.name.endsWith(".ts") && !loaded.has(rel)) unloaded.push(rel);
        }
      };
      walk(area);
    }
    unloaded.sort();
    const width = Math.max(...all.map((f) => f.file.length), 10);
    console.log(
      `\n${"file".padEnd(width)}   lines            branches         uncovered error lines`,
    );
    const total = { lf: 0, lh: 0, bf: 0, bh: 0, errs: 0 };
    const errorLines: string[] = [];
    for (const area of AREAS) {
      const sub = { lf: 0, lh: 0, bf: 0, bh: 0 };
      for (const f of all.filter((x) => x.file.startsWith(area))) {
        const src = await Deno.readTextFile(`${ROOT}${f.file}`);
        const errs = uncoveredErrorLines(src, f.uncoveredLines);
        for (const e of errs) errorLines.push(`${f.file}:${e.line}: ${e.text}`);
        console.log(
          `${f.file.padEnd(width)} ${pct(f.linesHit, f.linesFound)} ${
            `${f.linesHit}/${f.linesFound}`.padStart(9)
          }  ${pct(f.branchesHit, f.branchesFound)} ${
            `${f.branchesHit}/${f.branchesFound}`.padStart(9)
          }  ${errs.length}`,
        );
        sub.lf += f.linesFound;
        sub.lh += f.linesHit;
        sub.bf += f.branchesFound;
        sub.bh += f.branchesHit;
        total.errs += errs.length;
      }
      console.log(
        `${`${area} (all)`.padEnd(width)} ${pct(sub.lh, sub.lf)} ${
          `${sub.lh}/${sub.lf}`.padStart(9)
        }  ${pct(sub.bh, sub.bf)} ${`${sub.bh}/${sub.bf}`.padStart(9)}\n`,
      );
      total.lf += sub.lf;
      total.lh += sub.lh;
      total.bf += sub.bf;
      total.bh += sub.bh;
    }
    console.log(
      `${"total".padEnd(width)} ${pct(total.lh, total.lf)} ${
        `${total.lh}/${total.lf}`.padStart(9)
      }  ${pct(total.bh, total.bf)} ${`${total.bh}/${total.bf}`.padStart(9)}  ${total.errs}`,
    );
    console.log(`\nnot loaded by any fuzz test (0%): ${unloaded.join(", ") || "none"}`);
    if (listAll) {
      console.log(`\nuncovered error lines (${errorLines.length}):`);
      for (const l of errorLines) console.log(`  ${l}`);
    } else {
      console.log(`\n${errorLines.length} uncovered error lines; --uncovered lists them`);
    }
    return run.success ? 0 : 1;
  } finally {
    if (keep === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
