// Sound device layouts (spec 5.14), offsets and sizes typed in by hand from
// the spec's C structs (no padding: fields follow one another byte by byte).
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/sound.ts";

// struct: [size, {field: offset}]
const table: [StructType | UnionType, number, Record<string, number>][] = [
  [s.virtio_snd_config, 16, { jacks: 0, streams: 4, chmaps: 8, controls: 12 }],
  [s.virtio_snd_hdr, 4, { code: 0 }],
  [s.virtio_snd_event, 8, { hdr: 0, data: 4 }],
  [s.virtio_snd_query_info, 16, { hdr: 0, start_id: 4, count: 8, size: 12 }],
  [s.virtio_snd_info, 4, { hda_fn_nid: 0 }],
  [s.virtio_snd_jack_hdr, 8, { hdr: 0, jack_id: 4 }],
  [s.virtio_snd_jack_info, 24, {
    hdr: 0,
    features: 4,
    hda_reg_defconf: 8,
    hda_reg_caps: 12,
    connected: 16,
    padding: 17,
  }],
  [s.virtio_snd_jack_remap, 16, { hdr: 0, association: 8, sequence: 12 }],
  [s.virtio_snd_pcm_hdr, 8, { hdr: 0, stream_id: 4 }],
  [s.virtio_snd_pcm_info, 32, {
    hdr: 0,
    features: 4,
    formats: 8,
    rates: 16,
    direction: 24,
    channels_min: 25,
    channels_max: 26,
    padding: 27,
  }],
  [s.virtio_snd_pcm_set_params, 24, {
    hdr: 0,
    buffer_bytes: 8,
    period_bytes: 12,
    features: 16,
    channels: 20,
    format: 21,
    rate: 22,
    padding: 23,
  }],
  [s.virtio_snd_pcm_xfer, 4, { stream_id: 0 }],
  [s.virtio_snd_pcm_status, 8, { status: 0, latency_bytes: 4 }],
  [s.virtio_snd_chmap_info, 24, { hdr: 0, direction: 4, channels: 5, positions: 6 }],
  [s.virtio_snd_ctl_hdr, 8, { hdr: 0, control_id: 4 }],
  [s.virtio_snd_ctl_info_value_integer, 12, { min: 0, max: 4, step: 8 }],
  [s.virtio_snd_ctl_info_value_integer64, 24, { min: 0, max: 8, step: 16 }],
  [s.virtio_snd_ctl_info_value_enumerated, 4, { items: 0 }],
  [s.virtio_snd_ctl_info_value, 24, { integer: 0, integer64: 0, enumerated: 0 }],
  // 4 + 5 * 4 + 44 = 68: the union follows name directly (C would align it to 72).
  [s.virtio_snd_ctl_info, 92, {
    hdr: 0,
    role: 4,
    type: 8,
    access: 12,
    count: 16,
    index: 20,
    name: 24,
    value: 68,
  }],
  [s.virtio_snd_ctl_enum_item, 64, { item: 0 }],
  [s.virtio_snd_ctl_iec958, 176, { status: 0, subcode: 24, pad: 171, dig_subframe: 172 }],
  [s.virtio_snd_ctl_value_value, 512, {
    integer: 0,
    integer64: 0,
    enumerated: 0,
    bytes: 0,
    iec958: 0,
  }],
  [s.virtio_snd_ctl_value, 512, { value: 0 }],
  [s.virtio_snd_ctl_tlv, 8, { type: 0, length: 4, value: 8 }],
  [s.virtio_snd_ctl_event, 8, { hdr: 0, control_id: 4, mask: 6 }],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("sound layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
  const tlv = layout(s.virtio_snd_ctl_tlv);
  assert.deepEqual(tlv.paramTerms, { value_count: 4 });
});

Deno.test("sound constants match the spec", () => {
  assert.deepEqual(values(s.virtio_snd_features), { VIRTIO_SND_F_CTLS: 0 });
  const r = values(s.virtio_snd_req_type);
  assert.equal(r.VIRTIO_SND_R_JACK_INFO, 1);
  assert.equal(r.VIRTIO_SND_R_JACK_REMAP, 2);
  assert.equal(r.VIRTIO_SND_R_PCM_INFO, 0x100);
  assert.equal(r.VIRTIO_SND_R_PCM_STOP, 0x105);
  assert.equal(r.VIRTIO_SND_R_CHMAP_INFO, 0x200);
  assert.equal(r.VIRTIO_SND_R_CTL_INFO, 0x300);
  assert.equal(r.VIRTIO_SND_R_CTL_TLV_COMMAND, 0x306);
  const e = values(s.virtio_snd_evt_type);
  assert.equal(e.VIRTIO_SND_EVT_JACK_DISCONNECTED, 0x1001);
  assert.equal(e.VIRTIO_SND_EVT_PCM_XRUN, 0x1101);
  assert.equal(e.VIRTIO_SND_EVT_CTL_NOTIFY, 0x1200);
  assert.deepEqual(values(s.virtio_snd_status), {
    VIRTIO_SND_S_OK: 0x8000,
    VIRTIO_SND_S_BAD_MSG: 0x8001,
    VIRTIO_SND_S_NOT_SUPP: 0x8002,
    VIRTIO_SND_S_IO_ERR: 0x8003,
  });
  assert.equal(values(s.virtio_snd_direction).VIRTIO_SND_D_INPUT, 1);
  assert.equal(values(s.virtio_snd_pcm_features).VIRTIO_SND_PCM_F_EVT_XRUNS, 4);
  const fmt = values(s.virtio_snd_pcm_format);
  assert.equal(fmt.VIRTIO_SND_PCM_FMT_S16, 5);
  assert.equal(fmt.VIRTIO_SND_PCM_FMT_FLOAT64, 20);
  assert.equal(fmt.VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME, 24);
  const rate = values(s.virtio_snd_pcm_rate);
  assert.equal(rate.VIRTIO_SND_PCM_RATE_48000, 7);
  assert.equal(rate.VIRTIO_SND_PCM_RATE_384000, 13);
  assert.equal(rate.VIRTIO_SND_PCM_RATE_24000, 15);
  const pos = values(s.virtio_snd_chmap_position);
  assert.equal(pos.VIRTIO_SND_CHMAP_FL, 3);
  assert.equal(pos.VIRTIO_SND_CHMAP_LFE, 8);
  assert.equal(pos.VIRTIO_SND_CHMAP_BRC, 36);
  assert.equal(values(s.virtio_snd_chmap_limits).VIRTIO_SND_CHMAP_MAX_SIZE, 18);
  assert.equal(values(s.virtio_snd_ctl_role).VIRTIO_SND_CTL_ROLE_GAIN, 3);
  assert.equal(values(s.virtio_snd_ctl_type).VIRTIO_SND_CTL_TYPE_IEC958, 5);
  assert.equal(values(s.virtio_snd_ctl_access).VIRTIO_SND_CTL_ACCESS_TLV_COMMAND, 6);
  assert.equal(values(s.virtio_snd_ctl_evt_mask).VIRTIO_SND_CTL_EVT_MASK_TLV, 2);
  assert.equal(values(s.virtio_snd_jack_features).VIRTIO_SND_JACK_F_REMAP, 0);
  assert.deepEqual(values(s.virtio_snd_queues), { controlq: 0, eventq: 1, txq: 2, rxq: 3 });
});
