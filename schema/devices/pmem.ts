/**
 * The PMEM device (spec 5.19): configuration and the flush request and
 * response of the request queue.
 *
 * Queues: 0 req_vq.
 *
 * @module
 */
import {
  addr,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  le32,
  le64,
  struct,
  type StructType,
} from "../dsl.ts";

/** 5.19.2: virtqueue indices. */
export const virtio_pmem_queues: ConstantGroup = enumeration("virtio_pmem_queues", {
  req_vq: { value: 0, doc: "Flush requests." },
}, { doc: "5.19.2: virtqueue indices of the PMEM device.", exportMembers: false });

/** 5.19.3: feature bits. */
export const virtio_pmem_features: ConstantGroup = featureBits("virtio_pmem_features", {
  VIRTIO_PMEM_F_SHMEM_REGION: {
    value: 0,
    doc: "The memory is described by shared memory region 0, not by start and size.",
  },
}, { doc: "5.19.3: PMEM device feature bits." });

/** 5.19.4: device configuration layout. */
export const virtio_pmem_config: StructType = struct("virtio_pmem_config", {
  start: addr(
    le64,
    "Guest-physical address of the persistent memory, without VIRTIO_PMEM_F_SHMEM_REGION.",
  ),
  size: field(le64, {
    accessor: "regionSize",
    doc: "Length of the address range in bytes, without VIRTIO_PMEM_F_SHMEM_REGION " +
      "(accessor `regionSize`: the accessor class has a `size` of its own).",
  }),
}, { doc: "5.19.4: PMEM device configuration space." });

/** 5.19.6: request types. */
export const virtio_pmem_req_type: ConstantGroup = enumeration("virtio_pmem_req_type", {
  VIRTIO_PMEM_REQ_TYPE_FLUSH: {
    value: 0,
    doc: "Make all writes completed before the request persistent.",
  },
}, { doc: "5.19.6: PMEM request types (VIRTIO_PMEM_REQ_TYPE_*)." });

/** 5.19.6: a request on req_vq. */
export const virtio_pmem_req: StructType = struct("virtio_pmem_req", {
  type: doc(le32, "Request type (VIRTIO_PMEM_REQ_TYPE_*)."),
}, { doc: "5.19.6: PMEM request." });

/** 5.19.7.2: a response on req_vq. */
export const virtio_pmem_resp: StructType = struct("virtio_pmem_resp", {
  ret: doc(le32, "0 for success, -1 (0xffffffff) for failure."),
}, { doc: "5.19.7.2: PMEM response." });
