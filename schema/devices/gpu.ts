/**
 * The GPU device (spec 5.7): configuration (5.7.4), the shared memory
 * region ids (5.7.5), the control header every request and response starts
 * with (5.7.6.7), and the controlq (5.7.6.8), 3D controlq (5.7.6.9) and
 * cursorq (5.7.6.10) request and response structures the spec shows, with
 * their codes. The 3D commands whose payload the spec does not show
 * (CTX_DESTROY, CTX_ATTACH/DETACH_RESOURCE, RESOURCE_CREATE_3D,
 * TRANSFER_TO/FROM_HOST_3D, SUBMIT_3D) have codes here but no structs.
 *
 * @module
 */
import {
  addr,
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  flags,
  le32,
  le64,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.7.3: GPU feature bits. */
export const virtio_gpu_features: ConstantGroup = featureBits("virtio_gpu_features", {
  VIRTIO_GPU_F_VIRGL: { value: 0, doc: "virgl 3D mode is supported." },
  VIRTIO_GPU_F_EDID: { value: 1, doc: "EDID is supported." },
  VIRTIO_GPU_F_RESOURCE_UUID: {
    value: 2,
    doc: "Resources can be given UUIDs for export to other virtio devices.",
  },
  VIRTIO_GPU_F_RESOURCE_BLOB: {
    value: 3,
    doc: "Size-based blob resources can be created and used.",
  },
  VIRTIO_GPU_F_CONTEXT_INIT: {
    value: 4,
    doc: "Multiple context types and synchronization timelines; requires VIRTIO_GPU_F_VIRGL.",
  },
  VIRTIO_GPU_F_BLOB_ALIGNMENT: {
    value: 5,
    doc: "blob_alignment in the configuration is valid; requires VIRTIO_GPU_F_RESOURCE_BLOB.",
  },
}, { doc: "5.7.3: GPU device feature bits." });

/** 5.7.4: bits of `events_read` and `events_clear`. */
export const virtio_gpu_events: ConstantGroup = flags("virtio_gpu_events", {
  VIRTIO_GPU_EVENT_DISPLAY: {
    value: 1 << 0,
    doc: "The display configuration changed; fetch it with VIRTIO_GPU_CMD_GET_DISPLAY_INFO.",
  },
}, { doc: "5.7.4.2: pending event bits of the GPU configuration." });

/** 5.7.4: the GPU device's configuration layout. */
export const virtio_gpu_config: StructType = struct("virtio_gpu_config", {
  events_read: doc(le32, "Pending events (VIRTIO_GPU_EVENT_*); read-only for the driver."),
  events_clear: doc(le32, "Write 1 bits to clear the matching bits of events_read."),
  num_scanouts: doc(le32, "Maximum number of scanouts, 1 to 16."),
  num_capsets: doc(le32, "Maximum number of capability sets, 0 or more."),
  blob_alignment: doc(
    le32,
    "With VIRTIO_GPU_F_BLOB_ALIGNMENT: minimal alignment of blob resources in bytes (a power of two).",
  ),
}, { doc: "5.7.4: GPU device configuration." });

/** 5.7.5: shared memory region ids of the GPU device. */
export const virtio_gpu_shm_id: ConstantGroup = enumeration("virtio_gpu_shm_id", {
  VIRTIO_GPU_SHM_ID_UNDEFINED: { value: 0, doc: "Undefined region." },
  VIRTIO_GPU_SHM_ID_HOST_VISIBLE: {
    value: 1,
    doc: "The host visible memory region, target of VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB.",
  },
}, { doc: "5.7.5: shared memory region ids (enum virtio_gpu_shm_id)." });

/** 5.7.6.7: command and response types of `virtio_gpu_ctrl_hdr.type`. */
export const virtio_gpu_ctrl_type: ConstantGroup = enumeration("virtio_gpu_ctrl_type", {
  // 2d commands
  VIRTIO_GPU_CMD_GET_DISPLAY_INFO: { value: 0x0100, doc: "Get the output configuration." },
  VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: { value: 0x0101, doc: "Create a 2D resource on the host." },
  VIRTIO_GPU_CMD_RESOURCE_UNREF: { value: 0x0102, doc: "Destroy a resource." },
  VIRTIO_GPU_CMD_SET_SCANOUT: { value: 0x0103, doc: "Set the scanout parameters of one output." },
  VIRTIO_GPU_CMD_RESOURCE_FLUSH: { value: 0x0104, doc: "Flush a resource to the screen." },
  VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: {
    value: 0x0105,
    doc: "Transfer from guest memory to a host resource.",
  },
  VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
    value: 0x0106,
    doc: "Attach backing pages to a resource.",
  },
  VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: {
    value: 0x0107,
    doc: "Detach backing pages from a resource.",
  },
  VIRTIO_GPU_CMD_GET_CAPSET_INFO: { value: 0x0108, doc: "Get information on a capability set." },
  VIRTIO_GPU_CMD_GET_CAPSET: { value: 0x0109, doc: "Get a capability set." },
  VIRTIO_GPU_CMD_GET_EDID: { value: 0x010a, doc: "Get the EDID of a scanout." },
  VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID: {
    value: 0x010b,
    doc: "Create an exported object (UUID) from a resource.",
  },
  VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB: { value: 0x010c, doc: "Create a blob resource." },
  VIRTIO_GPU_CMD_SET_SCANOUT_BLOB: {
    value: 0x010d,
    doc: "Set the scanout parameters for a blob resource.",
  },
  // 3d commands
  VIRTIO_GPU_CMD_CTX_CREATE: { value: 0x0200, doc: "Create a 3D context." },
  VIRTIO_GPU_CMD_CTX_DESTROY: { value: 0x0201, doc: "Destroy a 3D context." },
  VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE: {
    value: 0x0202,
    doc: "Attach a resource to a 3D context.",
  },
  VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE: {
    value: 0x0203,
    doc: "Detach a resource from a 3D context.",
  },
  VIRTIO_GPU_CMD_RESOURCE_CREATE_3D: { value: 0x0204, doc: "Create a 3D resource." },
  VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D: { value: 0x0205, doc: "Transfer data to a 3D resource." },
  VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D: {
    value: 0x0206,
    doc: "Transfer data from a 3D resource.",
  },
  VIRTIO_GPU_CMD_SUBMIT_3D: { value: 0x0207, doc: "Submit an opaque command stream." },
  VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB: {
    value: 0x0208,
    doc: "Map a host-only blob resource into the host visible memory region.",
  },
  VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB: {
    value: 0x0209,
    doc: "Unmap a blob resource from the host visible memory region.",
  },
  // cursor commands
  VIRTIO_GPU_CMD_UPDATE_CURSOR: { value: 0x0300, doc: "Set the cursor shape and position." },
  VIRTIO_GPU_CMD_MOVE_CURSOR: { value: 0x0301, doc: "Move the cursor." },
  // success responses
  VIRTIO_GPU_RESP_OK_NODATA: { value: 0x1100, doc: "Success, no payload." },
  VIRTIO_GPU_RESP_OK_DISPLAY_INFO: {
    value: 0x1101,
    doc: "Success, payload virtio_gpu_resp_display_info.",
  },
  VIRTIO_GPU_RESP_OK_CAPSET_INFO: {
    value: 0x1102,
    doc: "Success, payload virtio_gpu_resp_capset_info.",
  },
  VIRTIO_GPU_RESP_OK_CAPSET: { value: 0x1103, doc: "Success, payload virtio_gpu_resp_capset." },
  VIRTIO_GPU_RESP_OK_EDID: { value: 0x1104, doc: "Success, payload virtio_gpu_resp_edid." },
  VIRTIO_GPU_RESP_OK_RESOURCE_UUID: {
    value: 0x1105,
    doc: "Success, payload virtio_gpu_resp_resource_uuid.",
  },
  VIRTIO_GPU_RESP_OK_MAP_INFO: { value: 0x1106, doc: "Success, payload virtio_gpu_resp_map_info." },
  // error responses
  VIRTIO_GPU_RESP_ERR_UNSPEC: { value: 0x1200, doc: "Unspecified error." },
  VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY: { value: 0x1201, doc: "Out of memory." },
  VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID: { value: 0x1202, doc: "Invalid scanout id." },
  VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID: { value: 0x1203, doc: "Invalid resource id." },
  VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID: { value: 0x1204, doc: "Invalid context id." },
  VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER: { value: 0x1205, doc: "Invalid parameter." },
}, {
  doc: "5.7.6.7: GPU commands (VIRTIO_GPU_CMD_*) and responses (VIRTIO_GPU_RESP_*), " +
    "enum virtio_gpu_ctrl_type.",
});

/** 5.7.6.7: bits of `virtio_gpu_ctrl_hdr.flags`. */
export const virtio_gpu_ctrl_flags: ConstantGroup = flags("virtio_gpu_ctrl_flags", {
  VIRTIO_GPU_FLAG_FENCE: {
    value: 1 << 0,
    doc: "Respond only once processing is complete, echoing fence_id.",
  },
  VIRTIO_GPU_FLAG_INFO_RING_IDX: {
    value: 1 << 1,
    doc: "With VIRTIO_GPU_F_CONTEXT_INIT: ring_idx is valid.",
  },
}, { doc: "5.7.6.7: request and response flags of the control header." });

/** 5.7.6.7: the header of every GPU request and response. */
export const virtio_gpu_ctrl_hdr: StructType = struct("virtio_gpu_ctrl_hdr", {
  type: doc(le32, "Request (VIRTIO_GPU_CMD_*) or response (VIRTIO_GPU_RESP_*) type."),
  flags: doc(le32, "VIRTIO_GPU_FLAG_* flags."),
  fence_id: doc(
    le64,
    "With VIRTIO_GPU_FLAG_FENCE: fence to echo in the response (a sequence number with a ring).",
  ),
  ctx_id: doc(le32, "Rendering context (3D mode only)."),
  ring_idx: doc(
    u8,
    "With VIRTIO_GPU_FLAG_INFO_RING_IDX: context-specific ring index, 0 to 63.",
  ),
  padding: doc(array(u8, 3), "Padding."),
}, { doc: "5.7.6.7: control header of GPU requests and responses." });

/** 5.7.6.8: the number of `pmodes` entries in the display info response. */
export const virtio_gpu_limits: ConstantGroup = enumeration("virtio_gpu_limits", {
  VIRTIO_GPU_MAX_SCANOUTS: { value: 16, doc: "Maximum number of scanouts." },
}, { doc: "5.7.6.8: GPU limits." });

/** 5.7.6.8: a rectangle; 0,0 is top left. */
export const virtio_gpu_rect: StructType = struct("virtio_gpu_rect", {
  x: doc(le32, "Left edge; larger x moves right."),
  y: doc(le32, "Top edge; larger y moves down."),
  width: doc(le32, "Width."),
  height: doc(le32, "Height."),
}, { doc: "5.7.6.8: a rectangle in GPU coordinates." });

/** 5.7.6.8: one scanout's entry in the display info response. */
export const virtio_gpu_display_one: StructType = struct("virtio_gpu_display_one", {
  r: doc(virtio_gpu_rect, "Preferred position and size of the scanout."),
  enabled: doc(le32, "Nonzero when the user enabled the display (like a connected connector)."),
  flags: doc(le32, "Flags."),
}, { doc: "5.7.6.8: per-scanout information of virtio_gpu_resp_display_info." });

/** 5.7.6.8: response to VIRTIO_GPU_CMD_GET_DISPLAY_INFO. */
export const virtio_gpu_resp_display_info: StructType = struct("virtio_gpu_resp_display_info", {
  hdr: virtio_gpu_ctrl_hdr,
  pmodes: doc(
    array(virtio_gpu_display_one, 16),
    "One entry per scanout (VIRTIO_GPU_MAX_SCANOUTS).",
  ),
}, { doc: "5.7.6.8: VIRTIO_GPU_RESP_OK_DISPLAY_INFO payload: the current output configuration." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_GET_EDID. */
export const virtio_gpu_get_edid: StructType = struct("virtio_gpu_get_edid", {
  hdr: virtio_gpu_ctrl_hdr,
  scanout: doc(le32, "The scanout whose EDID is wanted."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_GET_EDID request (with VIRTIO_GPU_F_EDID)." });

/** 5.7.6.8: response to VIRTIO_GPU_CMD_GET_EDID. */
export const virtio_gpu_resp_edid: StructType = struct("virtio_gpu_resp_edid", {
  hdr: virtio_gpu_ctrl_hdr,
  size: field(le32, {
    accessor: "edidSize",
    doc: "Bytes of EDID data (accessor `edidSize`: `size` is taken by the accessor class).",
  }),
  padding: doc(le32, "Padding."),
  edid: doc(array(u8, 1024), "The EDID blob, as specified by VESA."),
}, { doc: "5.7.6.8: VIRTIO_GPU_RESP_OK_EDID payload." });

/** 5.7.6.8: pixel formats of 2D resources and blob scanouts. */
export const virtio_gpu_formats: ConstantGroup = enumeration("virtio_gpu_formats", {
  VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM: { value: 1, doc: "B8G8R8A8 unorm." },
  VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM: { value: 2, doc: "B8G8R8X8 unorm." },
  VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM: { value: 3, doc: "A8R8G8B8 unorm." },
  VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM: { value: 4, doc: "X8R8G8B8 unorm." },
  VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM: { value: 67, doc: "R8G8B8A8 unorm." },
  VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM: { value: 68, doc: "X8B8G8R8 unorm." },
  VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM: { value: 121, doc: "A8B8G8R8 unorm." },
  VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM: { value: 134, doc: "R8G8B8X8 unorm." },
}, { doc: "5.7.6.8: resource formats (enum virtio_gpu_formats)." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_CREATE_2D. */
export const virtio_gpu_resource_create_2d: StructType = struct("virtio_gpu_resource_create_2d", {
  hdr: virtio_gpu_ctrl_hdr,
  resource_id: doc(le32, "Resource id, chosen by the driver."),
  format: doc(le32, "VIRTIO_GPU_FORMAT_*."),
  width: doc(le32, "Width in pixels."),
  height: doc(le32, "Height in pixels."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_CREATE_2D request: create a 2D host resource." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_UNREF. */
export const virtio_gpu_resource_unref: StructType = struct("virtio_gpu_resource_unref", {
  hdr: virtio_gpu_ctrl_hdr,
  resource_id: doc(le32, "The resource the driver no longer needs."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_UNREF request: destroy a resource." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_SET_SCANOUT. */
export const virtio_gpu_set_scanout: StructType = struct("virtio_gpu_set_scanout", {
  hdr: virtio_gpu_ctrl_hdr,
  r: doc(virtio_gpu_rect, "The rectangle of the resource to scan out."),
  scanout_id: doc(le32, "The scanout."),
  resource_id: doc(le32, "The resource to scan out from; 0 disables the scanout."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_SET_SCANOUT request." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_FLUSH. */
export const virtio_gpu_resource_flush: StructType = struct("virtio_gpu_resource_flush", {
  hdr: virtio_gpu_ctrl_hdr,
  r: doc(virtio_gpu_rect, "The rectangle to flush."),
  resource_id: doc(le32, "The resource; every scanout using it is flushed."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_FLUSH request." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D. */
export const virtio_gpu_transfer_to_host_2d: StructType = struct(
  "virtio_gpu_transfer_to_host_2d",
  {
    hdr: virtio_gpu_ctrl_hdr,
    r: doc(virtio_gpu_rect, "The box to transfer."),
    offset: field(le64, {
      accessor: "resourceOffset",
      doc: "Destination offset into the resource " +
        "(accessor `resourceOffset`: `offset` is taken by the accessor class).",
    }),
    resource_id: doc(le32, "The resource."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.7.6.8: VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D request: guest memory to host resource." },
);

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING. */
export const virtio_gpu_resource_attach_backing: StructType = struct(
  "virtio_gpu_resource_attach_backing",
  {
    hdr: virtio_gpu_ctrl_hdr,
    resource_id: doc(le32, "The resource."),
    nr_entries: doc(le32, "Number of virtio_gpu_mem_entry entries that follow."),
  },
  {
    doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING request, followed by nr_entries " +
      "virtio_gpu_mem_entry entries.",
  },
);

/** 5.7.6.8: one backing page range of a resource. */
export const virtio_gpu_mem_entry: StructType = struct("virtio_gpu_mem_entry", {
  addr: addr(le64, "Guest address of the range."),
  length: doc(le32, "Length of the range in bytes."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.8: a scatter list entry of guest memory backing a resource." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING. */
export const virtio_gpu_resource_detach_backing: StructType = struct(
  "virtio_gpu_resource_detach_backing",
  {
    hdr: virtio_gpu_ctrl_hdr,
    resource_id: doc(le32, "The resource."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING request." },
);

/** 5.7.6.8: request of VIRTIO_GPU_CMD_GET_CAPSET_INFO. */
export const virtio_gpu_get_capset_info: StructType = struct("virtio_gpu_get_capset_info", {
  hdr: virtio_gpu_ctrl_hdr,
  capset_index: doc(le32, "Index of the capability set, below num_capsets."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_GET_CAPSET_INFO request." });

/** 5.7.6.8: capability set ids. */
export const virtio_gpu_capset_id: ConstantGroup = enumeration("virtio_gpu_capset_id", {
  VIRTIO_GPU_CAPSET_VIRGL: { value: 1, doc: "Virgl (Gallium OpenGL) protocol, first edition." },
  VIRTIO_GPU_CAPSET_VIRGL2: {
    value: 2,
    doc: "Virgl (Gallium OpenGL) protocol, second edition.",
  },
  VIRTIO_GPU_CAPSET_GFXSTREAM: {
    value: 3,
    doc: "gfxstream's GLES and Vulkan streaming protocols.",
  },
  VIRTIO_GPU_CAPSET_VENUS: { value: 4, doc: "Mesa's Venus Vulkan protocol." },
  VIRTIO_GPU_CAPSET_CROSS_DOMAIN: {
    value: 5,
    doc: "Cross-domain protocol: display virtualization via Wayland proxying.",
  },
}, { doc: "5.7.6.8: capability set ids (capset_id)." });

/** 5.7.6.8: response to VIRTIO_GPU_CMD_GET_CAPSET_INFO. */
export const virtio_gpu_resp_capset_info: StructType = struct("virtio_gpu_resp_capset_info", {
  hdr: virtio_gpu_ctrl_hdr,
  capset_id: doc(le32, "VIRTIO_GPU_CAPSET_*."),
  capset_max_version: doc(le32, "Highest version of the capability set."),
  capset_max_size: doc(le32, "Largest size of the capability set in bytes."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.8: VIRTIO_GPU_RESP_OK_CAPSET_INFO payload." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_GET_CAPSET. */
export const virtio_gpu_get_capset: StructType = struct("virtio_gpu_get_capset", {
  hdr: virtio_gpu_ctrl_hdr,
  capset_id: doc(le32, "VIRTIO_GPU_CAPSET_*."),
  capset_version: doc(le32, "Version wanted."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_GET_CAPSET request." });

/** 5.7.6.8: response to VIRTIO_GPU_CMD_GET_CAPSET. */
export const virtio_gpu_resp_capset: StructType = struct("virtio_gpu_resp_capset", {
  hdr: virtio_gpu_ctrl_hdr,
  capset_data: doc(array(u8, "capset_data_len"), "The capability set."),
}, { doc: "5.7.6.8: VIRTIO_GPU_RESP_OK_CAPSET payload." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID. */
export const virtio_gpu_resource_assign_uuid: StructType = struct(
  "virtio_gpu_resource_assign_uuid",
  {
    hdr: virtio_gpu_ctrl_hdr,
    resource_id: doc(le32, "The resource to export."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID request (VIRTIO_GPU_F_RESOURCE_UUID)." },
);

/** 5.7.6.8: response to VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID. */
export const virtio_gpu_resp_resource_uuid: StructType = struct("virtio_gpu_resp_resource_uuid", {
  hdr: virtio_gpu_ctrl_hdr,
  uuid: doc(array(u8, 16), "UUID of the exported object."),
}, { doc: "5.7.6.8: VIRTIO_GPU_RESP_OK_RESOURCE_UUID payload." });

/** 5.7.6.8: values of `blob_mem`. */
export const virtio_gpu_blob_mem: ConstantGroup = enumeration("virtio_gpu_blob_mem", {
  VIRTIO_GPU_BLOB_MEM_GUEST: { value: 0x0001, doc: "Guest-only blob resource." },
  VIRTIO_GPU_BLOB_MEM_HOST3D: {
    value: 0x0002,
    doc: "Host-only blob resource (requires VIRTIO_GPU_F_VIRGL).",
  },
  VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST: {
    value: 0x0003,
    doc: "Default blob resource: host memory with a guest shadow (requires VIRTIO_GPU_F_VIRGL).",
  },
}, { doc: "5.7.6.8: memory properties of a blob resource." });

/** 5.7.6.8: bits of `blob_flags`. */
export const virtio_gpu_blob_flags: ConstantGroup = flags("virtio_gpu_blob_flags", {
  VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE: { value: 0x0001, doc: "Used for memory access." },
  VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE: {
    value: 0x0002,
    doc: "Shared between driver instances.",
  },
  VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE: {
    value: 0x0004,
    doc: "Shared with other devices.",
  },
}, { doc: "5.7.6.8: how a blob resource is used." });

/** 5.7.6.8: request of VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB. */
export const virtio_gpu_resource_create_blob: StructType = struct(
  "virtio_gpu_resource_create_blob",
  {
    hdr: virtio_gpu_ctrl_hdr,
    resource_id: doc(le32, "Resource id, chosen by the driver."),
    blob_mem: doc(le32, "VIRTIO_GPU_BLOB_MEM_*; nonzero."),
    blob_flags: doc(le32, "VIRTIO_GPU_BLOB_FLAG_* bits."),
    nr_entries: doc(le32, "Number of virtio_gpu_mem_entry entries that follow (may be 0)."),
    blob_id: doc(le64, "For HOST3D memory: the context-local object to create the resource from."),
    size: field(le64, {
      accessor: "blobSize",
      doc: "Size in bytes; aligned to blob_alignment with VIRTIO_GPU_F_BLOB_ALIGNMENT " +
        "(accessor `blobSize`: `size` is taken by the accessor class).",
    }),
  },
  {
    doc: "5.7.6.8: VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB request, followed by nr_entries " +
      "virtio_gpu_mem_entry entries.",
  },
);

/** 5.7.6.8: request of VIRTIO_GPU_CMD_SET_SCANOUT_BLOB. */
export const virtio_gpu_set_scanout_blob: StructType = struct("virtio_gpu_set_scanout_blob", {
  hdr: virtio_gpu_ctrl_hdr,
  r: doc(virtio_gpu_rect, "The displayed portion of the blob resource."),
  scanout_id: doc(le32, "The scanout."),
  resource_id: doc(le32, "The blob resource."),
  width: doc(le32, "Width of the blob image."),
  height: doc(le32, "Height of the blob image."),
  format: doc(le32, "VIRTIO_GPU_FORMAT_*."),
  padding: doc(le32, "Padding."),
  strides: doc(array(le32, 4), "Stride of each plane."),
  offsets: doc(array(le32, 4), "Offset of each plane."),
}, { doc: "5.7.6.8: VIRTIO_GPU_CMD_SET_SCANOUT_BLOB request (VIRTIO_GPU_F_RESOURCE_BLOB)." });

/** 5.7.6.9: masks of `context_init` and `map_info`. */
export const virtio_gpu_masks: ConstantGroup = flags("virtio_gpu_masks", {
  VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK: {
    value: 0x000000ff,
    doc: "Bits of context_init holding the capset_id of the context.",
  },
  VIRTIO_GPU_MAP_CACHE_MASK: {
    value: 0x0f,
    doc: "Bits of map_info holding the caching type (VIRTIO_GPU_MAP_CACHE_*).",
  },
}, { doc: "5.7.6.9: field masks of the 3D commands." });

/** 5.7.6.9: request of VIRTIO_GPU_CMD_CTX_CREATE. */
export const virtio_gpu_ctx_create: StructType = struct("virtio_gpu_ctx_create", {
  hdr: virtio_gpu_ctrl_hdr,
  nlen: doc(le32, "Length of debug_name."),
  context_init: doc(
    le32,
    "With VIRTIO_GPU_F_CONTEXT_INIT: capset_id in the low 8 bits; 0 lets the device choose.",
  ),
  debug_name: doc(array(u8, 64), "Name for debugging (char[64])."),
}, { doc: "5.7.6.9: VIRTIO_GPU_CMD_CTX_CREATE request: create the context hdr.ctx_id." });

/** 5.7.6.9: request of VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB. */
export const virtio_gpu_resource_map_blob: StructType = struct("virtio_gpu_resource_map_blob", {
  hdr: virtio_gpu_ctrl_hdr,
  resource_id: doc(le32, "The host-only blob resource."),
  padding: doc(le32, "Padding."),
  offset: field(le64, {
    accessor: "regionOffset",
    doc: "Offset in the host visible memory region; aligned to blob_alignment with " +
      "VIRTIO_GPU_F_BLOB_ALIGNMENT (accessor `regionOffset`: `offset` is taken by the " +
      "accessor class).",
  }),
}, { doc: "5.7.6.9: VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB request." });

/** 5.7.6.9: caching types in `map_info`. */
export const virtio_gpu_map_cache: ConstantGroup = enumeration("virtio_gpu_map_cache", {
  VIRTIO_GPU_MAP_CACHE_NONE: { value: 0x00, doc: "No caching type given." },
  VIRTIO_GPU_MAP_CACHE_CACHED: { value: 0x01, doc: "Cached." },
  VIRTIO_GPU_MAP_CACHE_UNCACHED: { value: 0x02, doc: "Uncached." },
  VIRTIO_GPU_MAP_CACHE_WC: { value: 0x03, doc: "Write-combined." },
}, { doc: "5.7.6.9: caching type of a mapped blob (map_info & VIRTIO_GPU_MAP_CACHE_MASK)." });

/** 5.7.6.9: response to VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB. */
export const virtio_gpu_resp_map_info: StructType = struct("virtio_gpu_resp_map_info", {
  hdr: virtio_gpu_ctrl_hdr,
  map_info: doc(le32, "Caching type of the mapping (VIRTIO_GPU_MAP_CACHE_*); spec type u32."),
  padding: doc(le32, "Padding; spec type u32."),
}, { doc: "5.7.6.9: VIRTIO_GPU_RESP_OK_MAP_INFO payload." });

/** 5.7.6.9: request of VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB. */
export const virtio_gpu_resource_unmap_blob: StructType = struct(
  "virtio_gpu_resource_unmap_blob",
  {
    hdr: virtio_gpu_ctrl_hdr,
    resource_id: doc(le32, "The blob resource."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.7.6.9: VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB request." },
);

/** 5.7.6.10: a cursor position. */
export const virtio_gpu_cursor_pos: StructType = struct("virtio_gpu_cursor_pos", {
  scanout_id: doc(le32, "The scanout."),
  x: doc(le32, "X position."),
  y: doc(le32, "Y position."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.10: cursor position on a scanout." });

/** 5.7.6.10: request of VIRTIO_GPU_CMD_UPDATE_CURSOR and VIRTIO_GPU_CMD_MOVE_CURSOR. */
export const virtio_gpu_update_cursor: StructType = struct("virtio_gpu_update_cursor", {
  hdr: virtio_gpu_ctrl_hdr,
  pos: doc(virtio_gpu_cursor_pos, "Where to put the cursor."),
  resource_id: doc(le32, "The 64x64 cursor image resource (UPDATE_CURSOR only)."),
  hot_x: doc(le32, "Hot spot x (UPDATE_CURSOR only)."),
  hot_y: doc(le32, "Hot spot y (UPDATE_CURSOR only)."),
  padding: doc(le32, "Padding."),
}, { doc: "5.7.6.10: cursorq request, shared by UPDATE_CURSOR and MOVE_CURSOR." });
