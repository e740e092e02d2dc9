/**
 * The SPI controller device (spec 5.21): configuration and the transfer
 * request of the request queue (head, tx and rx buffers, result). There are
 * no feature bits.
 *
 * Queues: 0 requestq.
 *
 * @module
 */
import {
  array,
  bits,
  type ConstantGroup,
  doc,
  enumeration,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.21.2: virtqueue indices. */
export const virtio_spi_queues: ConstantGroup = enumeration("virtio_spi_queues", {
  requestq: { value: 0, doc: "SPI transfer requests." },
}, { doc: "5.21.2: virtqueue indices of the SPI controller.", exportMembers: false });

/** 5.21.4: device configuration layout (read-only for the driver). */
export const virtio_spi_config: StructType = struct("virtio_spi_config", {
  cs_max_number: doc(u8, "Maximum number of chipselects."),
  cs_change_supported: doc(
    u8,
    "1 if chipselect can toggle between the transfers of a message, 0 if it stays active.",
  ),
  tx_nbits_supported: doc(
    u8,
    "Write n-bit modes besides SINGLE: bit 0 DUAL, bit 1 QUAD, bit 2 OCTAL; others zero.",
  ),
  rx_nbits_supported: doc(
    u8,
    "Read n-bit modes besides SINGLE: bit 0 DUAL, bit 1 QUAD, bit 2 OCTAL; others zero.",
  ),
  bits_per_word_mask: doc(
    le32,
    "Bit n set: bits_per_word n + 1 is supported; 0 means no limitation.",
  ),
  mode_func_supported: bits(le32, {
    CPHA: {
      width: 2,
      doc: "Supported CPHA: 0b01 CPHA=0 only, 0b10 CPHA=1 only, 0b11 both (0b00 invalid).",
    },
    CPOL: {
      width: 2,
      doc: "Supported CPOL: 0b01 CPOL=0 only, 0b10 CPOL=1 only, 0b11 both (0b00 invalid).",
    },
    CS_HIGH: { width: 1, doc: "Chipselect active high is supported (active low always is)." },
    LSB_FIRST: { width: 1, doc: "LSB first is supported (MSB first always is)." },
    LOOP: { width: 1, doc: "Loopback mode is supported (normal mode always is)." },
  }),
  max_freq_hz: doc(le32, "Maximum clock rate in Hz; 0 for no limit."),
  max_word_delay_ns: doc(le32, "Maximum word delay in ns; 0 if word delay is unsupported."),
  max_cs_setup_ns: doc(
    le32,
    "Maximum delay after chipselect is asserted, in ns; 0 if unsupported.",
  ),
  max_cs_hold_ns: doc(
    le32,
    "Maximum delay before chipselect is deasserted, in ns; 0 if unsupported.",
  ),
  max_cs_inactive_ns: doc(
    le32,
    "Maximum delay after chipselect is deasserted, in ns; 0 if unsupported.",
  ),
}, {
  doc: "5.21.4: SPI controller configuration space. mode_func_supported bits 0-1 CPHA, " +
    "2-3 CPOL, 4 CS_HIGH, 5 LSB_FIRST, 6 LOOP.",
});

/** 5.21.6.1: the device-readable head of a transfer. */
export const virtio_spi_transfer_head: StructType = struct("virtio_spi_transfer_head", {
  chip_select_id: doc(u8, "Chipselect index for the transfer."),
  bits_per_word: doc(u8, "Bits per transfer word."),
  cs_change: doc(
    u8,
    "1: deassert and reassert chipselect before the next transfer; 0: keep it asserted.",
  ),
  tx_nbits: doc(u8, "Write n-bit mode: 0 or 1 SINGLE, 2 DUAL, 4 QUAD, 8 OCTAL."),
  rx_nbits: doc(u8, "Read n-bit mode: 0 or 1 SINGLE, 2 DUAL, 4 QUAD, 8 OCTAL."),
  reserved: doc(array(u8, 3), "Unused, for future extensions."),
  mode: bits(le32, {
    CPHA: { width: 1, doc: "Clock phase." },
    CPOL: { width: 1, doc: "Clock polarity." },
    CS_HIGH: { width: 1, doc: "Chipselect active high (else active low)." },
    LSB_FIRST: { width: 1, doc: "LSB first (else MSB first)." },
    LOOP: { width: 1, doc: "Loopback mode (else normal mode)." },
  }),
  freq: doc(le32, "Transfer speed in Hz."),
  word_delay_ns: doc(le32, "Delay between consecutive words, in ns."),
  cs_setup_ns: doc(le32, "Delay after chipselect is asserted, in ns."),
  cs_delay_hold_ns: doc(le32, "Delay before chipselect is deasserted, in ns."),
  cs_change_delay_inactive_ns: doc(
    le32,
    "Delay after chipselect is deasserted and before it is asserted again, in ns.",
  ),
}, {
  doc: "5.21.6.1: SPI transfer parameters, written by the driver. mode bits: 0 CPHA, " +
    "1 CPOL, 2 CS_HIGH, 3 LSB_FIRST, 4 LOOP.",
});

/** 5.21.6.1: the device-writable result of a transfer. */
export const virtio_spi_transfer_result: StructType = struct("virtio_spi_transfer_result", {
  result: doc(u8, "Transfer result (VIRTIO_SPI_TRANS_OK, _PARAM_ERR, _TRANS_ERR)."),
}, { doc: "5.21.6.1: SPI transfer result, written by the device." });

/** 5.21.6.1: a whole transfer request. */
export const virtio_spi_transfer_req: StructType = struct("virtio_spi_transfer_req", {
  head: doc(virtio_spi_transfer_head, "Transfer parameters (device-readable)."),
  tx_buf: doc(
    array(u8, "tx_buf_len"),
    "Data sent to the device (device-readable); absent for a half-duplex read.",
  ),
  rx_buf: doc(
    array(u8, "rx_buf_len"),
    "Data received from the device (device-writable); absent for a half-duplex write; as " +
      "long as tx_buf for full duplex.",
  ),
  result: doc(virtio_spi_transfer_result, "Transfer result (device-writable)."),
}, { doc: "5.21.6.1: an SPI transfer as laid out in the descriptor chain." });

/** 5.21.6.1: transfer results. */
export const virtio_spi_result: ConstantGroup = enumeration("virtio_spi_result", {
  VIRTIO_SPI_TRANS_OK: { value: 0, doc: "The transfer completed." },
  VIRTIO_SPI_PARAM_ERR: {
    value: 1,
    doc: "Invalid or unsupported parameters, or tx_buf and rx_buf lengths differ (full duplex).",
  },
  VIRTIO_SPI_TRANS_ERR: { value: 2, doc: "Valid parameters, but the transfer failed." },
}, { doc: "5.21.6.1: SPI transfer results." });
