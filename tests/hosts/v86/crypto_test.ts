// Linux's virtio_crypto driver in v86 against our CryptoDevice over PCI modern, with the
// kernel's crypto self-tests on (its own boot: the other boots keep cryptomgr.notests).
//
// What Linux 6.1 can prove: its virtio_crypto registers one symmetric algorithm, cbc(aes)
// as "virtio_crypto_aes_cbc" (plus RSA akcipher, which our device does not offer); it has
// no hash, MAC or AEAD algorithms. So the guest proves CIPHER sessions and AES-CBC (the
// self-tests' vectors, then an AF_ALG program bound to the virtio driver by name, checked
// against node:crypto); hash, MAC, AEAD, CTR and XTS are proved by our own driver only
// (tests/devices/crypto_test.ts).
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { CryptoDevice } from "../../../src/devices/crypto/mod.ts";
import { bootV86 } from "../../../src/hosts/v86/machine.ts";
import { VIRTIO_CRYPTO_INVSESS, VIRTIO_CRYPTO_OK } from "../../../src/generated/devices/crypto.ts";
import { kitOrSkip, Log } from "./_guest.ts";

// An AF_ALG client: skcipher by driver name, key and IV in hex, data from a file, result to a
// file. Built at test time with gcc -m32 -static for the i386 guest.
const AF_ALG_C = String.raw`
#include <linux/if_alg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef SOL_ALG
#define SOL_ALG 279
#endif
static unsigned char in[1 << 16], out[1 << 16];
static int unhex(const char *s, unsigned char *o) {
  int n = 0;
  for (; s[0] && s[1]; s += 2) { unsigned v; sscanf(s, "%2x", &v); o[n++] = v; }
  return n;
}
int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: driver enc|dec keyhex ivhex in out\n"); return 2; }
  struct sockaddr_alg sa;
  memset(&sa, 0, sizeof sa);
  sa.salg_family = AF_ALG;
  strcpy((char *)sa.salg_type, "skcipher");
  strncpy((char *)sa.salg_name, argv[1], sizeof sa.salg_name - 1);
  int tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
  if (tfm < 0) { perror("socket"); return 3; }
  if (bind(tfm, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 4; }
  unsigned char key[64], iv[16];
  int klen = unhex(argv[3], key), ivlen = unhex(argv[4], iv);
  if (setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, klen) < 0) { perror("setkey"); return 5; }
  int op = accept(tfm, NULL, 0);
  if (op < 0) { perror("accept"); return 6; }
  FILE *f = fopen(argv[5], "rb");
  if (!f) { perror("open"); return 7; }
  size_t n = fread(in, 1, sizeof in, f);
  fclose(f);
  char cbuf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec io = { in, n };
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_ALG;
  c->cmsg_type = ALG_SET_OP;
  c->cmsg_len = CMSG_LEN(4);
  *(unsigned *)CMSG_DATA(c) = strcmp(argv[2], "enc") == 0 ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
  c = CMSG_NXTHDR(&msg, c);
  c->cmsg_level = SOL_ALG;
  c->cmsg_type = ALG_SET_IV;
  c->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + ivlen);
  struct af_alg_iv *a = (struct af_alg_iv *)CMSG_DATA(c);
  a->ivlen = ivlen;
  memcpy(a->iv, iv, ivlen);
  if (sendmsg(op, &msg, 0) != (ssize_t)n) { perror("sendmsg"); return 8; }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(op, out + got, n - got);
    if (r <= 0) { perror("read"); return 9; }
    got += r;
  }
  f = fopen(argv[6], "wb");
  if (!f || fwrite(out, 1, n, f) != n) { perror("write"); return 10; }
  fclose(f);
  printf("@@afalg=ok\n");
  return 0;
}
`;

/** Builds the AF_ALG client, or says why it cannot (a failure under CI=true). */
async function buildAfAlg(): Promise<Uint8Array | undefined> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/afalg.c`, AF_ALG_C);
    const out = await new Deno.Command("gcc", {
      args: ["-m32", "-static", "-O2", "-o", `${dir}/afalg`, `${dir}/afalg.c`],
      stderr: "piped",
    }).output().catch((e: Error) => ({
      success: false,
      stderr: new TextEncoder().encode(e.message),
    }));
    if (!out.success) {
      const why =
        `gcc -m32 -static failed (scripts/install_interop_deps.sh installs gcc-multilib): ${
          new TextDecoder().decode(out.stderr).slice(0, 300)
        }`;
      if (Deno.env.get("CI") === "true") throw new Error(`CI=true and ${why}`);
      console.warn(`skipping: ${why}`);
      return undefined;
    }
    return await Deno.readFile(`${dir}/afalg`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const hex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
const sha256 = (b: Uint8Array) =>
  crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>).then((d) => hex(new Uint8Array(d)));

/** /proc/crypto as blocks of `key: value`. */
function procCrypto(text: string): Record<string, string>[] {
  return text.split(/\n\s*\n/).map((block) =>
    Object.fromEntries(
      block.split("\n").map((l) => l.split(/\s*:\s*/, 2).map((s) => s.trim())).filter((kv) =>
        kv.length === 2
      ),
    )
  ).filter((b) => b.name !== undefined);
}

const ready = await kitOrSkip();
const afalg = ready ? await buildAfAlg() : undefined;

Deno.test({
  name: "v86 + Linux over PCI modern: virtio_crypto passes its self-tests and AF_ALG encrypts",
  ignore: !ready || afalg === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const device = new CryptoDevice();
    const log = new Log();
    const data = new Uint8Array(8192).map((_, i) => (i * 151 + (i >> 7)) & 0xff);
    const key = new Uint8Array(32).map((_, i) => 0xa0 + i);
    const iv = new Uint8Array(16).map((_, i) => 0x30 + i);
    const m = await bootV86({
      devices: [{ device, transport: "pci" }],
      log: log.fn,
      cryptoSelfTests: true,
      files: { "/opt/tv/afalg": afalg ?? new Uint8Array(0), "/opt/tv/plain": data },
      onSerial: Deno.env.get("TV_V86_SERIAL")
        ? (b) => Deno.stderr.writeSync(Uint8Array.of(b))
        : undefined,
    });
    try {
      await t.step("the boot runs the crypto self-tests (no cryptomgr.notests)", async () => {
        const cmdline = await m.run("cat /proc/cmdline");
        assert.doesNotMatch(cmdline, /cryptomgr\.notests/);
        assert.match(cmdline, /console=ttyS0/);
      });

      await t.step(
        "modprobe virtio_crypto: cbc(aes) by virtio_crypto_aes_cbc, self-test passed",
        async () => {
          const before = device.statusCounts[VIRTIO_CRYPTO_OK];
          const out = await m.run("modprobe virtio_crypto && echo @@modprobe=ok");
          assert.match(out, /@@modprobe=ok/, out);
          const algs = procCrypto(await m.run("cat /proc/crypto"));
          const ours = algs.filter((a) => a.module === "virtio_crypto");
          assert.deepEqual(ours.map((a) => [a.name, a.driver]), [[
            "cbc(aes)",
            "virtio_crypto_aes_cbc",
          ]]);
          assert.equal(ours[0].selftest, "passed");
          // The self-tests went through the device: sessions created and data requests served.
          assert.ok(
            device.statusCounts[VIRTIO_CRYPTO_OK] - before > 20,
            String(device.statusCounts),
          );
          // Every tfm of the self-tests was freed: Linux destroyed each session it created.
          assert.equal(device.sessionCount, 0);
          assert.equal(device.statusCounts[VIRTIO_CRYPTO_INVSESS], 0);
          const dmesg = await m.run("dmesg | grep -i 'alg:' ; true");
          assert.doesNotMatch(dmesg, /virtio_crypto_aes_cbc/, dmesg);
        },
      );

      await t.step(
        "AF_ALG bound to virtio_crypto_aes_cbc encrypts as node:crypto does",
        async () => {
          const out0 = await m.run("modprobe algif_skcipher && echo @@modprobe=ok");
          assert.match(out0, /@@modprobe=ok/, out0);
          const before = device.statusCounts[VIRTIO_CRYPTO_OK];
          const enc = await m.run(
            `/opt/tv/afalg virtio_crypto_aes_cbc enc ${hex(key)} ${hex(iv)} /opt/tv/plain /tmp/ct` +
              " && sha256sum /tmp/ct",
          );
          assert.match(enc, /@@afalg=ok/, enc);
          const ref = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
          const want = new Uint8Array([...ref.update(data), ...ref.final()]);
          assert.match(enc, new RegExp(`${await sha256(want)}\\s+/tmp/ct`), enc);
          const dec = await m.run(
            `/opt/tv/afalg virtio_crypto_aes_cbc dec ${hex(key)} ${hex(iv)} /tmp/ct /tmp/pt` +
              " && sha256sum /tmp/pt",
          );
          assert.match(dec, new RegExp(`${await sha256(data)}\\s+/tmp/pt`), dec);
          // Each run: setkey creates an encrypt and a decrypt session, one data request, and the
          // exit frees the tfm, which destroys both (so none are left).
          assert.ok(device.statusCounts[VIRTIO_CRYPTO_OK] - before >= 2 * 4 + 2);
          assert.equal(device.sessionCount, 0);
          // The boot's PCI probing logs refused BAR moves and config writes (as in every v86
          // boot); nothing may concern the device's queues or a reset it asked for.
          assert.deepEqual(log.lines.filter((l) => /queue|NEEDS_RESET/i.test(l)), []);
        },
      );
    } finally {
      m.stop();
    }
  },
});
