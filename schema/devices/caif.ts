/**
 * The CAIF device (virtio device id 12): the link between a host and an
 * ST-Ericsson modem that speaks CAIF. The OASIS spec only reserves the id
 * (5, "Device Types"); the layout here is Linux's: `struct
 * virtio_caif_transf_config` and `struct virtio_caif_config` of
 * `include/linux/virtio_caif.h` (v6.1; fields `__virtio16` / `__virtio32`,
 * little-endian for a modern device), as `drivers/net/caif/caif_virtio.c`
 * reads them.
 *
 * Queues, as Linux's driver uses them: 0 the uplink ring ("output", host to
 * modem; the host is the ring's driver), 1 the downlink ring (modem to host;
 * the modem is the ring's driver and the host consumes it through vringh).
 * Linux reads only the first `virtio_caif_transf_config` (offset 0, the
 * `uplink` member) and uses its headroom, tailroom and mtu for both
 * directions.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  le16,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** Linux `caif_virtio.c`: the queues of a CAIF link. */
export const virtio_caif_queues: ConstantGroup = enumeration("virtio_caif_queues", {
  uplink: {
    value: 0,
    doc: 'Host to modem; the host is the ring\'s driver (Linux: vq_tx, "output").',
  },
  downlink: {
    value: 1,
    doc:
      "Modem to host; the modem fills the ring and the host consumes it (Linux: vr_rx, a vringh).",
  },
}, { doc: "The two rings of a CAIF link (Linux caif_virtio.c).", exportMembers: false });

/** `include/linux/virtio_caif.h`: the framing of one direction. */
export const virtio_caif_transf_config: StructType = struct("virtio_caif_transf_config", {
  headroom: doc(le16, "Bytes before the CAIF frame in each buffer."),
  tailroom: doc(le16, "Bytes after the CAIF frame in each buffer."),
  mtu: doc(le32, "Largest buffer: headroom + frame + tailroom."),
  reserved: doc(array(u8, 4), "Zero."),
}, { doc: "Linux include/linux/virtio_caif.h: headroom, tailroom and MTU of one direction." });

/** `include/linux/virtio_caif.h`: the device configuration. */
export const virtio_caif_config: StructType = struct("virtio_caif_config", {
  uplink: doc(
    virtio_caif_transf_config,
    "Host to modem; Linux reads this one for both directions.",
  ),
  downlink: doc(virtio_caif_transf_config, "Modem to host; Linux's driver does not read it."),
  reserved: doc(array(u8, 8), "Zero."),
}, { doc: "Linux include/linux/virtio_caif.h: the configuration of a virtio CAIF device." });
