// Linux in v86 drives our devices over MMIO v2 (one shared boot; see _scenarios.ts).
import { transportTest } from "./_scenarios.ts";

await transportTest("mmio", "MMIO v2");
