// Linux in v86 drives our devices over PCI transitional (virtio_pci.force_legacy=1) (one shared boot; see _scenarios.ts).
import { transportTest } from "./_scenarios.ts";

await transportTest("pci-transitional", "PCI transitional (virtio_pci.force_legacy=1)");
