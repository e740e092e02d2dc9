// The repository's promises to a new user: the README's two commands use the
// pinned Deno version, and the tasks they name exist.
import assert from "node:assert/strict";

const version = (await Deno.readTextFile(new URL("../.deno-version", import.meta.url))).trim();
const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

Deno.test("README's two commands use the Deno version pinned in .deno-version", () => {
  assert.match(version, /^\d+\.\d+\.\d+$/);
  assert.ok(readme.includes(`npx -y deno@${version} task demo`), "demo command");
  assert.ok(readme.includes(`npx -y deno@${version} task test`), "test command");
  const others = [...readme.matchAll(/deno@(\d+\.\d+\.\d+)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(others)], [version], "no other Deno version in the README");
});

Deno.test("deno.json has the tasks the README and CI use", () => {
  for (const t of ["demo", "test", "gen", "bench", "ci"]) {
    assert.equal(typeof config.tasks[t], "string", `task ${t}`);
  }
  assert.equal(config.name, "@typed-virtio/virtio");
  for (const [k, v] of Object.entries(config.imports as Record<string, string>)) {
    assert.match(v, /^(npm:|node:|\.)/, `import ${k} must come from npm`);
  }
});

Deno.test("schema/mod.ts re-exports every schema module", async () => {
  const mod = await Deno.readTextFile(new URL("../schema/mod.ts", import.meta.url));
  for (const dir of ["schema", "schema/devices"]) {
    for await (const e of Deno.readDir(new URL(`../${dir}/`, import.meta.url))) {
      if (!e.isFile || !e.name.endsWith(".ts") || e.name === "mod.ts") continue;
      const rel = `./${dir.replace(/^schema\/?/, "")}${dir === "schema" ? "" : "/"}${e.name}`;
      assert.ok(mod.includes(`export * from "${rel}";`), `schema/mod.ts lacks ${rel}`);
    }
  }
});

// --- Guards of the suite itself (docs/testing.md) ---

const root = new URL("../", import.meta.url);

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, {
    args,
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout) + d.decode(o.stderr) };
}

Deno.test("every test file runs on Node or is listed in DENO_ONLY_TESTS with a reason", async () => {
  const { DENO_ONLY_TESTS, denoOnlyReason, staleDenoOnlyTests, testFiles } = await import(
    "../scripts/test_npm.ts"
  );
  const { matchGlob } = await import("../scripts/_npm.ts");
  const files = await testFiles();
  assert.ok(files.includes("tests/repo_test.ts"), "the walk finds the test files");
  assert.deepEqual(staleDenoOnlyTests(files), [], "DENO_ONLY_TESTS entries that match no file");
  for (const [glob, why] of Object.entries(DENO_ONLY_TESTS)) {
    assert.ok(why.length > 10, `${glob}: say why it runs on Deno only`);
  }
  const unlisted: string[] = [];
  for (const f of files) {
    if (matchGlob(f, Object.keys(DENO_ONLY_TESTS)) !== undefined) continue;
    const why = await denoOnlyReason(f);
    if (why !== undefined) unlisted.push(`${f}: ${why}`);
  }
  assert.deepEqual(unlisted, [], "test files the Node run would drop without a listed reason");
});

Deno.test("test files that count the process's open descriptors run apart from the parallel run", async () => {
  // `deno test --parallel` runs test files side by side in one process, so a count of
  // /proc/self/fd moves with whatever the neighbours open (CI saw 64 against 68). Such files
  // run in deno task test's second, serial invocation, where nothing else runs beside them.
  const { testFiles } = await import("../scripts/test_npm.ts");
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const serial = config.tasks.test.match(/ --ignore=(\S+);/)?.[1].split(",") ?? [];
  const counting = /readDirSync\("\/proc\/self\/fd"\)\]\.length|openFds\(\)/;
  const must: string[] = [];
  for (const f of await testFiles()) {
    // The file and the fuzz modules it runs, and theirs (`*fuzz.ts`, followed transitively).
    const seen = new Set<string>();
    const todo = [new URL(`../${f}`, import.meta.url)];
    let text = "";
    for (let u = todo.pop(); u !== undefined; u = todo.pop()) {
      if (seen.has(u.href)) continue;
      seen.add(u.href);
      const t = await Deno.readTextFile(u);
      text += t;
      for (const m of t.matchAll(/from "(\.\.?\/[^"]*fuzz\.ts)"/g)) todo.push(new URL(m[1], u));
    }
    if (counting.test(text)) must.push(f);
  }
  assert.ok(must.length >= 5, `found only ${must.join(", ")}`);
  assert.deepEqual(must.sort(), [...serial].sort());
});

// Built from parts so that this file does not match its own check.
const MIRROR_URL = new RegExp(
  "https?://[^\\s\"'`)]*(" + ["deb", "ian"].join("") + "|" + ["ubu", "ntu"].join("") +
    ")[^\\s\"'`)]*",
  "i",
);

Deno.test("no Debian or Ubuntu mirror URL in scripts/, src/, .ci/ or tests/", async () => {
  assert.match("see http://deb." + "debian.org/debian", MIRROR_URL, "the pattern matches a mirror");
  assert.match("https://archive." + "ubuntu.com/ubuntu", MIRROR_URL);
  const found: string[] = [];
  const visit = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await visit(p);
      else if (e.isFile) {
        const text = await Deno.readTextFile(new URL(p, root));
        text.split("\n").forEach((line, i) => {
          const m = MIRROR_URL.exec(line);
          if (m) found.push(`${p}:${i + 1}: ${m[0]}`);
        });
      }
    }
  };
  for (const dir of ["scripts", "src", ".ci", "tests"]) await visit(dir);
  assert.deepEqual(found, [], "read the mirror from the system's apt sources (scripts/_apt.sh)");
});

Deno.test("scripts/_apt.sh reads the mirror from the apt sources it is pointed at", async () => {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-apt-" });
  try {
    await Deno.mkdir(`${dir}/sources.list.d`);
    const mirror = "http://mirror.example:3142/" + "debian";
    // a disabled stanza, a deb-src one and one for another suite come first
    await Deno.writeTextFile(
      `${dir}/sources.list.d/a.sources`,
      `Types: deb\nURIs: http://off.example/x\nSuites: bookworm\nEnabled: no\n\n` +
        `# a comment\nTypes: deb-src\nURIs: http://src.example/x\nSuites: bookworm\n\n` +
        `Types: deb\nURIs: http://other.example/x\nSuites: nodistro\n\n` +
        `Types: deb\nURIs: ${mirror} http://second.example/x\nSuites: bookworm bookworm-updates\n` +
        `Components: main\nSigned-By: /k.gpg\n`,
    );
    await Deno.writeTextFile(`${dir}/sources.list.d/b.sources.disabled`, `Types: deb\nURIs: x\n`);
    const sh = (suite: string) =>
      run("bash", [
        "-c",
        `APT_SOURCES_ROOT='${dir}' && . scripts/_apt.sh && apt_mirror_uri ${suite} && ` +
        `apt_signed_by ${suite} && w=$(mktemp -d) && apt_private_source "$w" ${suite}-backports ` +
        `i386 && cat "$w"/parts/*.sources && rm -rf "$w"`,
      ]);
    // apt_private_source reads the system's codename; pass the one the fixture uses
    const r = await sh("bookworm");
    assert.equal(r.code, 0, r.out);
    const lines = r.out.split("\n");
    assert.equal(lines[0], mirror);
    assert.equal(lines[1], "/k.gpg");
    // the one-line format wins when present, options and all
    await Deno.writeTextFile(
      `${dir}/sources.list`,
      `deb-src http://src.example/x bookworm main\n` +
        `deb [arch=amd64 signed-by=/one.gpg] http://one.example/mirror bookworm main\n`,
    );
    const one = await run("bash", [
      "-c",
      `APT_SOURCES_ROOT='${dir}' && . scripts/_apt.sh && apt_mirror_uri bookworm && apt_signed_by bookworm && apt_mirror_uri sid`,
    ]);
    assert.notEqual(one.code, 0, "no source for sid");
    assert.deepEqual(one.out.split("\n").slice(0, 2), ["http://one.example/mirror", "/one.gpg"]);
    assert.match(one.out, /no enabled deb source for suite sid/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(".ci/run's tally counts ignored and skipped tests as failed, Deno and Node apart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-tally-" });
  try {
    const write = (name: string, text: string) => Deno.writeTextFile(`${dir}/${name}`, text);
    await write(
      "ignored.log",
      "a ... ok (1ms)\nb ... ignored (0ms)\n\nok | 1 passed | 0 failed | 2 ignored (39ms)\n",
    );
    await write("ok.log", "ok | 7 passed (3 steps) | 0 failed (2s)\n");
    await write("failed.log", "FAILED | 3 passed | 1 failed | 1 filtered out (2s)\n");
    await write(
      "node.log",
      "# tests 6\n# pass 4\n# fail 0\n# cancelled 0\n# skipped 1\n# todo 1\n",
    );
    await write("node_ok.log", "# tests 4\n# pass 4\n# fail 0\n# skipped 0\n");
    const tally = async (...args: string[]) => {
      const r = await run("bash", [
        "-c",
        `. .ci/_count.sh && ci_tally ${
          args.map((a) => a.endsWith(".log") ? `${dir}/${a}` : a).join(" ")
        }`,
      ]);
      const lines = r.out.trimEnd().split("\n");
      return { code: r.code, breakdown: lines.at(-2), last: lines.at(-1), out: r.out };
    };

    const ignored = await tally("ignored.log", "0");
    assert.equal(ignored.last, "tests: 1 passed, 2 failed");
    assert.equal(ignored.code, 1, "an ignored test fails CI");

    const both = await tally("ok.log", "0", "node.log", "0");
    assert.equal(
      both.breakdown,
      "tests by runner: deno: 7 passed, 0 failed, 0 ignored; node (npm package): 4 passed, " +
        "0 failed, 2 skipped (ignored and skipped count as failed)",
    );
    assert.equal(both.last, "tests: 11 passed, 2 failed");
    assert.equal(both.code, 1);

    const good = await tally("ok.log", "0", "node_ok.log", "0");
    assert.equal(good.last, "tests: 11 passed, 0 failed");
    assert.equal(good.code, 0, good.out);

    const failed = await tally("failed.log", "1");
    assert.equal(failed.last, "tests: 3 passed, 1 failed");

    // a runner that died before its summary, and an npm build that failed
    const died = await tally("ok.log", "101", "node_ok.log", "1");
    assert.equal(died.last, "tests: 11 passed, 2 failed");
    assert.match(died.out, /deno test exited with status 101/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(".ci/run ends with the tally and runs the tests with CI=true", async () => {
  const ci = await Deno.readTextFile(new URL(".ci/run", root));
  assert.match(ci, /^\. \.ci\/_count\.sh$/m);
  assert.match(ci, /^CI=true deno task test /m);
  assert.match(ci, /^ {2}CI=true deno task test:npm /m);
  assert.match(ci, /^ci_tally "\$log_dir\/test\.log" /m);
  assert.equal((await run("bash", ["-n", ".ci/run"])).code, 0);
});

Deno.test("README's examples run and assert their results instead of printing them", async () => {
  // a value printed with its expected value in a comment checks nothing
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, "the README's runnable examples");
  for (const b of blocks) {
    for (const line of b.split("\n")) {
      assert.doesNotMatch(line, /console\.log\(.*\);?\s*\/\/\s*\S/, `assert instead: ${line}`);
    }
  }
  const r = await run(Deno.execPath(), ["test", "--doc", "--allow-all", "README.md"]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /ok \| [1-9]\d* passed \| 0 failed/);
});

Deno.test("test files read no clock, sleep in no guest, and hide no failure with .catch", async () => {
  const { testFiles } = await import("../scripts/test_npm.ts");
  const { walkFiles } = await import("../scripts/_npm.ts");
  const tests = new Set<string>(await testFiles());
  const found: string[] = [];
  for (const p of await walkFiles("tests", /\.ts$/)) {
    const lines = (await Deno.readTextFile(new URL(p, root))).split("\n");
    lines.forEach((line, i) => {
      const at = `${p}:${i + 1}: ${line.trim()}`;
      // a clock in a test file means a timing assertion (helpers may keep deadlines)
      if (tests.has(p) && /\b(performance|Date)\.now\(\)/.test(line)) found.push(`clock: ${at}`);
      // a guest that sleeps races the host: wait for a marker instead
      if (/^\s*sleep\s+[\d.]+\s*$/.test(line)) found.push(`sleep: ${at}`);
      // swallowing a rejection is only for cleanup
      if (
        /\.catch\(\(\) => (\{\}|undefined)\)/.test(line) &&
        !/\b(remove|close|kill|stop|cancel|terminate)\(/.test(line)
      ) found.push(`catch: ${at}`);
    });
  }
  assert.deepEqual(found, [], "see docs/testing.md, Rules");
});

Deno.test("every fast-check property in tests/ runs with a fixed seed", async () => {
  const { walkFiles } = await import("../scripts/_npm.ts");
  const found: string[] = [];
  let calls = 0;
  for (const p of await walkFiles("tests", /\.ts$/)) {
    const text = await Deno.readTextFile(new URL(p, root));
    for (const m of text.matchAll(/\bfc\.assert\(/g)) {
      // The call's text, to its closing parenthesis (strings and comments skipped).
      let depth = 0, i = m.index + m[0].length - 1, quote = "";
      for (; i < text.length; i++) {
        const ch = text[i];
        if (quote) {
          if (ch === "\\") i++;
          else if (ch === quote) quote = "";
        } else if (ch === '"' || ch === "'" || ch === "`") quote = ch;
        else if (ch === "/" && text[i + 1] === "/") i = text.indexOf("\n", i);
        else if (ch === "(") depth++;
        else if (ch === ")" && --depth === 0) break;
      }
      calls++;
      // An unfixed seed makes CI a lottery: a failure seen once may never come back.
      if (!/\bseed\b\s*[:,}]/.test(text.slice(m.index, i))) {
        found.push(`${p}:${text.slice(0, m.index).split("\n").length}`);
      }
    }
  }
  assert.ok(calls > 20, `found ${calls} fc.assert calls`);
  assert.deepEqual(found, [], "fc.assert without a seed");
});

// --- One name per concept (docs/architecture.md, "Naming") ---

interface DocLocation {
  filename: string;
  line: number;
}
interface DocMember {
  name?: string;
  kind?: string;
  readonly?: boolean;
  isStatic?: boolean;
  accessibility?: string;
  jsDoc?: { tags?: { kind: string }[] };
}
interface DocDeclaration {
  kind: string;
  location: DocLocation;
  def?: {
    target?: DocLocation;
    returnType?: { repr: string };
    properties?: DocMember[];
    methods?: DocMember[];
  };
}
interface DocSymbol {
  name: string;
  declarations: DocDeclaration[];
}

/** `deno doc --json` of some modules: their exported symbols, by module (relative to the root). */
async function docSymbols(modules: string[]): Promise<Map<string, DocSymbol[]>> {
  const r = await run(Deno.execPath(), ["doc", "--json", ...modules]);
  assert.equal(r.code, 0, r.out);
  const doc = JSON.parse(r.out.slice(r.out.indexOf("{"))) as {
    nodes: Record<string, { symbols: DocSymbol[] }>;
  };
  const rel = (f: string) => f.slice(root.href.length);
  return new Map(Object.entries(doc.nodes).map(([f, n]) => [rel(f), n.symbols]));
}

let entrySymbols: Promise<Map<string, DocSymbol[]>> | undefined;
/** The public symbols of every entry point (deno.json's exports), by entry point. */
function publicSymbols(): Promise<Map<string, DocSymbol[]>> {
  return entrySymbols ??= docSymbols(Object.values(config.exports as Record<string, string>));
}

/** Where a declaration really is: a re-export resolved to what it names, as `file:line`. */
function origin(d: DocDeclaration): string {
  const at = d.kind === "reference" && d.def?.target ? d.def.target : d.location;
  return `${at.filename.slice(root.href.length)}:${at.line}`;
}

Deno.test("no two public exports share a name with different meanings", async () => {
  const byName = new Map<string, Map<string, string[]>>(); // name -> origin -> entry points
  for (const [entry, symbols] of await publicSymbols()) {
    for (const s of symbols) {
      const o = [...new Set(s.declarations.map(origin))].sort().join(" + ");
      const origins = byName.get(s.name) ?? new Map<string, string[]>();
      origins.set(o, [...(origins.get(o) ?? []), entry]);
      byName.set(s.name, origins);
    }
  }
  const schema = await import("../schema/mod.ts") as Record<string, unknown>;
  const generated = await import("../src/generated/mod.ts") as Record<string, unknown>;
  const clashes: string[] = [];
  for (const [name, origins] of byName) {
    if (origins.size < 2) continue;
    const places = [...origins.keys()];
    // A schema constant and the constant the generator emits from it are one concept.
    const emitted = places.length === 2 && places.some((p) => p.startsWith("schema/")) &&
      places.some((p) => p.startsWith("src/generated/")) && typeof schema[name] === "number" &&
      schema[name] === generated[name];
    if (!emitted) {
      clashes.push(`${name}: ${[...origins].map(([o, e]) => `${o} (${e})`).join(", ")}`);
    }
  }
  assert.deepEqual(clashes, []);
});

Deno.test("each device type follows the naming scheme: TDevice, TDriver, tDriver(), their options", async () => {
  const symbols = await publicSymbols();
  const types: string[] = [];
  for await (const e of Deno.readDir(new URL("src/devices/", root))) {
    if (e.isDirectory && !e.name.startsWith("_")) types.push(e.name);
  }
  assert.ok(types.length >= 7, "the device types");
  for (const t of types.sort()) {
    const T = t[0].toUpperCase() + t.slice(1);
    assert.equal(
      config.exports[`./devices/${t}`],
      `./src/devices/${t}/mod.ts`,
      `entry point of ${t}`,
    );
    const exported = new Map(
      (symbols.get(`src/devices/${t}/mod.ts`) ?? []).map((s) => [s.name, s]),
    );
    const kinds = (n: string) => exported.get(n)?.declarations.map((d) => d.kind) ?? [];
    assert.deepEqual(kinds(`${T}Device`), ["class"], `${t}: the device model class ${T}Device`);
    assert.equal(kinds(`${T}Driver`).length, 1, `${t}: the driver type ${T}Driver`);
    assert.deepEqual(kinds(`${t}Driver`), ["function"], `${t}: the factory ${t}Driver()`);
    const factory = exported.get(`${t}Driver`)?.declarations[0];
    assert.equal(factory?.def?.returnType?.repr, `${T}Driver`, `${t}Driver() returns a ${T}Driver`);
    for (const o of [`${T}DeviceOptions`, `${T}DriverOptions`]) {
      assert.deepEqual(kinds(o), ["interface"], `${t}: ${o}`);
    }
    // The spec's `Virtio*` names belong to the generated accessors, not to our device classes.
    const ours = [...exported.values()].filter((s) =>
      s.declarations.some((d) =>
        origin(d).startsWith(`src/devices/${t}/`) && ["class", "interface"].includes(d.kind)
      ) && /^Virtio/.test(s.name)
    );
    assert.deepEqual(ours.map((s) => s.name), [], `${t}: no Virtio-prefixed names of our own`);
  }
});

let allDeclarations: Promise<{ name: string; d: DocDeclaration }[]> | undefined;
/** Every exported declaration of the entry points, re-exports followed to where they are declared. */
function publicDeclarations(): Promise<{ name: string; d: DocDeclaration }[]> {
  return allDeclarations ??= readPublicDeclarations();
}

async function readPublicDeclarations(): Promise<{ name: string; d: DocDeclaration }[]> {
  const entries = await publicSymbols();
  // Every exported declaration, re-exports followed to the module that declares them.
  const declarations: { name: string; d: DocDeclaration }[] = [];
  const targets = new Map<string, DocLocation>(); // "file:line" -> where a re-export points
  for (const symbols of entries.values()) {
    for (const s of symbols) {
      for (const d of s.declarations) {
        if (d.kind === "reference" && d.def?.target) {
          targets.set(origin(d), d.def.target);
        } else declarations.push({ name: s.name, d });
      }
    }
  }
  const files = [...new Set([...targets.values()].map((t) => t.filename.slice(root.href.length)))];
  const declared = await docSymbols(files);
  let followed = 0;
  for (const [file, symbols] of declared) {
    for (const s of symbols) {
      for (const d of s.declarations) {
        if (targets.has(`${file}:${d.location.line}`)) {
          declarations.push({ name: s.name, d });
          followed++;
        }
      }
    }
  }
  assert.ok(followed >= targets.size, "every re-export found where it is declared");
  return declarations;
}

Deno.test("no public class or interface member is named _x or documented @internal", async () => {
  const declarations = await publicDeclarations();
  const found = new Set<string>();
  for (const { name, d } of declarations) {
    if (d.kind !== "class" && d.kind !== "interface") continue;
    for (const m of [...d.def?.properties ?? [], ...d.def?.methods ?? []]) {
      if (m.accessibility === "private") continue;
      if (m.name?.startsWith("_")) found.add(`${name}.${m.name} (${origin(d)})`);
      // A public member "for internal use" is the same leak under another name.
      if (m.jsDoc?.tags?.some((t) => t.kind === "internal")) {
        found.add(`${name}.${m.name} @internal (${origin(d)})`);
      }
    }
  }
  assert.ok(declarations.length > 1000, "the public API was read");
  assert.deepEqual([...found].sort(), [], "see docs/architecture.md, Naming: Engine-only members");
});

/** Public class members a user may write, and why (docs/architecture.md, Naming). */
const WRITABLE: Record<string, string> = {
  "CaifDevice.onFrame": "the handler the user sets",
  "CaifLink.onFrame": "the handler the user sets",
  "NullDevice.hold": "the test device's knob: keep the next request",
  "NullConfig.value": "the null device's config field, an accessor as generated ones are",
  "ScsiCommand.lun": "the command a logical unit fills in (ScsiTarget's LUNs, users' own)",
  "ScsiCommand.cdbLength": "the command a logical unit fills in",
  "ScsiCommand.data": "the command a logical unit fills in",
  "ScsiCommand.status": "the command a logical unit fills in",
  "ScsiCommand.senseLength": "the command a logical unit fills in",
  "ScsiCommand.transferred": "the command a logical unit fills in",
  "ScsiCommand.overrun": "the command a logical unit fills in",
  "ScsiCommand.aborted": "the command a logical unit fills in",
  "VsockEndpoint.localCid": "set by the endpoint's owner (our driver, or a user's transport)",
  "VsockEndpoint.seqpacket": "set by the endpoint's owner after negotiation",
};
for (
  const f of [
    "status",
    "deviceFeaturesSel",
    "driverFeaturesSel",
    "driverFeatures",
    "queueSel",
    "queues",
    "configVector",
    "pageSize",
    "queueAlign",
    "legacy",
    "sink",
  ]
) WRITABLE[`TransportDeviceState.${f}`] = "the register state MMIO's and PCI's device sides write";

Deno.test("no public class field or setter a user could overwrite (counters are getters)", async () => {
  const found = new Set<string>();
  let classes = 0;
  for (const { name, d } of await publicDeclarations()) {
    // Generated accessors write guest memory: their setters are the point.
    if (d.kind !== "class" || d.location.filename.includes("/src/generated/")) continue;
    classes++;
    for (const m of d.def?.properties ?? []) {
      if (m.readonly || m.accessibility === "private" || m.isStatic) continue;
      if (!(`${name}.${m.name}` in WRITABLE)) found.add(`${name}.${m.name} (${origin(d)})`);
    }
    for (const m of d.def?.methods ?? []) {
      if (m.kind !== "setter" || m.accessibility === "private") continue;
      if (!(`${name}.${m.name}` in WRITABLE)) found.add(`${name}.${m.name} setter (${origin(d)})`);
    }
  }
  assert.ok(classes > 100, `read ${classes} classes`);
  assert.deepEqual([...found].sort(), [], "make it a getter over a #field (see WRITABLE)");
});

Deno.test("the v86 kit's version is the same in its install script and in kit.ts", async () => {
  const script = await Deno.readTextFile("scripts/install_v86_kit.sh");
  const { V86_KIT_VERSION } = await import("../src/hosts/v86/kit.ts");
  const m = /^kit_version=(\d+)$/m.exec(script);
  assert.ok(m, "scripts/install_v86_kit.sh sets kit_version");
  assert.equal(Number(m[1]), V86_KIT_VERSION);
});

Deno.test("the FUSE and 9P servers turn guest names into paths only in fs/_guest_path.ts", async () => {
  // Path safety lives in one module: a server module that called checkName or
  // joined a guest's name itself would be a second place to get it wrong.
  const offenders: string[] = [];
  for (const dir of ["fs", "p9"]) {
    const base = new URL(`../src/devices/${dir}/`, import.meta.url);
    for await (const e of Deno.readDir(base)) {
      if (!e.isFile || !e.name.endsWith(".ts") || e.name === "_guest_path.ts") continue;
      if (dir === "fs" && e.name === "filesystem.ts") continue; // defines checkName
      const text = await Deno.readTextFile(new URL(e.name, base));
      const code = text.split("\n").filter((l) => !/^\s*(\*|\/\/)/.test(l)).join("\n");
      if (/\bcheckName\s*[,}(]/.test(code)) offenders.push(`${dir}/${e.name}`);
    }
  }
  assert.deepEqual(offenders, [], "modules using checkName outside fs/_guest_path.ts");
});
