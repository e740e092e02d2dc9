// Every `deno run` / `deno task` command in README.md and docs/**/*.md works as written.
//
// The commands are extracted from the markdown (shell code blocks, `// deno run ...` lines in code
// blocks, inline code spans) and run from a scratch copy of the repository, one at a time, each
// under `timeout` (which kills the command's whole process group). A command that ends must exit
// 0. The few that do not end by design are listed in LONG_RUNNING with the reason; they must still
// be running at the end of a start-up window (or have exited 0): a command that fails at start-up,
// for a missing permission say, fails this test.
//
// Rewrites, all of them mechanical and listed here: `[...]` groups are optional arguments of a
// synopsis and are dropped; `npx -y deno@<pinned>` is the Deno running this test (the version is
// checked against .deno-version); `/tmp/` becomes a folder of the scratch copy, so that parallel
// runs on one machine do not share sockets.
//
// The tutorial's code blocks that start with `// examples/<file>` are that file, word for word:
// also checked here.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const root = decodeURIComponent(ROOT.pathname);
/** Set in the commands' environment: a nested run of this file only checks the extraction. */
const NESTED = "TYPED_VIRTIO_DOCS_COMMANDS";
const nested = Deno.env.get(NESTED) === "1";

/** Commands that do not end by design: the start-up window in seconds, and why. */
const LONG_RUNNING: Record<string, { window: number; why: string }> = {
  "deno task test": {
    window: 20,
    why: "the whole suite, this file included: minutes of CI; checked to type-check and start",
  },
  "deno task ci": {
    window: 20,
    why: "the CI script (.ci/run) runs this suite and more: it is what runs this test",
  },
  "deno task bench": { window: 15, why: "every benchmark, minutes of CPU; checked to start" },
  "deno task bench:report": {
    window: 15,
    why: "every benchmark interleaved, minutes of CPU (--qemu boots a guest); checked to start",
  },
  "deno task build:npm": { window: 15, why: "emits the npm package (minutes); checked to start" },
  "deno task test:npm": { window: 15, why: "builds the npm package and runs the suite on Node" },
  "deno task vhost-user-blk": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno task vhost-user-net": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno task vhost-user-input": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno task vhost-user-rng": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno task vhost-user-fs": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno task vhost-user-vsock": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno run --allow-ffi --allow-read --allow-write examples/custom_device/serve.ts": {
    window: 10,
    why: "a vhost-user back-end serves until SIGINT; client.ts runs against it below",
  },
  "deno run --allow-all bench/vhost_user_bench.ts": {
    window: 10,
    why: "boots Linux guests under QEMU, minutes per round; checked to start",
  },
  "deno run --allow-all bench/vhost_user_fs_bench.ts": {
    window: 10,
    why: "boots a Linux guest under QEMU, a minute or more per round; checked to start",
  },
  "deno run -A bench/_transport_compare.ts": { window: 10, why: "a benchmark, minutes of CPU" },
  "deno run -A bench/_v86_compare.ts": {
    window: 10,
    why: "boots Linux in v86 six times, one at a time (minutes each); checked to start",
  },
  "deno run -A bench/_p9_v86_compare.ts": {
    window: 10,
    why: "boots Linux in v86 and reads through its 9p mount, minutes of CPU; checked to start",
  },
  "deno run --allow-read bench/_virtqueue_worker_stress.ts": {
    window: 10,
    why: "a stress benchmark, minutes of CPU",
  },
  "deno run --allow-sys bench/_virtqueue_compare.ts": { window: 10, why: "a benchmark" },
  "deno task fuzz": {
    window: 15,
    why: "fuzz runs of minutes (every fuzzer) to hours (a million cases); checked to start",
  },
  "deno task v86": { window: 15, why: "boots Linux in v86 with the console on the terminal" },
  "deno task vhost-user-scsi": { window: 10, why: "a vhost-user back-end serves until SIGINT" },
  "deno task soak": {
    window: 20,
    why:
      "boots a Linux guest under QEMU (in v86 with --host v86) for --seconds (an hour by default); checked to start",
  },
  "deno task web": {
    window: 15,
    why:
      "builds the page (needs the v86 kit) and serves it until Ctrl-C; tests/web/page_test.ts loads it",
  },
  "deno task fuzz:coverage": {
    window: 30,
    why: "the fuzz tests under coverage, a minute or two of CPU; checked to start",
  },
};

/**
 * Commands this test does not run, by where they are or what they name, and who runs them instead:
 * a user's own project is not this repository, so its commands run in one that
 * scripts/test_outside.ts (`deno task test:outside`, in CI) makes from docs/using.md.
 */
const ELSEWHERE: { readonly test: (c: DocCommand) => boolean; readonly why: string }[] = [
  {
    test: (c) => c.where.startsWith("docs/using.md:") || c.command.includes("jsr:@typed-virtio/"),
    why:
      "a command of a user's project: deno task test:outside runs the guide in a scratch project",
  },
];

/**
 * Commands that end but take minutes when this test runs inside the parallel suite (an npm build,
 * pack and install; every entry point's documentation): the bound, in seconds, that still turns a
 * hang into a failure. They must exit 0 like the rest. At 240 s both timed out in CI runs on the
 * shared 2-core machine while the rest of the suite ran beside them.
 */
const SLOW: Record<string, number> = {
  "deno task test:outside": 900,
  "deno task doc": 900,
};

/** Commands that need another documented command running first. */
const NEEDS: Record<string, string> = {
  "deno run --allow-ffi --allow-read --allow-write examples/custom_device/client.ts /tmp/thermo.sock":
    "deno run --allow-ffi --allow-read --allow-write examples/custom_device/serve.ts /tmp/thermo.sock",
};

/** A documented command and where it was found. */
interface DocCommand {
  readonly where: string;
  readonly command: string;
}

async function docFiles(): Promise<string[]> {
  const files = ["README.md"];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      if (e.isDirectory && e.name !== "api") await walk(`${dir}${e.name}/`);
      else if (e.isFile && e.name.endsWith(".md")) files.push(`${dir}${e.name}`);
    }
  };
  await walk("docs/");
  return files.sort();
}

/** Every `deno run` / `deno task` command of a markdown text, normalised. */
export function extractCommands(md: string, file: string): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = md.split("\n");
  let fence: string | undefined;
  const add = (raw: string, line: number) => {
    const command = raw
      .replace(/\[[^\]]*\]/g, "") // optional arguments of a synopsis
      .replace(/\s+#.*$/, "") // a shell comment
      .replace(/\s+/g, " ")
      .trim();
    out.push({ where: `${file}:${line}`, command });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const f = line.match(/^\s*```(\w*)/);
    if (f) {
      fence = fence === undefined ? f[1] || "text" : undefined;
      continue;
    }
    if (fence !== undefined) {
      let text = line.trim();
      const comment = text.match(/^\/\/\s*((?:deno (?:run|task)) .*)$/);
      if (comment) text = comment[1];
      else if (!/^(sh|bash|shell|console)$/.test(fence)) continue;
      if (!/^(deno (run|task)|npx -y deno@\S+ task)\b/.test(text)) continue;
      const at = i + 1;
      while (text.endsWith("\\") && i + 1 < lines.length) text = text.slice(0, -1) + lines[++i];
      add(text, at);
      continue;
    }
    for (const m of line.matchAll(/`(deno (?:run|task)\b[^`]*)`/g)) add(m[1], i + 1);
  }
  return out;
}

async function allCommands(): Promise<DocCommand[]> {
  const out: DocCommand[] = [];
  for (const f of await docFiles()) {
    out.push(...extractCommands(await Deno.readTextFile(new URL(f, ROOT)), f));
  }
  return out;
}

/** The policy of a command: the longest LONG_RUNNING key it starts with. */
function longRunning(command: string): { window: number; why: string } | undefined {
  const keys = Object.keys(LONG_RUNNING).filter((k) =>
    command === k || command.startsWith(`${k} `)
  );
  keys.sort((a, b) => b.length - a.length);
  return keys.length ? LONG_RUNNING[keys[0]] : undefined;
}

/** A scratch copy of the tracked files of the repository (plus uncommitted changes). */
async function scratchCopy(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-docs-" });
  const ls = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root,
    stdout: "piped",
  }).output();
  assert.ok(ls.success, "git ls-files");
  for (const rel of new TextDecoder().decode(ls.stdout).split("\0").filter((p) => p)) {
    const from = `${root}${rel}`;
    try {
      const info = await Deno.lstat(from);
      if (!info.isFile) continue;
    } catch {
      continue; // deleted in the work tree
    }
    const to = `${dir}/${rel}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(from, to);
  }
  await Deno.mkdir(`${dir}/tmp`);
  // The block back-end's image: the doc makes it with `truncate -s 1G disk.img` just before.
  await Deno.writeFile(`${dir}/disk.img`, new Uint8Array(1 << 20));
  return dir;
}

const version = (await Deno.readTextFile(new URL(".deno-version", ROOT))).trim();

/** The command as this test runs it (see the rewrites at the top). */
function runnable(command: string, scratch: string): string {
  const npx = command.match(/^npx -y deno@(\S+) /);
  if (npx) {
    assert.equal(npx[1], version, `${command}: not the pinned Deno version`);
    assert.equal(Deno.version.deno, version, "this test runs on the pinned Deno version");
    command = `deno ${command.slice(npx[0].length)}`;
  }
  return command.replaceAll("/tmp/", `${scratch}/tmp/`);
}

interface Ran {
  code: number;
  output: string;
}

function start(command: string, scratch: string, seconds: number) {
  const child = new Deno.Command("timeout", {
    args: ["-k", "5", String(seconds), "bash", "-c", command],
    cwd: scratch,
    env: { [NESTED]: "1", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return {
    child,
    done: child.output().then((o): Ran => ({
      code: o.code,
      output: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr),
    })),
  };
}

Deno.test("docs: the commands are found (README, tutorial, vhost-user, device pages)", async () => {
  const cmds = (await allCommands()).map((c) => c.command);
  for (
    const expected of [
      "npx -y deno@" + version + " task demo",
      "deno task demo",
      "deno task gen --check",
      "deno run examples/custom_device/main.ts",
      "deno task vhost-user-rng --socket /tmp/vrng.sock",
      "deno run --allow-ffi --allow-read --allow-write examples/custom_device/client.ts /tmp/thermo.sock",
    ]
  ) {
    assert.ok(cmds.includes(expected), `not extracted: ${expected}`);
  }
  // Synopses lose their optional groups, shell comments and continuation lines.
  assert.deepEqual(
    extractCommands(
      "```sh\ndeno task x --a 1 [--b N] \\\n  [--c]   # note\n```\nSee `deno run y.ts`.",
      "t.md",
    ),
    [{ where: "t.md:2", command: "deno task x --a 1" }, {
      where: "t.md:5",
      command: "deno run y.ts",
    }],
  );
});

Deno.test("docs: deno task test runs the examples' tests (the tutorial's among them)", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  // No file arguments: deno test finds every *_test.ts under the root but the excluded folders
  // and the files that count the process's descriptors, which run after it on their own (the
  // same files in both lists; tests/repo_test.ts checks which files must be there).
  const m = config.tasks.test.match(
    /^deno test( --[a-z-]+)* --ignore=(\S+); s=\$\?; deno test --allow-all ([^;&]+) && exit \$s$/,
  );
  assert.ok(m, config.tasks.test);
  assert.deepEqual(m[2].split(","), m[3].trim().split(" "));
  const excluded: string[] = [
    ...(config.exclude ?? []),
    ...(config.test?.exclude ?? []),
    ...m[2].split(","),
  ];
  for (const f of ["examples/echo/echo_test.ts", "examples/custom_device/thermo_test.ts"]) {
    await Deno.stat(new URL(f, ROOT));
    assert.ok(!excluded.some((e) => f.startsWith(e.replace(/^\.\//, ""))), `${f} is excluded`);
  }
});

Deno.test("docs: the tutorial's file blocks are the files, word for word", async () => {
  const md = await Deno.readTextFile(new URL("docs/tutorial.md", ROOT));
  let checked = 0;
  for (const m of md.matchAll(/```ts ignore\n\/\/ (examples\/\S+\.ts)(:[^\n]*)?\n([\s\S]*?)```/g)) {
    const file = await Deno.readTextFile(new URL(m[1], ROOT));
    const block = `// ${m[1]}${m[2] ?? ""}\n${m[3]}`;
    // A block either quotes the whole file or the file after a `// <path>` first line of its own.
    assert.ok(block === file || m[3] === file, `docs/tutorial.md: the block of ${m[1]} differs`);
    checked++;
  }
  assert.ok(checked >= 8, `only ${checked} file blocks found`);
});

Deno.test({
  name: "docs: every documented deno run / deno task command works as written",
  // A nested run (this test's own `deno task test`) must not run the commands again.
  ignore: nested,
  fn: async () => {
    const scratch = await scratchCopy();
    const failures: string[] = [];
    const seen = new Set<string>();
    try {
      const todo: DocCommand[] = [];
      for (const c of await allCommands()) {
        if (seen.has(c.command) || ELSEWHERE.some((e) => e.test(c))) continue;
        seen.add(c.command);
        todo.push(c);
      }
      // Three at a time: most of the time is start-up windows and subprocess start-up.
      const one = async ({ where, command }: DocCommand) => {
        const cmd = runnable(command, scratch);
        const long = longRunning(runnable(command, ""));
        const before = NEEDS[command];
        const server = before === undefined
          ? undefined
          : start(runnable(before, scratch), scratch, 60);
        if (server !== undefined) await new Promise((r) => setTimeout(r, 3000));
        const ran = await start(cmd, scratch, long?.window ?? SLOW[command] ?? 240).done;
        if (server !== undefined) {
          server.child.kill("SIGINT");
          await server.done;
        }
        const ok = ran.code === 0 || (long !== undefined && ran.code === 124);
        if (!ok) {
          failures.push(
            `${where}: \`${command}\` exited ${ran.code}${
              ran.code === 124 ? " (timed out)" : ""
            }\n${ran.output.slice(-1500)}`,
          );
        }
      };
      // The npm build and test share the scratch copy's npm/ folder: one lane runs them in turn.
      const npm = todo.filter((c) => /\btask (build|test):npm\b/.test(c.command));
      const queue = todo.filter((c) => !npm.includes(c));
      await Promise.all(
        [npm, [], []].map(async (own) => {
          for (const c of own) await one(c);
          for (let c = queue.shift(); c !== undefined; c = queue.shift()) await one(c);
        }),
      );
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
    assert.deepEqual(failures, [], failures.join("\n\n"));
  },
});
