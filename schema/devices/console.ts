/**
 * The console device (spec 5.3): its configuration layout, the control
 * messages of multiport devices with their event codes, and the resize
 * message. Everything is little-endian.
 *
 * @module
 */
import {
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  le16,
  le32,
  struct,
  type StructType,
} from "../dsl.ts";

/**
 * 5.3.2: virtqueue indices. Port n (from 1) uses receiveq 2(n+1) and
 * transmitq 2(n+1)+1; all but port 0's queues need VIRTIO_CONSOLE_F_MULTIPORT.
 */
export const virtio_console_queues: ConstantGroup = enumeration("virtio_console_queues", {
  receiveq_port0: { value: 0, doc: "Receive queue of port 0 (spec name `receiveq(port0)`)." },
  transmitq_port0: { value: 1, doc: "Transmit queue of port 0 (spec name `transmitq(port0)`)." },
  control_receiveq: { value: 2, doc: "Control messages from the device (multiport)." },
  control_transmitq: { value: 3, doc: "Control messages from the driver (multiport)." },
  receiveq_port1: { value: 4, doc: "Receive queue of port 1 (spec name `receiveq(port1)`)." },
  transmitq_port1: { value: 5, doc: "Transmit queue of port 1 (spec name `transmitq(port1)`)." },
}, {
  doc: "5.3.2: virtqueue indices of the console device; port n > 0 at 2(n+1) and 2(n+1)+1.",
  exportMembers: false,
});

/** 5.3.3: console device feature bits. */
export const virtio_console_features: ConstantGroup = featureBits("virtio_console_features", {
  VIRTIO_CONSOLE_F_SIZE: { value: 0, doc: "cols and rows are valid." },
  VIRTIO_CONSOLE_F_MULTIPORT: {
    value: 1,
    doc: "Multiple ports: max_nr_ports is valid and the control queues are used.",
  },
  VIRTIO_CONSOLE_F_EMERG_WRITE: {
    value: 2,
    doc: "Emergency write through emerg_wr is supported.",
  },
}, { doc: "5.3.3: console device feature bits (bit numbers)." });

/** 5.3.4: the console device's configuration layout. */
export const virtio_console_config: StructType = struct("virtio_console_config", {
  cols: doc(le16, "With VIRTIO_CONSOLE_F_SIZE: console width in columns (port 0)."),
  rows: doc(le16, "With VIRTIO_CONSOLE_F_SIZE: console height in rows (port 0)."),
  max_nr_ports: doc(le32, "With VIRTIO_CONSOLE_F_MULTIPORT: maximum number of ports."),
  emerg_wr: doc(
    le32,
    "With VIRTIO_CONSOLE_F_EMERG_WRITE: writing outputs the low byte as a character, even " +
      "before the device is set up.",
  ),
}, { doc: "5.3.4: console device configuration layout." });

/** 5.3.6.2: a control message on the control receiveq or transmitq. */
export const virtio_console_control: StructType = struct("virtio_console_control", {
  id: doc(le32, "Port number."),
  event: doc(le16, "The kind of control event: VIRTIO_CONSOLE_* (virtio_console_control_event)."),
  value: doc(le16, "Extra information for the event."),
}, { doc: "5.3.6.2: multiport control message." });

/** 5.3.6.2: the sizes that follow a VIRTIO_CONSOLE_RESIZE control message. */
export const virtio_console_resize: StructType = struct("virtio_console_resize", {
  cols: doc(le16, "New width in columns."),
  rows: doc(le16, "New height in rows."),
}, { doc: "5.3.6.2: console size, following a VIRTIO_CONSOLE_RESIZE message." });

/** 5.3.6.2: values of `virtio_console_control.event`. */
export const virtio_console_control_event: ConstantGroup = enumeration(
  "virtio_console_control_event",
  {
    VIRTIO_CONSOLE_DEVICE_READY: {
      value: 0,
      doc: "Driver: ready for control messages; value 1 success, 0 failure; id unused.",
    },
    VIRTIO_CONSOLE_DEVICE_ADD: { value: 1, doc: "Device: a new port id; value unused." },
    VIRTIO_CONSOLE_DEVICE_REMOVE: { value: 2, doc: "Device: port id removed; value unused." },
    VIRTIO_CONSOLE_PORT_READY: {
      value: 3,
      doc: "Driver: port id is ready after DEVICE_ADD; value 1 success, 0 failure.",
    },
    VIRTIO_CONSOLE_CONSOLE_PORT: { value: 4, doc: "Device: port id is a console port." },
    VIRTIO_CONSOLE_RESIZE: {
      value: 5,
      doc: "Device: console size changed; virtio_console_resize follows; value unused.",
    },
    VIRTIO_CONSOLE_PORT_OPEN: {
      value: 6,
      doc: "Either side: port id closed (value 0) or opened (value 1).",
    },
    VIRTIO_CONSOLE_PORT_NAME: {
      value: 7,
      doc: "Device: the port's UTF-8 name follows, without a NUL terminator.",
    },
  },
  { doc: "5.3.6.2: console control events." },
);
