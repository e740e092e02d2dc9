// SPI controller layouts (spec 5.21), typed in by hand from the spec's C
// structs and the bit tables of mode_func_supported and mode.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/spi.ts";

// struct: [size with empty buffers, {field: offset with empty buffers}]
const table: [StructType, number, Record<string, number>][] = [
  [s.virtio_spi_config, 32, {
    cs_max_number: 0,
    cs_change_supported: 1,
    tx_nbits_supported: 2,
    rx_nbits_supported: 3,
    bits_per_word_mask: 4,
    mode_func_supported: 8,
    max_freq_hz: 12,
    max_word_delay_ns: 16,
    max_cs_setup_ns: 20,
    max_cs_hold_ns: 24,
    max_cs_inactive_ns: 28,
  }],
  [s.virtio_spi_transfer_head, 32, {
    chip_select_id: 0,
    bits_per_word: 1,
    cs_change: 2,
    tx_nbits: 3,
    rx_nbits: 4,
    reserved: 5,
    mode: 8,
    freq: 12,
    word_delay_ns: 16,
    cs_setup_ns: 20,
    cs_delay_hold_ns: 24,
    cs_change_delay_inactive_ns: 28,
  }],
  [s.virtio_spi_transfer_result, 1, { result: 0 }],
  [s.virtio_spi_transfer_req, 33, { head: 0, tx_buf: 32, rx_buf: 32, result: 32 }],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

function bitfields(t: StructType, name: string): Record<string, [number, number]> {
  const f = t.fields.find((x) => x.name === name);
  if (f?.type.kind !== "bits") throw new TypeError(`${name} is not a bitfield word`);
  return Object.fromEntries(f.type.fields.map((b) => [b.name, [b.lsb, b.width]]));
}

Deno.test("spi layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
  // head, then tx_buf[tx_buf_len], rx_buf[rx_buf_len], then result.
  const req = layout(s.virtio_spi_transfer_req);
  const terms = Object.fromEntries(req.fields.map((f) => [f.def.name, f.paramTerms]));
  assert.deepEqual(terms.rx_buf, { tx_buf_len: 1 });
  assert.deepEqual(terms.result, { tx_buf_len: 1, rx_buf_len: 1 });
  assert.deepEqual(req.paramTerms, { tx_buf_len: 1, rx_buf_len: 1 });
});

Deno.test("spi mode bits match the spec", () => {
  // [lsb, width]
  assert.deepEqual(bitfields(s.virtio_spi_config, "mode_func_supported"), {
    CPHA: [0, 2],
    CPOL: [2, 2],
    CS_HIGH: [4, 1],
    LSB_FIRST: [5, 1],
    LOOP: [6, 1],
  });
  assert.deepEqual(bitfields(s.virtio_spi_transfer_head, "mode"), {
    CPHA: [0, 1],
    CPOL: [1, 1],
    CS_HIGH: [2, 1],
    LSB_FIRST: [3, 1],
    LOOP: [4, 1],
  });
  assert.deepEqual(values(s.virtio_spi_result), {
    VIRTIO_SPI_TRANS_OK: 0,
    VIRTIO_SPI_PARAM_ERR: 1,
    VIRTIO_SPI_TRANS_ERR: 2,
  });
});
