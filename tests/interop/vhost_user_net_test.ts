// Interop: our virtio-net device model served over vhost-user
// (examples/vhost_user_net.ts) to a Linux guest under QEMU
// (`-netdev vhost-user` + `virtio-net-pci`). The guest brings eth0 up with a
// static address and pings the back-end's host stack. Skips, with the
// reason printed, when QEMU, the kernel or busybox are missing.

import assert from "node:assert/strict";
import { describe, interopSkipReason, runGuest } from "./_guest.ts";
import { startBackend } from "./_backend.ts";
import { parseIPv4, PingHost } from "../../examples/vhost_user_net.ts";
import { parseMac } from "../../src/devices/net/device.ts";

const skip = interopSkipReason("vhost_user_net_test");

Deno.test("vhost-user-net host stack: answers ARP and ping for its address only", () => {
  const host = new PingHost(parseIPv4("10.0.2.2"), parseMac("52:54:00:00:00:02"));
  const guestMac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
  const arp = new Uint8Array(42);
  arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...guestMac, 0x08, 0x06], 0);
  arp.set([0, 1, 8, 0, 6, 4, 0, 1, ...guestMac, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2], 14);
  const reply = host.answer(arp);
  assert.ok(reply !== undefined);
  assert.deepEqual([...reply.subarray(0, 6)], guestMac);
  assert.equal(reply[21], 2, "ARP reply");
  assert.deepEqual([...reply.subarray(28, 32)], [10, 0, 2, 2]);
  arp[41] = 3; // someone else's address
  assert.equal(host.answer(arp), undefined);
  assert.equal(host.stats.arpReplies, 1);
});

Deno.test({
  name: "vhost-user-net: the guest brings eth0 up with a static address and pings the back-end",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vunet-" });
    const socket = `${dir}/net.sock`;
    const backend = await startBackend("vhost_user_net.ts", socket, ["--ip", "10.0.2.2"]);
    try {
      const r = await runGuest({
        script: `
ip link set eth0 up || echo "@@link_failed=1"
ip addr add 10.0.2.15/24 dev eth0 || echo "@@addr_failed=1"
echo "@@mac=$(cat /sys/class/net/eth0/address)"
if ping -c 3 -W 5 10.0.2.2 > /tmp/ping 2>&1; then echo "@@ping=ok"; else echo "@@ping=failed"; fi
cat /tmp/ping
echo "@@received=$(grep -c 'bytes from 10.0.2.2' /tmp/ping)"
echo "@@arp=$(ip neigh show 10.0.2.2 | cut -d' ' -f5)"
`,
        modules: ["virtio_pci", "virtio_net"],
        qemuArgs: [
          "-chardev",
          `socket,id=c1,path=${socket}`,
          "-netdev",
          "vhost-user,id=n0,chardev=c1",
          "-device",
          // vectors=0 (INTx): QEMU 7.2 under TCG crashes in msix_set_vector_notifiers
          // when vhost-user-net starts with MSI-X.
          "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,vectors=0",
        ],
        timeoutMs: 90_000,
      });
      const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(r.scriptStatus, 0, why);
      assert.equal(r.markers.get("mac"), "52:54:00:12:34:56", why);
      assert.equal(r.markers.get("ping"), "ok", why);
      assert.equal(r.markers.get("received"), "3", why);
      assert.equal(r.markers.get("arp"), "52:54:00:00:00:02", why);
    } finally {
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(backend.output(), /answered [1-9]\d* ARP, 3 echo requests/);
  },
});

Deno.test({
  name: "vhost-user-net --join: two guests on one virtual cable ping each other",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vujoin-" });
    const sockets = [`${dir}/a.sock`, `${dir}/b.sock`];
    const backend = await startBackend("vhost_user_net.ts", sockets[0], ["--join", sockets[1]]);
    const guest = (i: number) => {
      const peer = `10.0.3.${2 - i}`;
      return runGuest({
        script: `
# The peer says on port 7000 when its pings are done; listen before the link is up.
nc -l -p 7000 > /tmp/peer_done &
ip link set eth0 up
ip addr add 10.0.3.${i + 1}/24 dev eth0
# The other guest may still be booting: until it answers (runGuest's deadline
# catches a hang).
until ping -c 1 -W 1 ${peer} > /dev/null 2>&1; do :; done
if ping -c 3 -W 5 ${peer} > /tmp/ping 2>&1; then echo "@@ping=ok"; else echo "@@ping=failed"; fi
echo "@@received=$(grep -c 'bytes from ${peer}' /tmp/ping)"
echo "@@peer=$(ip neigh show ${peer} | cut -d' ' -f5)"
# Tell the peer, and stay up until it has told us: its last pings are answered.
until echo done | nc ${peer} 7000; do :; done
until grep -q done /tmp/peer_done; do :; done
echo "@@peer_done=1"
`,
        modules: ["virtio_pci", "virtio_net"],
        qemuArgs: [
          "-chardev",
          `socket,id=c1,path=${sockets[i]}`,
          "-netdev",
          "vhost-user,id=n0,chardev=c1",
          "-device",
          `virtio-net-pci,netdev=n0,mac=52:54:00:12:34:0${i + 1},vectors=0`,
        ],
        timeoutMs: 120_000,
      });
    };
    try {
      const [a, b] = await Promise.all([guest(0), guest(1)]);
      for (const [i, r] of [a, b].entries()) {
        const why = `guest ${i}: ` + describe(r) + `\n--- back-end ---\n${backend.output()}`;
        assert.equal(r.scriptStatus, 0, why);
        assert.equal(r.markers.get("ping"), "ok", why);
        assert.equal(r.markers.get("received"), "3", why);
        assert.equal(r.markers.get("peer"), `52:54:00:12:34:0${2 - i}`, why);
        assert.equal(r.markers.get("peer_done"), "1", why);
      }
    } finally {
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(backend.output(), /ready on .* \(joined\)/);
  },
});
