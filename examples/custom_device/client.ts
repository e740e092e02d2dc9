// examples/custom_device/client.ts: the virtio-thermo driver against serve.ts, over vhost-user.
// deno run --allow-ffi --allow-read --allow-write examples/custom_device/client.ts /tmp/thermo.sock
import { VirtioBus } from "../../src/bus.ts";
import { VhostUserFrontend } from "../../src/transport/vhost_user/frontend.ts";
import { VirtioThermoConfig } from "./generated/schema.ts";
import { VIRTIO_ID_THERMO } from "./device.ts";
import { thermoDriver } from "./driver.ts";

const fe = await VhostUserFrontend.connect({
  socketPath: Deno.args[0] ?? "/tmp/thermo.sock",
  deviceId: VIRTIO_ID_THERMO,
  configSize: VirtioThermoConfig.SIZE,
  queueSize: 64, // the device's queueMaxSizes[0]: vhost-user cannot ask
});
const bus = new VirtioBus(fe.dmaContext);
const driver = thermoDriver();
await bus.registerDriver(driver);
const dev = await bus.addDevice(fe);
const thermo = driver.bound.get(dev);
if (thermo === undefined) throw new Error("virtio-thermo: the driver did not bind");
console.log(thermo.name, await thermo.read(0));
await bus.removeDevice(dev);
fe.close();
