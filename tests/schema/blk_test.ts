// Offsets and sizes of the block device layouts, typed in by hand from the
// spec's C structs (5.2.4, 5.2.6), plus constant values.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as blk from "../../schema/devices/blk.ts";

/** A field's offset, or its offset at parameters 0 with the bytes added per parameter unit. */
type Off = number | [number, Record<string, number>];

function check(t: StructType, size: Off, fields: Record<string, Off>): void {
  const l = layout(t);
  const [s, sTerms] = typeof size === "number" ? [size, {}] : size;
  assert.equal(l.size, s, `${t.name} size`);
  assert.deepEqual({ ...l.paramTerms }, sTerms, `${t.name} size terms`);
  const got: Record<string, Off> = {};
  for (const f of l.fields) {
    const terms = { ...f.paramTerms };
    got[f.def.name] = Object.keys(terms).length === 0 ? f.offset : [f.offset, terms];
  }
  assert.deepEqual(got, fields, `${t.name} offsets`);
}

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

const expected: [StructType, Off, Record<string, Off>][] = [
  [blk.virtio_blk_geometry, 4, { cylinders: 0, heads: 2, sectors: 3 }],
  // Linux's struct virtio_blk_outhdr: the 16 bytes before the data of 5.2.6's request
  [blk.virtio_blk_outhdr, 16, { type: 0, reserved: 4, sector: 8 }],
  [blk.virtio_blk_topology, 8, {
    physical_block_exp: 0,
    alignment_offset: 1,
    min_io_size: 2,
    opt_io_size: 4,
  }],
  [blk.virtio_blk_zoned_characteristics, 24, {
    zone_sectors: 0,
    max_open_zones: 4,
    max_active_zones: 8,
    max_append_sectors: 12,
    write_granularity: 16,
    model: 20,
    unused2: 21,
  }],
  [blk.virtio_blk_config, 96, {
    capacity: 0,
    size_max: 8,
    seg_max: 12,
    geometry: 16,
    blk_size: 20,
    topology: 24,
    writeback: 32,
    unused0: 33,
    num_queues: 34,
    max_discard_sectors: 36,
    max_discard_seg: 40,
    discard_sector_alignment: 44,
    max_write_zeroes_sectors: 48,
    max_write_zeroes_seg: 52,
    write_zeroes_may_unmap: 56,
    unused1: 57,
    max_secure_erase_sectors: 60,
    max_secure_erase_seg: 64,
    secure_erase_sector_alignment: 68,
    zoned: 72,
  }],
  [blk.virtio_blk_req, [17, { data_len: 1 }], {
    type: 0,
    reserved: 4,
    sector: 8,
    data: 16,
    status: [16, { data_len: 1 }],
  }],
  [blk.virtio_blk_req_za, [25, { data_len: 1 }], {
    type: 0,
    reserved: 4,
    sector: 8,
    data: 16,
    append_sector: [16, { data_len: 1 }],
    status: [24, { data_len: 1 }],
  }],
  [blk.virtio_blk_discard_write_zeroes, 16, { sector: 0, num_sectors: 8, flags: 12 }],
  [blk.virtio_blk_lifetime, 6, {
    pre_eol_info: 0,
    device_lifetime_est_typ_a: 2,
    device_lifetime_est_typ_b: 4,
  }],
  [blk.virtio_blk_zone_descriptor, 64, {
    z_cap: 0,
    z_start: 8,
    z_wp: 16,
    z_type: 24,
    z_state: 25,
    reserved: 26,
  }],
  [blk.virtio_blk_zone_report, [64, { zones_len: 64 }], { nr_zones: 0, reserved: 8, zones: 64 }],
  // 5.2.6.3: u32 type, u32 ioprio, u64 sector, cmd[], data[][512] (bytes here), sense[96], 4 x u32, u8
  [blk.virtio_scsi_pc_req, [129, { cmd_len: 1, data_size: 1 }], {
    type: 0,
    ioprio: 4,
    sector: 8,
    cmd: 16,
    data: [16, { cmd_len: 1 }],
    sense: [16, { cmd_len: 1, data_size: 1 }],
    errors: [112, { cmd_len: 1, data_size: 1 }],
    data_len: [116, { cmd_len: 1, data_size: 1 }],
    sense_len: [120, { cmd_len: 1, data_size: 1 }],
    residual: [124, { cmd_len: 1, data_size: 1 }],
    status: [128, { cmd_len: 1, data_size: 1 }],
  }],
];

Deno.test("block device layouts match the spec", () => {
  for (const [t, size, fields] of expected) check(t, size, fields);
  const checked = expected.map(([t]) => t.name).sort();
  const exported = Object.values(blk).filter((v) => v.kind !== "constants").map((v) => v.name);
  assert.deepEqual(exported.sort(), checked);
  // The nested config structs sit where the spec's flat field list puts them.
  const zoned = layout(blk.virtio_blk_config).fields.find((f) => f.def.name === "zoned");
  assert.equal(zoned?.offset, 72);
  const flagsType = layout(blk.virtio_blk_discard_write_zeroes).fields[2].def.type;
  assert.ok(flagsType.kind === "bits");
  assert.deepEqual(flagsType.fields.map((b) => [b.name, b.lsb, b.width]), [
    ["unmap", 0, 1],
    ["reserved", 1, 31],
  ]);
});

Deno.test("block device constants match the spec", () => {
  assert.deepEqual(values(blk.virtio_blk_queues), { requestq1: 0 });
  const f = values(blk.virtio_blk_features);
  assert.equal(f.VIRTIO_BLK_F_BARRIER, 0);
  assert.equal(f.VIRTIO_BLK_F_SIZE_MAX, 1);
  assert.equal(f.VIRTIO_BLK_F_SEG_MAX, 2);
  assert.equal(f.VIRTIO_BLK_F_GEOMETRY, 4);
  assert.equal(f.VIRTIO_BLK_F_RO, 5);
  assert.equal(f.VIRTIO_BLK_F_BLK_SIZE, 6);
  assert.equal(f.VIRTIO_BLK_F_SCSI, 7);
  assert.equal(f.VIRTIO_BLK_F_FLUSH, 9);
  assert.equal(f.VIRTIO_BLK_F_WCE, 9);
  assert.equal(f.VIRTIO_BLK_F_TOPOLOGY, 10);
  assert.equal(f.VIRTIO_BLK_F_CONFIG_WCE, 11);
  assert.equal(f.VIRTIO_BLK_F_MQ, 12);
  assert.equal(f.VIRTIO_BLK_F_DISCARD, 13);
  assert.equal(f.VIRTIO_BLK_F_WRITE_ZEROES, 14);
  assert.equal(f.VIRTIO_BLK_F_LIFETIME, 15);
  assert.equal(f.VIRTIO_BLK_F_SECURE_ERASE, 16);
  assert.equal(f.VIRTIO_BLK_F_ZONED, 17);
  assert.deepEqual(values(blk.virtio_blk_req_type), {
    VIRTIO_BLK_T_IN: 0,
    VIRTIO_BLK_T_OUT: 1,
    VIRTIO_BLK_T_SCSI_CMD: 2,
    VIRTIO_BLK_T_SCSI_CMD_OUT: 3,
    VIRTIO_BLK_T_FLUSH: 4,
    VIRTIO_BLK_T_FLUSH_OUT: 5,
    VIRTIO_BLK_T_GET_ID: 8,
    VIRTIO_BLK_T_GET_LIFETIME: 10,
    VIRTIO_BLK_T_DISCARD: 11,
    VIRTIO_BLK_T_WRITE_ZEROES: 13,
    VIRTIO_BLK_T_SECURE_ERASE: 14,
    VIRTIO_BLK_T_ZONE_APPEND: 15,
    VIRTIO_BLK_T_ZONE_REPORT: 16,
    VIRTIO_BLK_T_ZONE_OPEN: 18,
    VIRTIO_BLK_T_ZONE_CLOSE: 20,
    VIRTIO_BLK_T_ZONE_FINISH: 22,
    VIRTIO_BLK_T_ZONE_RESET: 24,
    VIRTIO_BLK_T_ZONE_RESET_ALL: 26,
  });
  assert.equal(values(blk.virtio_blk_req_type_flags).VIRTIO_BLK_T_BARRIER, 0x80000000);
  assert.deepEqual(values(blk.virtio_blk_status), {
    VIRTIO_BLK_S_OK: 0,
    VIRTIO_BLK_S_IOERR: 1,
    VIRTIO_BLK_S_UNSUPP: 2,
    VIRTIO_BLK_S_ZONE_INVALID_CMD: 3,
    VIRTIO_BLK_S_ZONE_UNALIGNED_WP: 4,
    VIRTIO_BLK_S_ZONE_OPEN_RESOURCE: 5,
    VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE: 6,
  });
  assert.equal(values(blk.virtio_blk_zoned_model).VIRTIO_BLK_Z_HA, 2);
  assert.equal(values(blk.virtio_blk_pre_eol_info).VIRTIO_BLK_PRE_EOL_INFO_URGENT, 3);
  assert.equal(values(blk.virtio_blk_zone_type).VIRTIO_BLK_ZT_SWP, 3);
  const zs = values(blk.virtio_blk_zone_state);
  assert.equal(zs.VIRTIO_BLK_ZS_CLOSED, 4);
  assert.equal(zs.VIRTIO_BLK_ZS_RDONLY, 13);
  assert.equal(zs.VIRTIO_BLK_ZS_OFFLINE, 15);
  assert.equal(values(blk.virtio_blk_legacy_scsi).SCSI_SENSE_BUFFERSIZE, 96);
});
