// The guest-file archive of bootV86({ files }) against GNU cpio, an
// independent reader of the newc format (and the kit's own archiver).
import assert from "node:assert/strict";
import { newcArchive, withGuestFiles } from "../../../src/hosts/v86/_cpio.ts";
import { V86HostError } from "../../../src/hosts/v86/_internals.ts";

const haveCpio = await new Deno.Command("cpio", { args: ["--version"], stdout: "null" }).output()
  .then((o) => o.success, () => false);
if (!haveCpio && Deno.env.get("CI") === "true") {
  throw new Error("CI=true and cpio is missing (scripts/install_interop_deps.sh installs it)");
}

Deno.test({
  name: "GNU cpio extracts every file with its bytes and mode, and the parent directories",
  ignore: !haveCpio,
  fn: async () => {
    const big = new Uint8Array(70_001).map((_, i) => (i * 7 + 3) & 0xff);
    const archive = newcArchive({
      "/opt/tv/prog": big,
      "/opt/tv/data/a.txt": { data: new TextEncoder().encode("abc"), mode: 0o640 },
      "/top": new Uint8Array(0),
    });
    assert.equal(archive.length % 4, 0);
    const dir = await Deno.makeTempDir();
    try {
      const child = new Deno.Command("cpio", {
        args: ["-idm", "--quiet", "--no-absolute-filenames"],
        cwd: dir,
        stdin: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(archive);
      await w.close();
      const out = await child.output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.deepEqual(await Deno.readFile(`${dir}/opt/tv/prog`), big);
      assert.equal(await Deno.readTextFile(`${dir}/opt/tv/data/a.txt`), "abc");
      assert.equal((await Deno.stat(`${dir}/opt/tv/data/a.txt`)).mode! & 0o777, 0o640);
      assert.equal((await Deno.stat(`${dir}/opt/tv/prog`)).mode! & 0o777, 0o755);
      assert.equal((await Deno.stat(`${dir}/top`)).size, 0);
      assert.ok((await Deno.stat(`${dir}/opt/tv/data`)).isDirectory);
      const listed = new Deno.Command("cpio", {
        args: ["-t", "--quiet"],
        stdin: "piped",
        stdout: "piped",
      })
        .spawn();
      const lw = listed.stdin.getWriter();
      await lw.write(archive);
      await lw.close();
      const names = new TextDecoder().decode((await listed.output()).stdout).trim().split("\n");
      assert.deepEqual(names, [
        "opt",
        "opt/tv",
        "opt/tv/prog",
        "opt/tv/data",
        "opt/tv/data/a.txt",
        "top",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("guest file paths must be absolute and plain", () => {
  for (const bad of ["rel/x", "/a/../etc/x", "/a//b", "/", "/a/./b", ""]) {
    assert.throws(
      () => newcArchive({ [bad]: new Uint8Array(1) }),
      (e: unknown) => e instanceof V86HostError && e.code === "ERR_VIRTIO_V86_FILE_PATH",
      bad,
    );
  }
});

Deno.test("the archive goes after the kit's initramfs, at a 4-byte boundary", () => {
  const initrd = Uint8Array.of(1, 2, 3, 4, 5);
  const files = { "/x": Uint8Array.of(9) };
  const out = withGuestFiles(initrd, files);
  assert.deepEqual(out.subarray(0, 5), initrd);
  assert.deepEqual(out.subarray(5, 8), new Uint8Array(3));
  assert.deepEqual(out.subarray(8), newcArchive(files));
});
