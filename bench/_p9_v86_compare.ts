// The benchmark: a sequential read through Linux's 9p mount in the v86 guest
// (9pnet_virtio over PCI modern, our P9Device on a host directory) against a host read
// of the same file (Deno.readFile), and against the guest reading the same bytes from
// its own tmpfs (the emulator's floor: what any device in v86 is bounded by). Time is
// this process's CPU time (user + system; v86, our device and the host read all run on
// this one thread), best of N, the cases interleaved. Boots one guest (about a minute
// of CPU or more on a loaded machine).
//
// Run: deno run -A bench/_p9_v86_compare.ts [runs=3] [MiB=4]
import process from "node:process";
import { bootV86 } from "../src/hosts/v86/machine.ts";
import { haveKit, kitDir } from "../src/hosts/v86/kit.ts";
import { P9Device } from "../src/devices/p9/mod.ts";
import { HostDirFileSystem } from "../src/devices/fs/host_dir_fs.ts";

const runs = Number(Deno.args[0] ?? 3);
const mib = Number(Deno.args[1] ?? 4);
if (!(await haveKit())) {
  throw new Error(`no v86 kit in ${kitDir()}: run scripts/install_v86_kit.sh`);
}

const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-p9-v86-bench-" });
const size = mib << 20;
Deno.writeFileSync(`${dir}/file.bin`, new Uint8Array(size).map((_, i) => (i * 7) & 0xff));
// One device per mount: Linux binds a 9P channel to one mount at a time.
const devices = ["bench", "bench2"].map((tag) =>
  new P9Device({ tag, fs: new HostDirFileSystem(dir) })
);
const m = await bootV86({
  devices: devices.map((device) => ({ device, transport: "pci" as const })),
  log: () => {}, // v86's PCI probing refusals: not this benchmark's business
});

// CPU time our devices spend serving the guest's kicks (chains read, 9P served, replies written).
let deviceMs = 0;
for (const d of devices) {
  const notify = d.queueNotify.bind(d);
  d.queueNotify = (index: number) => {
    const t0 = performance.now();
    notify(index);
    deviceMs += performance.now() - t0;
  };
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = cpu();
  await f();
  return cpu() - t0;
}

try {
  const out = await m.run(
    "modprobe 9pnet_virtio && modprobe 9p && mkdir -p /mnt /mnt2 && " +
      "mount -t 9p -o trans=virtio,version=9p2000.L bench /mnt && " +
      "mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 bench2 /mnt2 && " +
      "cp /mnt/file.bin /tmp/file.bin && echo READY",
  );
  if (!out.includes("READY")) throw new Error(`guest setup failed: ${out}`);
  const empty = await time(() => m.run("true")); // the shell round trip, subtracted below
  const cases: { name: string; run: () => Promise<unknown>; best: number; sub: number }[] = [
    {
      name: "host: Deno.readFile",
      run: () => Deno.readFile(`${dir}/file.bin`),
      best: 1e12,
      sub: 0,
    },
    {
      name: "guest: cat /mnt (9p, msize 128 KiB)",
      run: () => m.run("cat /mnt/file.bin > /dev/null"),
      best: 1e12,
      sub: empty,
    },
    {
      name: "guest: dd bs=1M /mnt (9p, msize 128 KiB)",
      run: () => m.run("dd if=/mnt/file.bin of=/dev/null bs=1M 2>/dev/null"),
      best: 1e12,
      sub: empty,
    },
    {
      name: "guest: cat /mnt2 (9p, msize 256 KiB)",
      run: () => m.run("cat /mnt2/file.bin > /dev/null"),
      best: 1e12,
      sub: empty,
    },
    {
      name: "guest: cat /tmp (tmpfs, no device)",
      run: () => m.run("cat /tmp/file.bin > /dev/null"),
      best: 1e12,
      sub: empty,
    },
  ];
  const share = new Map<string, number>();
  for (let r = 0; r < runs; r++) {
    for (const c of cases) {
      const d0 = deviceMs;
      const t = Math.max(0.01, (await time(c.run)) - c.sub);
      if (t < c.best) share.set(c.name, deviceMs - d0);
      c.best = Math.min(c.best, t);
    }
  }
  const base = cases[0].best;
  const tmpfs = cases[3].best;
  console.log(
    `${mib} MiB sequential read, CPU ms, best of ${runs} (shell round trip ${
      empty.toFixed(1)
    } ms subtracted):`,
  );
  for (const c of cases) {
    console.log(
      `  ${c.name.padEnd(40)} ${c.best.toFixed(1).padStart(9)} ms  ` +
        `${(base / c.best).toFixed(4)}x the host read, ${
          (tmpfs / c.best).toFixed(2)
        }x the guest's tmpfs, our device ${(share.get(c.name) ?? 0).toFixed(1)} ms of it (wall)`,
    );
  }
} finally {
  m.stop();
  Deno.removeSync(dir, { recursive: true });
}
