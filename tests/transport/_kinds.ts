// The transports the tests run a device on, defined once: every rig and test imports its kinds
// from here.

/** A transport a test rig can host a device model on. */
export type Kind = "mmio-v1" | "mmio-v2" | "pci-modern" | "pci-intx" | "pci-legacy";

/** Every transport: MMIO v1 (legacy) and v2, PCI modern with MSI-X, with INTx, and legacy. */
export const KINDS: readonly Kind[] = [
  "mmio-v1",
  "mmio-v2",
  "pci-modern",
  "pci-intx",
  "pci-legacy",
];

/** The two transports every device test runs on: MMIO v2 and PCI modern with MSI-X. */
export type MainKind = "mmio-v2" | "pci-modern";

/** The two transports every device test runs on. */
export const MAIN_KINDS: readonly MainKind[] = ["mmio-v2", "pci-modern"];
