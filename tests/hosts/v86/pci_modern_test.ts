// Linux in v86 drives our devices over PCI modern (one shared boot; see _scenarios.ts).
import { transportTest } from "./_scenarios.ts";

await transportTest("pci", "PCI modern");
