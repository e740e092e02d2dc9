// Linux in v86 drives our devices over MMIO v1 (one shared boot; see _scenarios.ts).
import { transportTest } from "./_scenarios.ts";

await transportTest("mmio-v1", "MMIO v1");
