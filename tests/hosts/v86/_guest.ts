// Shared by the v86 host tests: one boot per transport with every device
// attached, and the scenarios run in that boot as steps.
import { haveKit, kitDir } from "../../../src/hosts/v86/kit.ts";
import { bootV86, type V86Machine } from "../../../src/hosts/v86/machine.ts";
import type { V86Transport } from "../../../src/hosts/v86/host.ts";
import type { VirtioDevice } from "../../../src/device.ts";
import type { GuestFile } from "../../../src/hosts/v86/machine.ts";

const inCi = (): boolean => Deno.env.get("CI") === "true";

/**
 * Whether the v86 tests can run. In CI a missing kit is a failure (the
 * `v86-kit` check installs it); elsewhere the tests are skipped with a reason.
 */
export async function kitOrSkip(): Promise<boolean> {
  if (await haveKit()) return true;
  const why = `v86 guest kit missing in ${kitDir()}: run scripts/install_v86_kit.sh`;
  if (inCi()) throw new Error(`CI=true and ${why}`);
  console.warn(`skipping: ${why}`);
  return false;
}

/** A refused-access log the tests can search. */
export class Log {
  readonly lines: string[] = [];
  readonly fn = (s: string): void => {
    this.lines.push(s);
  };
}

/** Boot with `devices` on `transport`, extra kernel words in `cmdline`. */
export async function boot(
  transport: V86Transport,
  devices: VirtioDevice[],
  log: Log,
  cmdline = "",
  files?: Record<string, GuestFile>,
): Promise<V86Machine> {
  return await bootV86({
    devices: devices.map((device) => ({ device, transport })),
    cmdline: [transport === "pci-transitional" ? "virtio_pci.force_legacy=1" : "", cmdline]
      .join(" ").trim(),
    log: log.fn,
    files,
    onSerial: Deno.env.get("TV_V86_SERIAL")
      ? (b) => Deno.stderr.writeSync(Uint8Array.of(b))
      : undefined,
  });
}

/** The guest's sysfs virtio device directory for the device of virtio `type` (first found). */
export async function sysfsDevice(m: V86Machine, type: number): Promise<string> {
  const out = await m.run(
    `for d in /sys/bus/virtio/devices/*; do [ $(cat $d/device) = 0x${
      type.toString(16).padStart(4, "0")
    } ] && echo $d && break; done`,
  );
  const dir = out.trim().split("\n").at(-1) ?? "";
  if (!dir.startsWith("/sys/")) throw new Error(`no virtio device of type ${type} in the guest`);
  return dir;
}

/** The features the guest's driver negotiated, from sysfs (a string of 0/1, bit 0 first). */
export async function negotiated(m: V86Machine, dir: string): Promise<bigint> {
  const bits = (await m.run(`cat ${dir}/features`)).trim();
  let f = 0n;
  for (let i = 0; i < bits.length; i++) if (bits[i] === "1") f |= 1n << BigInt(i);
  return f;
}
