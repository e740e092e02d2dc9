// Linux's own caif_virtio in v86 against our modem model over PCI and MMIO v2 (a boot each).
// Debian's 686 kernel builds no CAIF: scripts/install_v86_modules.sh builds the CAIF core,
// caif_socket, vhost_iotlb, vringh, caif_virtio and our tv_caif_vringh helper (the host-side ring
// caif_virtio needs, which virtio_pci and virtio_mmio do not provide; see docs/devices/caif.md)
// from linux-source-6.1. The guest loads them, the cfvrt interface appears with the MTU our config
// gives, raw CAIF frames go both ways through a packet socket on it (guest/caif_raw.c), and a CAIF
// socket (AF_CAIF, AT service; guest/caif_at.c) connects and exchanges messages with the modem
// side of CAIF in _caif_modem.ts on top of our device. The guest programs are built here with
// gcc -m32 -static.
import assert from "node:assert/strict";
import { CaifDevice } from "../../../src/devices/caif/mod.ts";
import { CaifModem } from "./_caif_modem.ts";
import { boot, kitOrSkip, Log, negotiated, sysfsDevice } from "./_guest.ts";
import { gcc32OrSkip, guestProgram, moduleSetOrSkip } from "./_modules.ts";

const kit = await kitOrSkip();
const set = kit ? await moduleSetOrSkip("caif") : undefined;
const gcc = set ? await gcc32OrSkip() : false;
const program = gcc ? await guestProgram("caif_raw.c") : undefined;
const atProgram = gcc ? await guestProgram("caif_at.c") : undefined;

for (const [transport, title] of [["pci", "PCI"], ["mmio", "MMIO v2"]] as const) {
  Deno.test({
    name:
      `v86 + Linux caif_virtio over ${title}: cfvrt, raw frames both ways, a CAIF socket through our modem`,
    ignore: atProgram === undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      assert.ok(set && program && atProgram);
      const te = new TextEncoder();
      const uplink: Uint8Array[] = [];
      // headroom equal to tailroom: Linux 6.1 gives each uplink buffer headroom + frame + headroom
      // (cfv_alloc_and_copy_to_shm adds rx_hr where tx_tr is meant).
      const device = new CaifDevice({
        uplink: { headroom: 16, tailroom: 16, mtu: 2048 },
        queueSize: 64,
        onFrame: (f) => {
          uplink.push(f);
          if (modem === undefined) device.send(te.encode(`pong: ${new TextDecoder().decode(f)}`));
          else modem.receive(f);
        },
      });
      // Raw frames first (echoed as "pong: ..."); then the CAIF modem answers on the link.
      let modem: CaifModem | undefined;
      const files: Record<string, Uint8Array | { data: Uint8Array; mode: number }> = {
        "/opt/tv/caif_raw": { data: program, mode: 0o755 },
        "/opt/tv/caif_at": { data: atProgram, mode: 0o755 },
      };
      Object.assign(files, set.files);
      const log = new Log();
      const m = await boot(transport, [device], log, "", files);
      try {
        await t.step("the modules load and caif_virtio binds our device", async () => {
          const out = await m.run(
            `for k in ${
              Object.keys(set.files).join(" ")
            }; do insmod $k || echo "FAILED $k"; done; echo done`,
          );
          assert.ok(!out.includes("FAILED"), out + (await m.run("dmesg | tail -30")));
          const dir = await sysfsDevice(m, 12);
          const drv = (await m.run(`basename $(readlink ${dir}/driver)`)).trim();
          assert.equal(drv, "caif_virtio", await m.run("dmesg | tail -30"));
          assert.equal(await negotiated(m, dir) & (1n << 34n), 0n, "split rings (vringh)");
          const dmesg = await m.run("dmesg | grep tv_caif_vringh");
          assert.match(dmesg, /downlink ring of 64, 64 buffers of 2048 bytes lent/);
        });
        await t.step("cfvrt is a CAIF interface with the MTU from our config", async () => {
          assert.match(await m.run("ip link show cfvrt"), /cfvrt/);
          assert.equal((await m.run("cat /sys/class/net/cfvrt/type")).trim(), "822"); // ARPHRD_CAIF
          // caif_virtio: netdev mtu = config mtu - tailroom.
          assert.equal((await m.run("cat /sys/class/net/cfvrt/mtu")).trim(), "2032");
          const up = await m.run("ip link set cfvrt up && echo up || dmesg | tail -20");
          assert.equal(up.trim(), "up", up);
        });
        await t.step(
          "a frame from Linux reaches the modem, the modem's answer reaches Linux",
          async () => {
            const out = await m.run("/opt/tv/caif_raw cfvrt 'ping from linux'");
            assert.deepEqual(uplink.map((f) => new TextDecoder().decode(f)), ["ping from linux"]);
            const got = /got (\d+) proto 00f7 ([0-9a-f]+)/.exec(out);
            assert.ok(got, out + (await m.run("dmesg | tail -20")));
            const bytes = Uint8Array.from(got[2].match(/../g) ?? [], (h) => parseInt(h, 16));
            assert.equal(new TextDecoder().decode(bytes), "pong: ping from linux");
            assert.equal(device.uplinkErrors["too-long"] + device.uplinkErrors["too-short"], 0);
          },
        );
        await t.step("many frames both ways", async () => {
          const before = uplink.length;
          const out = await m.run(
            "i=0; while [ $i -lt 20 ]; do /opt/tv/caif_raw cfvrt frame$i | grep -c '^got' ; i=$((i+1)); done | grep -c 1",
          );
          assert.equal(out.trim(), "20");
          assert.equal(uplink.length - before, 20);
          // Boot-time PCI probing leaves refusals in the log; nothing about the device's queues.
          assert.deepEqual(log.lines.filter((l) => /queue|NEEDS_RESET|needs reset/i.test(l)), []);
        });
        await t.step(
          "a CAIF socket (AF_CAIF, AT) connects through the modem and exchanges messages",
          async () => {
            const td = new TextDecoder();
            modem = new CaifModem(
              (f) => assert.ok(device.send(f)),
              (msg) => te.encode(`OK ${td.decode(msg)}`),
            );
            const out = await m.run(
              "/opt/tv/caif_at AT ATI 'AT+CGMI' 2>&1; dmesg | grep -i caif | tail -5",
            );
            // The first line may carry what the serial console left before it: compare trimmed lines.
            assert.ok(out.split("\n").some((l) => l.trim() === "connected"), out);
            assert.deepEqual(
              out.split("\n").filter((l) => l.startsWith("got ")).map((l) => l.trim()),
              ["got OK AT", "got OK ATI", "got OK AT+CGMI"],
              out,
            );
            // The link was set up for an AT (VEI) service and destroyed when the socket closed.
            assert.deepEqual(modem.control.map((e) => e.cmd), ["setup", "destroy"]);
            assert.equal(modem.control[0].linkType, 1);
            assert.equal(modem.control[1].channel, modem.control[0].channel);
          },
        );
      } finally {
        m.stop();
      }
    },
  });
}
