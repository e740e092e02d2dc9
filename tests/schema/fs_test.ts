// File system device layouts (spec 5.11), sizes and offsets typed in by hand
// from the spec's C structs.
import assert from "node:assert/strict";
import { layout } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/fs.ts";

Deno.test("virtio_fs_config matches the spec", () => {
  const l = layout(s.virtio_fs_config);
  assert.equal(l.size, 44);
  assert.deepEqual(Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])), {
    tag: 0,
    num_request_queues: 36,
    notify_buf_size: 40,
  });
  // The FUSE structs (fuse_*) are checked against the kernel's sizes in
  // tests/devices/fs/schema_test.ts, which also checks that none is left out.
  const checked = new Set(["virtio_fs_config"]);
  for (const v of Object.values(s)) {
    if (v.kind === "struct" && !v.name.startsWith("fuse_")) {
      assert.ok(checked.has(v.name), `${v.name} is not checked`);
    }
  }
});

Deno.test("fs feature bits", () => {
  assert.deepEqual(
    s.virtio_fs_features.constants.map((c) => [c.name, c.value]),
    [["VIRTIO_FS_F_NOTIFICATION", 0]],
  );
});
