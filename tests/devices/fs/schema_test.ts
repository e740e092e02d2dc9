// The FUSE layouts against sizes and offsets known from the FUSE kernel
// protocol (sizeof of each struct on x86-64 Linux, the FUSE_COMPAT_* sizes
// and FUSE_NAME_OFFSET), not from the generator.

import assert from "node:assert/strict";
import * as schema from "../../../schema/devices/fs.ts";
import * as fs from "../../../src/generated/devices/fs.ts";

Deno.test("FUSE structs have the kernel's sizes", () => {
  const sizes: [{ SIZE: number }, number][] = [
    [fs.FuseInHeader, 40],
    [fs.FuseOutHeader, 16],
    [fs.FuseAttr, 88],
    [fs.FuseEntryOut, 128],
    [fs.FuseAttrOut, 104],
    [fs.FuseInitIn, 16],
    [fs.FuseInitOut, 64],
    [fs.FuseKstatfs, 80],
    [fs.FuseStatfsOut, 80],
    [fs.FuseSetattrIn, 88],
    [fs.FuseReadIn, 40],
    [fs.FuseWriteIn, 40],
    [fs.FuseWriteOut, 8],
    [fs.FuseOpenOut, 16],
    [fs.FuseReleaseIn, 24],
    [fs.FuseDirent, 24],
    [fs.FuseDirentplus, 152],
    [fs.FuseRename2In, 16],
    [fs.FuseForgetOne, 16],
    [fs.FuseBatchForgetIn, 8],
    [fs.FuseFallocateIn, 32],
    [fs.FuseLseekIn, 24],
    [fs.FuseCreateIn, 16],
    [fs.FuseMknodIn, 16],
    [fs.FuseGetattrIn, 16],
    [fs.FuseForgetIn, 8],
    [fs.FuseMkdirIn, 8],
    [fs.FuseRenameIn, 8],
    [fs.FuseLinkIn, 8],
    [fs.FuseOpenIn, 8],
    [fs.FuseFlushIn, 24],
    [fs.FuseFsyncIn, 16],
    [fs.FuseSetxattrIn, 8],
    [fs.FuseGetxattrIn, 8],
    [fs.FuseGetxattrOut, 8],
    [fs.FuseLseekOut, 8],
    [fs.FuseInterruptIn, 8],
  ];
  for (const [cls, n] of sizes) assert.equal(cls.SIZE, n);
  // Every FUSE struct of the schema has its size checked here.
  const schemaNames = Object.values(schema).filter((v) => v.kind === "struct")
    .map((v) => v.name).filter((n) => n.startsWith("fuse_"));
  const checkedNames = new Set(sizes.map(([cls]) => cls));
  for (const n of schemaNames) {
    const cls = (fs as Record<string, unknown>)[
      n.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join("")
    ];
    assert.ok(checkedNames.has(cls as { SIZE: number }), `${n}: its size is not checked`);
  }
  // The compat sizes are the first fields of the current structs.
  assert.equal(fs.FUSE_COMPAT_ENTRY_OUT_SIZE, fs.FuseEntryOut.SIZE - 8);
  assert.equal(fs.FUSE_COMPAT_ATTR_OUT_SIZE, fs.FuseAttrOut.SIZE - 8);
  assert.equal(fs.FUSE_COMPAT_22_INIT_OUT_SIZE, fs.FuseInitOut.OFFSETS.timeGran);
});

Deno.test("FUSE fields sit where the kernel reads them", () => {
  assert.equal(fs.FuseAttr.OFFSETS.mode, 60);
  assert.equal(fs.FuseAttr.OFFSETS.blksize, 80);
  assert.equal(fs.FuseEntryOut.OFFSETS.attr, 40);
  assert.equal(fs.FuseSetattrIn.OFFSETS.mode, 68);
  assert.equal(fs.FuseInitOut.OFFSETS.maxPages, 28);
  assert.equal(fs.FuseReadIn.OFFSETS.readSize, 16);
  assert.equal(fs.FuseDirentplus.OFFSETS.dirent, 128);
  assert.equal(fs.FuseInHeader.OFFSETS.nodeid, 16);
  assert.equal(fs.FUSE_BATCH_FORGET, 42);
  assert.equal(fs.FUSE_LSEEK, 46);
  assert.equal(fs.FUSE_DO_READDIRPLUS, 1 << 13);
});
