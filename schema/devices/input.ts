/**
 * The input device (spec 5.8): evdev events carried over virtio. The
 * configuration space is a select/subsel window onto the device's
 * properties (5.8.4); both queues carry `virtio_input_event` (5.8.6).
 * The device has no feature bits.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  field,
  le16,
  le32,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "../dsl.ts";

/** 5.8.4: values of `select` in the configuration space. */
export const virtio_input_config_select: ConstantGroup = enumeration(
  "virtio_input_config_select",
  {
    VIRTIO_INPUT_CFG_UNSET: { value: 0x00, doc: "No information selected." },
    VIRTIO_INPUT_CFG_ID_NAME: {
      value: 0x01,
      doc: "subsel 0: the device name in u.string (like EVIOCGNAME).",
    },
    VIRTIO_INPUT_CFG_ID_SERIAL: {
      value: 0x02,
      doc: "subsel 0: the device serial number in u.string.",
    },
    VIRTIO_INPUT_CFG_ID_DEVIDS: {
      value: 0x03,
      doc: "subsel 0: device ids in u.ids (like EVIOCGID).",
    },
    VIRTIO_INPUT_CFG_PROP_BITS: {
      value: 0x10,
      doc: "subsel 0: bitmap of INPUT_PROP_* input properties in u.bitmap (like EVIOCGPROP).",
    },
    VIRTIO_INPUT_CFG_EV_BITS: {
      value: 0x11,
      doc: "subsel is an EV_* event type: bitmap of supported codes in u.bitmap (like EVIOCGBIT).",
    },
    VIRTIO_INPUT_CFG_ABS_INFO: {
      value: 0x12,
      doc: "subsel is an ABS_* axis: the axis information in u.abs (like EVIOCGABS).",
    },
  },
  { doc: "5.8.4: what the driver asks for through `select` (enum virtio_input_config_select)." },
);

/** 5.8.4: information about an absolute axis. */
export const virtio_input_absinfo: StructType = struct("virtio_input_absinfo", {
  min: doc(le32, "Minimum value of the axis."),
  max: doc(le32, "Maximum value of the axis."),
  fuzz: doc(le32, "Fuzz value used to filter noise (as evdev)."),
  flat: doc(le32, "Flat (dead zone) value (as evdev)."),
  res: doc(le32, "Resolution of the axis."),
}, { doc: "5.8.4: absolute axis information, returned for VIRTIO_INPUT_CFG_ABS_INFO." });

/** 5.8.4: device identification, as evdev's `struct input_id`. */
export const virtio_input_devids: StructType = struct("virtio_input_devids", {
  bustype: doc(le16, "Bus type."),
  vendor: doc(le16, "Vendor id."),
  product: doc(le16, "Product id."),
  version: doc(le16, "Version."),
}, { doc: "5.8.4: device ids, returned for VIRTIO_INPUT_CFG_ID_DEVIDS." });

/** 5.8.4: the union `u` of `virtio_input_config` (anonymous union type in the spec). */
export const virtio_input_config_u: UnionType = union("virtio_input_config_u", {
  string: doc(
    array(u8, 128),
    "Name or serial (char[128]); no NUL terminator, `size` bytes are valid.",
  ),
  bitmap: doc(array(u8, 128), "A bitmap of properties or event codes."),
  abs: doc(virtio_input_absinfo, "Absolute axis information."),
  ids: doc(virtio_input_devids, "Device ids."),
}, { doc: "5.8.4: the answer to a configuration query, interpreted according to `select`." });

/** 5.8.4: the input device's configuration layout. */
export const virtio_input_config: StructType = struct("virtio_input_config", {
  select: doc(u8, "What to query (VIRTIO_INPUT_CFG_*); written by the driver."),
  subsel: doc(u8, "Sub-selector (event type or axis); written by the driver."),
  size: field(u8, {
    accessor: "infoSize",
    doc: "Bytes of information available in `u`; 0 if the select/subsel pair is unsupported " +
      "(accessor `infoSize`: `size` is taken by the accessor class).",
  }),
  reserved: doc(array(u8, 5), "Reserved."),
  u: doc(virtio_input_config_u, "The selected information."),
}, { doc: "5.8.4: input device configuration: a query window selected by select and subsel." });

/** 5.8.6: an input event, carried on both the eventq and the statusq. */
export const virtio_input_event: StructType = struct("virtio_input_event", {
  type: doc(le16, "evdev event type (EV_*), little-endian."),
  code: doc(le16, "evdev event code (KEY_*, REL_*, ABS_*...)."),
  value: doc(le32, "Event value."),
}, { doc: "5.8.6: an evdev input event in little-endian byte order." });
