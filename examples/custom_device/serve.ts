// examples/custom_device/serve.ts: virtio-thermo served over vhost-user until SIGINT.
// deno run --allow-ffi --allow-read --allow-write examples/custom_device/serve.ts /tmp/thermo.sock
import { VhostUserBackend } from "../../src/transport/vhost_user/backend.ts";
import { ThermoDevice } from "./device.ts";

const backend = new VhostUserBackend(new ThermoDevice([21_500, 19_250]), {
  socketPath: Deno.args[0] ?? "/tmp/thermo.sock",
});
backend.listen();
Deno.addSignalListener("SIGINT", () => backend.close());
console.log("virtio-thermo: ready");
await backend.serve(); // one front-end (QEMU, or ours) after another, until close()
