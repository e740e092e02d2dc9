/**
 * The GPIO device (spec 5.18): configuration, the request and response of
 * the request queue, the interrupt request and response of the event
 * queue, and their codes.
 *
 * Queues: 0 requestq, 1 eventq (only with VIRTIO_GPIO_F_IRQ).
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  le16,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.18.2: virtqueue indices. */
export const virtio_gpio_queues: ConstantGroup = enumeration("virtio_gpio_queues", {
  requestq: { value: 0, doc: "Requests from the driver." },
  eventq: { value: 1, doc: "Interrupt unmasking and notification; only with VIRTIO_GPIO_F_IRQ." },
}, { doc: "5.18.2: virtqueue indices of the GPIO device.", exportMembers: false });

/** 5.18.3: feature bits. */
export const virtio_gpio_features: ConstantGroup = featureBits("virtio_gpio_features", {
  VIRTIO_GPIO_F_IRQ: { value: 0, doc: "The device supports interrupts on GPIO lines." },
}, { doc: "5.18.3: GPIO device feature bits." });

/** 5.18.4: device configuration layout. */
export const virtio_gpio_config: StructType = struct("virtio_gpio_config", {
  ngpio: doc(le16, "Number of GPIO lines."),
  padding: doc(array(u8, 2), "Reserved, zero."),
  gpio_names_size: doc(
    le32,
    "Size in bytes of the line names block (VIRTIO_GPIO_MSG_GET_LINE_NAMES); 0 without names.",
  ),
}, { doc: "5.18.4: GPIO device configuration space." });

/** 5.18.6: request message types. */
export const virtio_gpio_msg_type: ConstantGroup = enumeration("virtio_gpio_msg_type", {
  VIRTIO_GPIO_MSG_GET_LINE_NAMES: {
    value: 0x0001,
    doc: "Get the line names block (gpio 0, value 0; response virtio_gpio_response_N).",
  },
  VIRTIO_GPIO_MSG_GET_DIRECTION: {
    value: 0x0002,
    doc: "Get a line's direction (response value VIRTIO_GPIO_DIRECTION_*).",
  },
  VIRTIO_GPIO_MSG_SET_DIRECTION: {
    value: 0x0003,
    doc: "Set a line's direction (request value VIRTIO_GPIO_DIRECTION_*).",
  },
  VIRTIO_GPIO_MSG_GET_VALUE: { value: 0x0004, doc: "Get a line's value (0 low, 1 high)." },
  VIRTIO_GPIO_MSG_SET_VALUE: { value: 0x0005, doc: "Set a line's value (0 low, 1 high)." },
  VIRTIO_GPIO_MSG_SET_IRQ_TYPE: {
    value: 0x0006,
    doc: "Enable or disable a line's interrupt (value VIRTIO_GPIO_IRQ_TYPE_*); needs " +
      "VIRTIO_GPIO_F_IRQ.",
  },
}, { doc: "5.18.6: GPIO request message types (VIRTIO_GPIO_MSG_*)." });

/** 5.18.6: response status codes. */
export const virtio_gpio_status: ConstantGroup = enumeration("virtio_gpio_status", {
  VIRTIO_GPIO_STATUS_OK: { value: 0x0, doc: "Success." },
  VIRTIO_GPIO_STATUS_ERR: { value: 0x1, doc: "Failure." },
}, { doc: "5.18.6: GPIO response status (VIRTIO_GPIO_STATUS_*)." });

/** 5.18.6: line directions. */
export const virtio_gpio_direction: ConstantGroup = enumeration("virtio_gpio_direction", {
  VIRTIO_GPIO_DIRECTION_NONE: { value: 0x00, doc: "Line inactive." },
  VIRTIO_GPIO_DIRECTION_OUT: { value: 0x01, doc: "Output." },
  VIRTIO_GPIO_DIRECTION_IN: { value: 0x02, doc: "Input." },
}, { doc: "5.18.6: GPIO line directions (VIRTIO_GPIO_DIRECTION_*)." });

/** 5.18.6: interrupt trigger types. */
export const virtio_gpio_irq_type: ConstantGroup = enumeration("virtio_gpio_irq_type", {
  VIRTIO_GPIO_IRQ_TYPE_NONE: { value: 0x00, doc: "Interrupt disabled." },
  VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING: { value: 0x01, doc: "Rising edge." },
  VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING: { value: 0x02, doc: "Falling edge." },
  VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH: { value: 0x03, doc: "Both edges." },
  VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH: { value: 0x04, doc: "High level." },
  VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW: { value: 0x08, doc: "Low level." },
}, { doc: "5.18.6: GPIO interrupt trigger types (VIRTIO_GPIO_IRQ_TYPE_*)." });

/** 5.18.6: a request on the requestq. */
export const virtio_gpio_request: StructType = struct("virtio_gpio_request", {
  type: doc(le16, "Message type (VIRTIO_GPIO_MSG_*)."),
  gpio: doc(le16, "GPIO line number, below ngpio."),
  value: doc(le32, "Message-specific value."),
}, { doc: "5.18.6: GPIO request, written by the driver." });

/** 5.18.6: a response on the requestq. */
export const virtio_gpio_response: StructType = struct("virtio_gpio_response", {
  status: doc(u8, "VIRTIO_GPIO_STATUS_OK or VIRTIO_GPIO_STATUS_ERR."),
  value: doc(u8, "Message-specific value."),
}, { doc: "5.18.6: GPIO response, written by the device." });

/** 5.18.6.1: the response to VIRTIO_GPIO_MSG_GET_LINE_NAMES. */
export const virtio_gpio_response_N: StructType = struct("virtio_gpio_response_N", {
  status: doc(u8, "VIRTIO_GPIO_STATUS_OK or VIRTIO_GPIO_STATUS_ERR."),
  value: doc(
    array(u8, "gpio_names_size"),
    "Line names: one NUL-terminated 7-bit ASCII string per line, in line order (an empty " +
      "string for an unnamed line). N = gpio_names_size.",
  ),
}, { doc: "5.18.6.1: GPIO line names response." });

/** 5.18.7: the interrupt unmask request on the eventq. */
export const virtio_gpio_irq_request: StructType = struct("virtio_gpio_irq_request", {
  gpio: doc(le16, "GPIO line number, below ngpio."),
}, { doc: "5.18.7: unmasks a line's interrupt, written by the driver." });

/** 5.18.7: interrupt status values. */
export const virtio_gpio_irq_status: ConstantGroup = enumeration("virtio_gpio_irq_status", {
  VIRTIO_GPIO_IRQ_STATUS_INVALID: {
    value: 0x0,
    doc: "Buffers returned unused (interrupt disabled or not enabled).",
  },
  VIRTIO_GPIO_IRQ_STATUS_VALID: { value: 0x1, doc: "An interrupt occurred on the line." },
}, { doc: "5.18.7: GPIO interrupt status (VIRTIO_GPIO_IRQ_STATUS_*)." });

/** 5.18.7: the interrupt response on the eventq. */
export const virtio_gpio_irq_response: StructType = struct("virtio_gpio_irq_response", {
  status: doc(u8, "VIRTIO_GPIO_IRQ_STATUS_VALID or VIRTIO_GPIO_IRQ_STATUS_INVALID."),
}, { doc: "5.18.7: interrupt event, written by the device; the line is masked again." });
