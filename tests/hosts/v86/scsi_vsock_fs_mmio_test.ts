// Linux in v86 drives our virtio-scsi, virtio-vsock and virtio-fs over MMIO
// v2 (one shared boot; see _scsi_vsock_fs.ts).
import { scsiVsockFsTest } from "./_scsi_vsock_fs.ts";

await scsiVsockFsTest("mmio", "MMIO v2");
