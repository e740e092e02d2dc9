// Linux in v86, our devices against v86's own, in one process: boot-to-shell
// time, and the throughput the guest itself observes writing to its virtio
// console (/dev/hvc0) and sending UDP datagrams through its virtio-net
// (eth0). "ours" boots with our ConsoleDevice and NetDevice on the v86 host
// (PCI modern, or the transport given); "v86" boots with v86's own
// virtio-console and virtio-net (`virtio_console: true`, `net_device: {
// type: "virtio" }`) and none of ours. The boots alternate, in an order that
// rotates from round to round, one at a time; each boot runs each workload
// `reps` times. Best of all runs, and the ratios ours / v86 (above 1: ours
// is faster).
//
// The guest program (C, built here with `gcc -m32 -static`, put into the
// guest with bootV86's `files`) times its own writes with CLOCK_MONOTONIC:
// console, N bytes in 64 KiB writes then tcdrain; net, N datagrams of S
// bytes to 10.0.2.2:9 over a UDP socket (a permanent neighbour entry, so no
// ARP). The host checks that everything arrived (bytes, frames).
//
// Run: deno run -A bench/_v86_compare.ts [rounds=3] [reps=2] [transport=pci]
//      [consoleMiB=4] [datagrams=4000] [cases=all|ours|v86]
import process from "node:process";
import { bootV86, type V86Machine } from "../src/hosts/v86/machine.ts";
import type { V86Transport } from "../src/hosts/v86/host.ts";
import { ConsoleDevice } from "../src/devices/console/mod.ts";
import { NetDevice } from "../src/devices/net/mod.ts";
import type { NetBackend, NetPort } from "../src/devices/net/backend.ts";
import { NO_OFFLOADS } from "../src/devices/net/offload.ts";

const rounds = Number(Deno.args[0] ?? 3);
const reps = Number(Deno.args[1] ?? 2);
const transport = (Deno.args[2] ?? "pci") as V86Transport;
const consoleBytes = Number(Deno.args[3] ?? 4) << 20;
const datagrams = Number(Deno.args[4] ?? 4000);
const only = (Deno.args[5] ?? "all").split(",");
const DATAGRAM = 1400;
const HOST_MAC = "52:54:00:12:34:02";

const PROGRAM = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static char buf[65536];
int main(int argc, char **argv) {
  memset(buf, 'x', sizeof buf);
  if (argc == 4 && !strcmp(argv[1], "con")) {
    long total = atol(argv[3]), n = 0;
    int fd = open(argv[2], O_WRONLY | O_NOCTTY);
    if (fd < 0) { perror("open"); return 1; }
    double t0 = now();
    while (n < total) {
      long c = total - n < (long)sizeof buf ? total - n : (long)sizeof buf;
      ssize_t w = write(fd, buf, c);
      if (w <= 0) { perror("write"); return 1; }
      n += w;
    }
    tcdrain(fd);
    printf("tvbench %ld %.6f\n", n, now() - t0);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "net")) {
    long count = atol(argv[3]), sent = 0;
    int size = atoi(argv[4]);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
    inet_aton(argv[2], &a.sin_addr);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("socket"); return 1; }
    double t0 = now();
    for (long i = 0; i < count; i++) {
      if (send(s, buf, size, 0) == size) sent++;
    }
    printf("tvbench %ld %.6f\n", sent, now() - t0);
    return 0;
  }
  fprintf(stderr, "usage: tvbench con DEV BYTES | tvbench net IP COUNT SIZE\n");
  return 2;
}
`;

async function buildProgram(): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "tv-v86-bench-" });
  try {
    await Deno.writeTextFile(`${dir}/tvbench.c`, PROGRAM);
    const out = await new Deno.Command("gcc", {
      args: ["-m32", "-static", "-O2", "-o", `${dir}/tvbench`, `${dir}/tvbench.c`],
    }).output();
    if (!out.success) throw new Error(`gcc: ${new TextDecoder().decode(out.stderr)}`);
    return await Deno.readFile(`${dir}/tvbench`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Counts the host side of both workloads, whoever's devices carry them. */
class Sink implements NetBackend {
  readonly offloads = NO_OFFLOADS;
  consoleBytes = 0;
  frames = 0;
  #waiters: (() => void)[] = [];
  attach(_port: NetPort): void {}
  rxReady(): void {}
  close(): void {}
  transmit(frame: Uint8Array): boolean {
    this.frame(frame.length);
    return true;
  }
  frame(len: number): void {
    if (len >= DATAGRAM) this.frames++;
    this.#wake();
  }
  console(len: number): void {
    this.consoleBytes += len;
    this.#wake();
  }
  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  /** Resolves once `ok()` holds; rejects after `ms`. */
  async until(ok: () => boolean, ms: number, what: string): Promise<void> {
    const end = performance.now() + ms;
    while (!ok()) {
      if (performance.now() > end) throw new Error(`bench: ${what} did not arrive`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
}

interface Kind {
  readonly name: string;
  boot(program: Uint8Array, sink: Sink): Promise<V86Machine>;
  bootSeconds: number[];
  console: number[];
  net: number[];
}

const files = (program: Uint8Array) => ({ "/bin/tvbench": { data: program, mode: 0o755 } });

const oursKind = (name: string): Kind => ({
  name,
  bootSeconds: [],
  console: [],
  net: [],
  async boot(program, sink) {
    const hvc = new ConsoleDevice();
    const net = new NetDevice({ mac: "52:54:00:12:34:56", backend: sink });
    const m = await bootV86({
      devices: [{ device: hvc, transport }, { device: net, transport }],
      files: files(program),
      log: () => {},
    });
    const reader = hvc.port(0)?.readable.getReader();
    void (async () => {
      for (;;) {
        const r = await reader?.read();
        if (r === undefined || r.done) return;
        sink.console(r.value.length);
      }
    })();
    return m;
  },
});
const ours = oursKind(`ours (${transport})`);

const theirs: Kind = {
  name: "v86's own",
  bootSeconds: [],
  console: [],
  net: [],
  async boot(program, sink) {
    const m = await bootV86({
      devices: [],
      files: files(program),
      log: () => {},
      v86Options: { virtio_console: true, net_device: { type: "virtio" } },
      onEmulator: (e) => {
        e.add_listener("virtio-console0-output-bytes", (b: Uint8Array) => sink.console(b.length));
        e.add_listener("net0-send", (f: Uint8Array) => sink.frame(f.length));
      },
    });
    return m;
  },
};

const parse = (out: string): { n: number; s: number } => {
  const m = /tvbench (\d+) ([\d.]+)/.exec(out);
  if (m === null) throw new Error(`bench: no result in ${JSON.stringify(out)}`);
  return { n: Number(m[1]), s: Number(m[2]) };
};

async function measure(kind: Kind, program: Uint8Array): Promise<void> {
  const sink = new Sink();
  const t0 = performance.now();
  const m = await kind.boot(program, sink);
  kind.bootSeconds.push((performance.now() - t0) / 1000);
  try {
    await m.run(
      "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && " +
        `arp -s 10.0.2.2 ${HOST_MAC}`,
    );
    for (let r = 0; r < reps; r++) {
      const c0 = sink.consoleBytes;
      const con = parse(
        await m.run(
          "exec 3<>/dev/hvc0 && stty raw -echo <&3 && " +
            `tvbench con /dev/hvc0 ${consoleBytes}; exec 3>&-`,
        ),
      );
      await sink.until(() => sink.consoleBytes - c0 >= consoleBytes, 120_000, "console bytes");
      kind.console.push(con.n / con.s);
      const f0 = sink.frames;
      const net = parse(await m.run(`tvbench net 10.0.2.2 ${datagrams} ${DATAGRAM}`));
      await sink.until(() => sink.frames - f0 >= net.n, 120_000, "datagrams");
      if (net.n !== datagrams) console.log(`  (${kind.name}: ${datagrams - net.n} sends failed)`);
      kind.net.push(net.n / net.s);
    }
  } finally {
    m.stop();
  }
  console.log(
    `${kind.name}: boot ${kind.bootSeconds.at(-1)?.toFixed(1)} s, console ${
      (kind.console.at(-1)! / 1e6).toFixed(2)
    } MB/s, net ${(kind.net.at(-1)! * DATAGRAM / 1e6).toFixed(2)} MB/s (load ${
      Deno.loadavg()[0].toFixed(1)
    })`,
  );
}

const program = await buildProgram();
const kinds = [ours, theirs].filter((_k, i) =>
  only.includes("all") || only.includes(["ours", "v86"][i])
);
for (let k = 0; k < rounds; k++) {
  for (let j = 0; j < kinds.length; j++) await measure(kinds[(j + k) % kinds.length], program);
}

const best = (xs: number[]) => Math.max(...xs);
const bestBoot = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `\nbest of ${rounds} boots each, ${reps} runs per boot; console ${
    consoleBytes >> 20
  } MiB, net ${datagrams} x ${DATAGRAM} B datagrams; CPU ${
    ((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(0)
  } s`,
);
console.log("| measure | case | result | vs v86's own (>1: ours faster) |");
console.log("| --- | --- | --- | --- |");
const mbs = (x: number) => `${(x / 1e6).toFixed(2)} MB/s`;
const sec = (x: number) => `${x.toFixed(1)} s`;
const measures: [string, (k: Kind) => number, (x: number) => string, boolean][] = [
  ["boot to shell (best)", (k) => bestBoot(k.bootSeconds), sec, false],
  ["boot to shell (median)", (k) => median(k.bootSeconds), sec, false],
  ["console, guest to host", (k) => best(k.console), mbs, true],
  ["net, guest UDP send", (k) => best(k.net) * DATAGRAM, mbs, true],
];
for (const [name, f, unit, higherBetter] of measures) {
  for (const k of kinds) {
    const ratio = higherBetter ? f(k) / f(theirs) : f(theirs) / f(k); // NaN without v86's
    console.log(
      `| ${name} | ${k.name} | ${unit(f(k))} | ${
        k === theirs || !kinds.includes(theirs) ? "" : ratio.toFixed(2) + "x"
      } |`,
    );
  }
}
Deno.exit(0);
