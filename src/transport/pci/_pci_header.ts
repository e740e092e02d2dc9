/**
 * PCI configuration space registers (PCI Local Bus 3.0, type 0 header) and
 * MSI-X capability bits both sides of the virtio PCI transport use.
 *
 * Private to src/transport/pci/.
 *
 * @module
 */

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BAR0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
/** Interrupt Line: firmware's IRQ routing, read-write scratch for the device (PCI 3.0 6.2.4). */
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_STATUS_INTERRUPT = 0x08;
export const PCI_CAP_ID_MSIX = 0x11;
export const MSIX_ENABLE = 0x8000;
export const MSIX_MASKALL = 0x4000;
/** 4.1.4.10: the legacy I/O header of a transitional device is in BAR0. */
export const LEGACY_BAR = 0;
