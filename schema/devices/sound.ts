/**
 * The sound device (spec 5.14): configuration, control messages for jacks,
 * PCM streams, channel maps and control elements, event notifications, PCM
 * I/O headers, and their code tables.
 *
 * Queues: 0 controlq, 1 eventq, 2 txq, 3 rxq.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "../dsl.ts";

/** 5.14.2: virtqueue indices. */
export const virtio_snd_queues: ConstantGroup = enumeration("virtio_snd_queues", {
  controlq: { value: 0, doc: "Control messages from the driver." },
  eventq: { value: 1, doc: "Notifications from the device." },
  txq: { value: 2, doc: "PCM frames of output streams." },
  rxq: { value: 3, doc: "PCM frames of input streams." },
}, { doc: "5.14.2: virtqueue indices of the sound device.", exportMembers: false });

/** 5.14.3: feature bits. */
export const virtio_snd_features: ConstantGroup = featureBits("virtio_snd_features", {
  VIRTIO_SND_F_CTLS: { value: 0, doc: "The device supports control elements." },
}, { doc: "5.14.3: sound device feature bits." });

/** 5.14.4: device configuration layout. */
export const virtio_snd_config: StructType = struct("virtio_snd_config", {
  jacks: doc(le32, "Number of jacks (read-only)."),
  streams: doc(le32, "Number of PCM streams (read-only)."),
  chmaps: doc(le32, "Number of channel maps (read-only)."),
  controls: doc(
    le32,
    "Number of control elements (read-only); only valid with VIRTIO_SND_F_CTLS.",
  ),
}, { doc: "5.14.4: sound device configuration space." });

/** 5.14.6: control request types (header `code` of a request). */
export const virtio_snd_req_type: ConstantGroup = enumeration("virtio_snd_req_type", {
  VIRTIO_SND_R_JACK_INFO: { value: 1, doc: "Query jack information." },
  VIRTIO_SND_R_JACK_REMAP: { value: 2, doc: "Change a jack's association and sequence." },
  VIRTIO_SND_R_PCM_INFO: { value: 0x0100, doc: "Query PCM stream information." },
  VIRTIO_SND_R_PCM_SET_PARAMS: { value: 0x0101, doc: "Set stream parameters." },
  VIRTIO_SND_R_PCM_PREPARE: { value: 0x0102, doc: "Prepare a stream." },
  VIRTIO_SND_R_PCM_RELEASE: { value: 0x0103, doc: "Release a stream." },
  VIRTIO_SND_R_PCM_START: { value: 0x0104, doc: "Start a stream." },
  VIRTIO_SND_R_PCM_STOP: { value: 0x0105, doc: "Stop a stream." },
  VIRTIO_SND_R_CHMAP_INFO: { value: 0x0200, doc: "Query channel map information." },
  VIRTIO_SND_R_CTL_INFO: { value: 0x0300, doc: "Query control element information." },
  VIRTIO_SND_R_CTL_ENUM_ITEMS: {
    value: 0x0301,
    doc: "Query the item names of an ENUMERATED element.",
  },
  VIRTIO_SND_R_CTL_READ: { value: 0x0302, doc: "Read an element's value." },
  VIRTIO_SND_R_CTL_WRITE: { value: 0x0303, doc: "Write an element's value." },
  VIRTIO_SND_R_CTL_TLV_READ: { value: 0x0304, doc: "Read an element's metadata." },
  VIRTIO_SND_R_CTL_TLV_WRITE: { value: 0x0305, doc: "Write an element's metadata." },
  VIRTIO_SND_R_CTL_TLV_COMMAND: { value: 0x0306, doc: "Run a metadata command." },
}, { doc: "5.14.6: sound control request types (VIRTIO_SND_R_*)." });

/** 5.14.6: event types (header `code` of an event). */
export const virtio_snd_evt_type: ConstantGroup = enumeration("virtio_snd_evt_type", {
  VIRTIO_SND_EVT_JACK_CONNECTED: {
    value: 0x1000,
    doc: "An external device was plugged into the jack in `data`.",
  },
  VIRTIO_SND_EVT_JACK_DISCONNECTED: {
    value: 0x1001,
    doc: "An external device was unplugged from the jack in `data`.",
  },
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED: {
    value: 0x1100,
    doc: "A hardware buffer period of the stream in `data` has elapsed.",
  },
  VIRTIO_SND_EVT_PCM_XRUN: {
    value: 0x1101,
    doc: "Underflow (output) or overflow (input) of the stream in `data`.",
  },
  VIRTIO_SND_EVT_CTL_NOTIFY: { value: 0x1200, doc: "A control element changed." },
}, { doc: "5.14.6: sound event types (VIRTIO_SND_EVT_*)." });

/** 5.14.6: status codes (header `code` of a response). */
export const virtio_snd_status: ConstantGroup = enumeration("virtio_snd_status", {
  VIRTIO_SND_S_OK: { value: 0x8000, doc: "Success." },
  VIRTIO_SND_S_BAD_MSG: { value: 0x8001, doc: "Malformed message or invalid parameters." },
  VIRTIO_SND_S_NOT_SUPP: { value: 0x8002, doc: "Operation or parameters not supported." },
  VIRTIO_SND_S_IO_ERR: { value: 0x8003, doc: "An I/O error occurred." },
}, { doc: "5.14.6: sound status codes (VIRTIO_SND_S_*)." });

/** 5.14.6: data flow directions. */
export const virtio_snd_direction: ConstantGroup = enumeration("virtio_snd_direction", {
  VIRTIO_SND_D_OUTPUT: { value: 0, doc: "Output (playback)." },
  VIRTIO_SND_D_INPUT: { value: 1, doc: "Input (capture)." },
}, { doc: "5.14.6: data flow directions (VIRTIO_SND_D_*)." });

/** 5.14.6: the common header of requests and responses. */
export const virtio_snd_hdr: StructType = struct("virtio_snd_hdr", {
  code: doc(le32, "Request type (VIRTIO_SND_R_*) or response status (VIRTIO_SND_S_*)."),
}, { doc: "5.14.6: common header of control requests and responses." });

/** 5.14.6: an event notification on the eventq. */
export const virtio_snd_event: StructType = struct("virtio_snd_event", {
  hdr: doc(virtio_snd_hdr, "Event type (VIRTIO_SND_EVT_*)."),
  data: doc(le32, "Optional event data: a jack or stream id."),
}, { doc: "5.14.6: event notification written by the device." });

/** 5.14.6.1: the item information request. */
export const virtio_snd_query_info: StructType = struct("virtio_snd_query_info", {
  hdr: doc(virtio_snd_hdr, "The item request type (VIRTIO_SND_R_*_INFO)."),
  start_id: doc(le32, "First item id to query."),
  count: doc(le32, "Number of items to query."),
  size: field(le32, {
    accessor: "itemSize",
    doc: "Size of one item's information structure, for compatibility (accessor `itemSize`: " +
      "the accessor class has a `size` of its own).",
  }),
}, {
  doc: "5.14.6.1: request for information on a range of items; the response is a " +
    "virtio_snd_hdr and `count` structures of `size` bytes.",
});

/** 5.14.6.1: the header of every item information structure. */
export const virtio_snd_info: StructType = struct("virtio_snd_info", {
  hda_fn_nid: doc(
    le32,
    "HDA function group node id, linking related items (jacks, streams, channel maps).",
  ),
}, { doc: "5.14.6.1: common header of item information structures." });

/** 5.14.6.4: the header of jack control requests. */
export const virtio_snd_jack_hdr: StructType = struct("virtio_snd_jack_hdr", {
  hdr: doc(virtio_snd_hdr, "Request type (VIRTIO_SND_R_JACK_*)."),
  jack_id: doc(le32, "Jack id, 0 to jacks - 1."),
}, { doc: "5.14.6.4: common header of jack control requests." });

/** 5.14.6.4.1: jack feature bits (bit numbers in `virtio_snd_jack_info.features`). */
export const virtio_snd_jack_features: ConstantGroup = featureBits(
  "virtio_snd_jack_features",
  {
    VIRTIO_SND_JACK_F_REMAP: { value: 0, doc: "The jack supports remapping." },
  },
  { doc: "5.14.6.4.1: jack feature bit numbers (1 << VIRTIO_SND_JACK_F_*)." },
);

/** 5.14.6.4.1: jack information. */
export const virtio_snd_jack_info: StructType = struct("virtio_snd_jack_info", {
  hdr: doc(virtio_snd_info, "Common item information header."),
  features: doc(le32, "Supported jack features (1 << VIRTIO_SND_JACK_F_*)."),
  hda_reg_defconf: doc(le32, "HDA pin default configuration value."),
  hda_reg_caps: doc(le32, "HDA pin capabilities value."),
  connected: doc(u8, "Connection status: 1 connected, 0 disconnected."),
  padding: doc(array(u8, 7), "Zero."),
}, { doc: "5.14.6.4.1: information on one jack (response to VIRTIO_SND_R_JACK_INFO)." });

/** 5.14.6.4.2: the jack remap request. */
export const virtio_snd_jack_remap: StructType = struct("virtio_snd_jack_remap", {
  hdr: doc(virtio_snd_jack_hdr, "Header with code VIRTIO_SND_R_JACK_REMAP."),
  association: doc(le32, "Selected association number."),
  sequence: doc(le32, "Selected sequence number."),
}, { doc: "5.14.6.4.2: request to change a jack's association and sequence number." });

/** 5.14.6.6: the header of PCM control requests. */
export const virtio_snd_pcm_hdr: StructType = struct("virtio_snd_pcm_hdr", {
  hdr: doc(virtio_snd_hdr, "Request type (VIRTIO_SND_R_PCM_*)."),
  stream_id: doc(le32, "PCM stream id, 0 to streams - 1."),
}, {
  doc: "5.14.6.6: common header of PCM control requests; also the whole PREPARE, " +
    "RELEASE, START and STOP requests.",
});

/** 5.14.6.6.2: PCM stream feature bits. */
export const virtio_snd_pcm_features: ConstantGroup = featureBits("virtio_snd_pcm_features", {
  VIRTIO_SND_PCM_F_SHMEM_HOST: {
    value: 0,
    doc: "Host memory shared with the guest (placeholder; not to be selected).",
  },
  VIRTIO_SND_PCM_F_SHMEM_GUEST: {
    value: 1,
    doc: "Guest memory shared with the host (placeholder; not to be selected).",
  },
  VIRTIO_SND_PCM_F_MSG_POLLING: {
    value: 2,
    doc: "Polling mode for message transport: no available buffer notifications on tx/rx.",
  },
  VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS: {
    value: 3,
    doc: "Elapsed period notifications for shared memory transport.",
  },
  VIRTIO_SND_PCM_F_EVT_XRUNS: { value: 4, doc: "Underrun/overrun notifications." },
}, { doc: "5.14.6.6.2: PCM stream feature bit numbers (1 << VIRTIO_SND_PCM_F_*)." });

/** 5.14.6.6.2: PCM sample formats. */
export const virtio_snd_pcm_format: ConstantGroup = enumeration("virtio_snd_pcm_format", {
  VIRTIO_SND_PCM_FMT_IMA_ADPCM: { value: 0, doc: "Analog, 4 bits in 4." },
  VIRTIO_SND_PCM_FMT_MU_LAW: { value: 1, doc: "Analog, 8 bits in 8." },
  VIRTIO_SND_PCM_FMT_A_LAW: { value: 2, doc: "Analog, 8 bits in 8." },
  VIRTIO_SND_PCM_FMT_S8: { value: 3, doc: "Analog, 8 bits in 8." },
  VIRTIO_SND_PCM_FMT_U8: { value: 4, doc: "Analog, 8 bits in 8." },
  VIRTIO_SND_PCM_FMT_S16: { value: 5, doc: "Analog, 16 bits in 16." },
  VIRTIO_SND_PCM_FMT_U16: { value: 6, doc: "Analog, 16 bits in 16." },
  VIRTIO_SND_PCM_FMT_S18_3: { value: 7, doc: "Analog, 18 bits in 24." },
  VIRTIO_SND_PCM_FMT_U18_3: { value: 8, doc: "Analog, 18 bits in 24." },
  VIRTIO_SND_PCM_FMT_S20_3: { value: 9, doc: "Analog, 20 bits in 24." },
  VIRTIO_SND_PCM_FMT_U20_3: { value: 10, doc: "Analog, 20 bits in 24." },
  VIRTIO_SND_PCM_FMT_S24_3: { value: 11, doc: "Analog, 24 bits in 24." },
  VIRTIO_SND_PCM_FMT_U24_3: { value: 12, doc: "Analog, 24 bits in 24." },
  VIRTIO_SND_PCM_FMT_S20: { value: 13, doc: "Analog, 20 bits in 32." },
  VIRTIO_SND_PCM_FMT_U20: { value: 14, doc: "Analog, 20 bits in 32." },
  VIRTIO_SND_PCM_FMT_S24: { value: 15, doc: "Analog, 24 bits in 32." },
  VIRTIO_SND_PCM_FMT_U24: { value: 16, doc: "Analog, 24 bits in 32." },
  VIRTIO_SND_PCM_FMT_S32: { value: 17, doc: "Analog, 32 bits in 32." },
  VIRTIO_SND_PCM_FMT_U32: { value: 18, doc: "Analog, 32 bits in 32." },
  VIRTIO_SND_PCM_FMT_FLOAT: { value: 19, doc: "Analog, 32 bits in 32." },
  VIRTIO_SND_PCM_FMT_FLOAT64: { value: 20, doc: "Analog, 64 bits in 64." },
  VIRTIO_SND_PCM_FMT_DSD_U8: { value: 21, doc: "Digital, 8 bits in 8." },
  VIRTIO_SND_PCM_FMT_DSD_U16: { value: 22, doc: "Digital, 16 bits in 16." },
  VIRTIO_SND_PCM_FMT_DSD_U32: { value: 23, doc: "Digital, 32 bits in 32." },
  VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME: { value: 24, doc: "Digital, 32 bits in 32." },
}, {
  doc: "5.14.6.6.2: PCM sample formats (width / physical width in the docs): codes in " +
    "`format`, bit numbers in `formats`.",
});

/** 5.14.6.6.2: PCM frame rates. */
export const virtio_snd_pcm_rate: ConstantGroup = enumeration("virtio_snd_pcm_rate", {
  VIRTIO_SND_PCM_RATE_5512: { value: 0, doc: "5512 Hz." },
  VIRTIO_SND_PCM_RATE_8000: { value: 1, doc: "8000 Hz." },
  VIRTIO_SND_PCM_RATE_11025: { value: 2, doc: "11025 Hz." },
  VIRTIO_SND_PCM_RATE_16000: { value: 3, doc: "16000 Hz." },
  VIRTIO_SND_PCM_RATE_22050: { value: 4, doc: "22050 Hz." },
  VIRTIO_SND_PCM_RATE_32000: { value: 5, doc: "32000 Hz." },
  VIRTIO_SND_PCM_RATE_44100: { value: 6, doc: "44100 Hz." },
  VIRTIO_SND_PCM_RATE_48000: { value: 7, doc: "48000 Hz." },
  VIRTIO_SND_PCM_RATE_64000: { value: 8, doc: "64000 Hz." },
  VIRTIO_SND_PCM_RATE_88200: { value: 9, doc: "88200 Hz." },
  VIRTIO_SND_PCM_RATE_96000: { value: 10, doc: "96000 Hz." },
  VIRTIO_SND_PCM_RATE_176400: { value: 11, doc: "176400 Hz." },
  VIRTIO_SND_PCM_RATE_192000: { value: 12, doc: "192000 Hz." },
  VIRTIO_SND_PCM_RATE_384000: { value: 13, doc: "384000 Hz." },
  VIRTIO_SND_PCM_RATE_12000: { value: 14, doc: "12000 Hz." },
  VIRTIO_SND_PCM_RATE_24000: { value: 15, doc: "24000 Hz." },
}, { doc: "5.14.6.6.2: PCM frame rates: codes in `rate`, bit numbers in `rates`." });

/** 5.14.6.6.2: PCM stream information. */
export const virtio_snd_pcm_info: StructType = struct("virtio_snd_pcm_info", {
  hdr: doc(virtio_snd_info, "Common item information header."),
  features: doc(le32, "Supported features (1 << VIRTIO_SND_PCM_F_*)."),
  formats: doc(le64, "Supported sample formats (1 << VIRTIO_SND_PCM_FMT_*)."),
  rates: doc(le64, "Supported frame rates (1 << VIRTIO_SND_PCM_RATE_*)."),
  direction: doc(u8, "Data flow direction (VIRTIO_SND_D_*)."),
  channels_min: doc(u8, "Minimum number of channels."),
  channels_max: doc(u8, "Maximum number of channels."),
  padding: doc(array(u8, 5), "Zero."),
}, {
  doc: "5.14.6.6.2: information on one PCM stream (response to VIRTIO_SND_R_PCM_INFO); " +
    "samples are interleaved.",
});

/** 5.14.6.6.3: the set stream parameters request. */
export const virtio_snd_pcm_set_params: StructType = struct("virtio_snd_pcm_set_params", {
  hdr: doc(virtio_snd_pcm_hdr, "Header with code VIRTIO_SND_R_PCM_SET_PARAMS."),
  buffer_bytes: doc(le32, "Size of the driver's hardware buffer."),
  period_bytes: doc(le32, "Size of the driver's hardware period; divides buffer_bytes."),
  features: doc(le32, "Selected features (1 << VIRTIO_SND_PCM_F_*)."),
  channels: doc(u8, "Selected number of channels."),
  format: doc(u8, "Selected sample format (VIRTIO_SND_PCM_FMT_*)."),
  rate: doc(u8, "Selected frame rate (VIRTIO_SND_PCM_RATE_*)."),
  padding: doc(u8, "Zero."),
}, { doc: "5.14.6.6.3: request to set a stream's parameters." });

/** 5.14.6.8: the header of a PCM I/O message. */
export const virtio_snd_pcm_xfer: StructType = struct("virtio_snd_pcm_xfer", {
  stream_id: doc(le32, "PCM stream id, 0 to streams - 1."),
}, {
  doc: "5.14.6.8: I/O message header on txq/rxq, followed by the PCM frames and a " +
    "virtio_snd_pcm_status.",
});

/** 5.14.6.8: the status of a PCM I/O message. */
export const virtio_snd_pcm_status: StructType = struct("virtio_snd_pcm_status", {
  status: doc(le32, "VIRTIO_SND_S_OK on success, VIRTIO_SND_S_IO_ERR otherwise."),
  latency_bytes: doc(le32, "Current device latency."),
}, { doc: "5.14.6.8: I/O message status written by the device." });

/** 5.14.6.9.1: standard channel positions. */
export const virtio_snd_chmap_position: ConstantGroup = enumeration(
  "virtio_snd_chmap_position",
  {
    VIRTIO_SND_CHMAP_NONE: { value: 0, doc: "Undefined." },
    VIRTIO_SND_CHMAP_NA: { value: 1, doc: "Silent." },
    VIRTIO_SND_CHMAP_MONO: { value: 2, doc: "Mono stream." },
    VIRTIO_SND_CHMAP_FL: { value: 3, doc: "Front left." },
    VIRTIO_SND_CHMAP_FR: { value: 4, doc: "Front right." },
    VIRTIO_SND_CHMAP_RL: { value: 5, doc: "Rear left." },
    VIRTIO_SND_CHMAP_RR: { value: 6, doc: "Rear right." },
    VIRTIO_SND_CHMAP_FC: { value: 7, doc: "Front center." },
    VIRTIO_SND_CHMAP_LFE: { value: 8, doc: "Low frequency effects." },
    VIRTIO_SND_CHMAP_SL: { value: 9, doc: "Side left." },
    VIRTIO_SND_CHMAP_SR: { value: 10, doc: "Side right." },
    VIRTIO_SND_CHMAP_RC: { value: 11, doc: "Rear center." },
    VIRTIO_SND_CHMAP_FLC: { value: 12, doc: "Front left center." },
    VIRTIO_SND_CHMAP_FRC: { value: 13, doc: "Front right center." },
    VIRTIO_SND_CHMAP_RLC: { value: 14, doc: "Rear left center." },
    VIRTIO_SND_CHMAP_RRC: { value: 15, doc: "Rear right center." },
    VIRTIO_SND_CHMAP_FLW: { value: 16, doc: "Front left wide." },
    VIRTIO_SND_CHMAP_FRW: { value: 17, doc: "Front right wide." },
    VIRTIO_SND_CHMAP_FLH: { value: 18, doc: "Front left high." },
    VIRTIO_SND_CHMAP_FCH: { value: 19, doc: "Front center high." },
    VIRTIO_SND_CHMAP_FRH: { value: 20, doc: "Front right high." },
    VIRTIO_SND_CHMAP_TC: { value: 21, doc: "Top center." },
    VIRTIO_SND_CHMAP_TFL: { value: 22, doc: "Top front left." },
    VIRTIO_SND_CHMAP_TFR: { value: 23, doc: "Top front right." },
    VIRTIO_SND_CHMAP_TFC: { value: 24, doc: "Top front center." },
    VIRTIO_SND_CHMAP_TRL: { value: 25, doc: "Top rear left." },
    VIRTIO_SND_CHMAP_TRR: { value: 26, doc: "Top rear right." },
    VIRTIO_SND_CHMAP_TRC: { value: 27, doc: "Top rear center." },
    VIRTIO_SND_CHMAP_TFLC: { value: 28, doc: "Top front left center." },
    VIRTIO_SND_CHMAP_TFRC: { value: 29, doc: "Top front right center." },
    VIRTIO_SND_CHMAP_TSL: { value: 30, doc: "Top side left." },
    VIRTIO_SND_CHMAP_TSR: { value: 31, doc: "Top side right." },
    VIRTIO_SND_CHMAP_LLFE: { value: 32, doc: "Left LFE." },
    VIRTIO_SND_CHMAP_RLFE: { value: 33, doc: "Right LFE." },
    VIRTIO_SND_CHMAP_BC: { value: 34, doc: "Bottom center." },
    VIRTIO_SND_CHMAP_BLC: { value: 35, doc: "Bottom left center." },
    VIRTIO_SND_CHMAP_BRC: { value: 36, doc: "Bottom right center." },
  },
  { doc: "5.14.6.9.1: standard channel positions (VIRTIO_SND_CHMAP_*)." },
);

/** 5.14.6.9.1: the size of a channel map. */
export const virtio_snd_chmap_limits: ConstantGroup = enumeration("virtio_snd_chmap_limits", {
  VIRTIO_SND_CHMAP_MAX_SIZE: { value: 18, doc: "Maximum possible number of channels." },
}, { doc: "5.14.6.9.1: channel map limits." });

/** 5.14.6.9.1: channel map information. */
export const virtio_snd_chmap_info: StructType = struct("virtio_snd_chmap_info", {
  hdr: doc(virtio_snd_info, "Common item information header."),
  direction: doc(u8, "Data flow direction (VIRTIO_SND_D_*)."),
  channels: doc(u8, "Number of valid entries in positions (at most VIRTIO_SND_CHMAP_MAX_SIZE)."),
  positions: doc(array(u8, 18), "Channel positions (VIRTIO_SND_CHMAP_*)."),
}, {
  doc: "5.14.6.9.1: information on one channel map (response to VIRTIO_SND_R_CHMAP_INFO).",
});

/** 5.14.6.10: the header of control element requests. */
export const virtio_snd_ctl_hdr: StructType = struct("virtio_snd_ctl_hdr", {
  hdr: doc(virtio_snd_hdr, "Request type (VIRTIO_SND_R_CTL_*)."),
  control_id: doc(le32, "Control element id, 0 to controls - 1."),
}, {
  doc: "5.14.6.10: common header of control element requests; also the whole " +
    "VIRTIO_SND_R_CTL_ENUM_ITEMS request.",
});

/** 5.14.6.10.1: control element roles. */
export const virtio_snd_ctl_role: ConstantGroup = enumeration("virtio_snd_ctl_role", {
  VIRTIO_SND_CTL_ROLE_UNDEFINED: { value: 0, doc: "No particular role." },
  VIRTIO_SND_CTL_ROLE_VOLUME: { value: 1, doc: "Volume control." },
  VIRTIO_SND_CTL_ROLE_MUTE: { value: 2, doc: "Mute switch." },
  VIRTIO_SND_CTL_ROLE_GAIN: { value: 3, doc: "Gain control." },
}, {
  doc: "5.14.6.10.1: control element roles, stored in `role` bits 1..31 " +
    "((role & 0xfffffffe) >> 1).",
});

/** 5.14.6.10.1: control element value types. */
export const virtio_snd_ctl_type: ConstantGroup = enumeration("virtio_snd_ctl_type", {
  VIRTIO_SND_CTL_TYPE_BOOLEAN: { value: 0, doc: "0 (off) or 1 (on); at most 128 members." },
  VIRTIO_SND_CTL_TYPE_INTEGER: { value: 1, doc: "32-bit integers; at most 128 members." },
  VIRTIO_SND_CTL_TYPE_INTEGER64: { value: 2, doc: "64-bit integers; at most 64 members." },
  VIRTIO_SND_CTL_TYPE_ENUMERATED: {
    value: 3,
    doc: "Indexes into a list of ASCII item names; at most 128 members.",
  },
  VIRTIO_SND_CTL_TYPE_BYTES: { value: 4, doc: "8-bit integers; at most 512 members." },
  VIRTIO_SND_CTL_TYPE_IEC958: {
    value: 5,
    doc: "A virtio_snd_ctl_iec958 (digital audio interface); exactly 1 member.",
  },
}, { doc: "5.14.6.10.1: control element value types (VIRTIO_SND_CTL_TYPE_*)." });

/** 5.14.6.10.1: control element access rights (bit numbers in `access`). */
export const virtio_snd_ctl_access: ConstantGroup = featureBits("virtio_snd_ctl_access", {
  VIRTIO_SND_CTL_ACCESS_READ: { value: 0, doc: "The value can be read." },
  VIRTIO_SND_CTL_ACCESS_WRITE: { value: 1, doc: "The value can be written." },
  VIRTIO_SND_CTL_ACCESS_VOLATILE: {
    value: 2,
    doc: "The value may change without a notification.",
  },
  VIRTIO_SND_CTL_ACCESS_INACTIVE: {
    value: 3,
    doc: "The element does nothing, but may be updated.",
  },
  VIRTIO_SND_CTL_ACCESS_TLV_READ: { value: 4, doc: "The metadata can be read." },
  VIRTIO_SND_CTL_ACCESS_TLV_WRITE: { value: 5, doc: "The metadata can be written." },
  VIRTIO_SND_CTL_ACCESS_TLV_COMMAND: {
    value: 6,
    doc: "A metadata command can be executed.",
  },
}, { doc: "5.14.6.10.1: control element access bit numbers (1 << VIRTIO_SND_CTL_ACCESS_*)." });

/** 5.14.6.10.1: `value.integer` of `virtio_snd_ctl_info` (anonymous in the spec). */
export const virtio_snd_ctl_info_value_integer: StructType = struct(
  "virtio_snd_ctl_info_value_integer",
  {
    min: doc(le32, "Minimum value."),
    max: doc(le32, "Maximum value."),
    step: doc(le32, "Fixed step between min and max; 0 for a variable step."),
  },
  { doc: "5.14.6.10.1: value range of an INTEGER or BOOLEAN element (anonymous struct)." },
);

/** 5.14.6.10.1: `value.integer64` of `virtio_snd_ctl_info` (anonymous in the spec). */
export const virtio_snd_ctl_info_value_integer64: StructType = struct(
  "virtio_snd_ctl_info_value_integer64",
  {
    min: doc(le64, "Minimum value."),
    max: doc(le64, "Maximum value."),
    step: doc(le64, "Fixed step between min and max; 0 for a variable step."),
  },
  { doc: "5.14.6.10.1: value range of an INTEGER64 element (anonymous struct)." },
);

/** 5.14.6.10.1: `value.enumerated` of `virtio_snd_ctl_info` (anonymous in the spec). */
export const virtio_snd_ctl_info_value_enumerated: StructType = struct(
  "virtio_snd_ctl_info_value_enumerated",
  {
    items: doc(le32, "Number of items the value can be chosen from."),
  },
  { doc: "5.14.6.10.1: item count of an ENUMERATED element (anonymous struct)." },
);

/** 5.14.6.10.1: the `value` union of `virtio_snd_ctl_info` (anonymous in the spec). */
export const virtio_snd_ctl_info_value: UnionType = union("virtio_snd_ctl_info_value", {
  integer: doc(virtio_snd_ctl_info_value_integer, "For INTEGER (and BOOLEAN) elements."),
  integer64: doc(virtio_snd_ctl_info_value_integer64, "For INTEGER64 elements."),
  enumerated: doc(virtio_snd_ctl_info_value_enumerated, "For ENUMERATED elements."),
}, { doc: "5.14.6.10.1: type-specific information on an element's value." });

/** 5.14.6.10.1: control element information. */
export const virtio_snd_ctl_info: StructType = struct("virtio_snd_ctl_info", {
  hdr: doc(virtio_snd_info, "Common item information header."),
  role: doc(
    le32,
    "Role: unless UNDEFINED, bit 0 is the direction (VIRTIO_SND_D_*) and bits 1..31 " +
      "a VIRTIO_SND_CTL_ROLE_* value.",
  ),
  type: doc(le32, "Value type (VIRTIO_SND_CTL_TYPE_*)."),
  access: doc(le32, "Access rights (1 << VIRTIO_SND_CTL_ACCESS_*)."),
  count: doc(le32, "Number of `type` members making up the value (non-zero)."),
  index: doc(le32, "Index distinguishing elements with the same name."),
  name: doc(array(u8, 44), "Element name: a non-empty NUL-terminated ASCII string."),
  value: doc(
    virtio_snd_ctl_info_value,
    "Type-specific value information. At byte 68 per the spec's no-padding rule; C " +
      "compilers (and Linux's virtio_snd.h) align it to 72.",
  ),
}, {
  doc: "5.14.6.10.1: information on one control element (response to " +
    "VIRTIO_SND_R_CTL_INFO). 92 bytes as the spec lays it out without padding.",
});

/** 5.14.6.10.1: one item name of an ENUMERATED element. */
export const virtio_snd_ctl_enum_item: StructType = struct("virtio_snd_ctl_enum_item", {
  item: doc(array(u8, 64), "Item name: a non-empty NUL-terminated ASCII string."),
}, { doc: "5.14.6.10.1: an item of an ENUMERATED element (VIRTIO_SND_R_CTL_ENUM_ITEMS)." });

/** 5.14.6.10.2: the value of an IEC958 element. */
export const virtio_snd_ctl_iec958: StructType = struct("virtio_snd_ctl_iec958", {
  status: doc(array(u8, 24), "AES/IEC958 channel status bits."),
  subcode: doc(array(u8, 147), "AES/IEC958 subcode bits."),
  pad: doc(u8, "Unused."),
  dig_subframe: doc(array(u8, 4), "AES/IEC958 subframe bits."),
}, { doc: "5.14.6.10.2: value of an IEC958 control element." });

/** 5.14.6.10.2: the `value` union of `virtio_snd_ctl_value` (anonymous in the spec). */
export const virtio_snd_ctl_value_value: UnionType = union("virtio_snd_ctl_value_value", {
  integer: doc(array(le32, 128), "BOOLEAN or INTEGER values (count of them)."),
  integer64: doc(array(le64, 64), "INTEGER64 values (count of them)."),
  enumerated: doc(array(le32, 128), "ENUMERATED item indexes (count of them)."),
  bytes: doc(array(u8, 512), "BYTES values (count of them)."),
  iec958: doc(virtio_snd_ctl_iec958, "The IEC958 value."),
}, { doc: "5.14.6.10.2: an element value, by element type." });

/** 5.14.6.10.2: an element value (read and write requests). */
export const virtio_snd_ctl_value: StructType = struct("virtio_snd_ctl_value", {
  value: doc(virtio_snd_ctl_value_value, "The value, interpreted by the element's type."),
}, {
  doc: "5.14.6.10.2: element value; follows the response header of VIRTIO_SND_R_CTL_READ " +
    "and the request header of VIRTIO_SND_R_CTL_WRITE.",
});

/** 5.14.6.10.3: element metadata in type-length-value form. */
export const virtio_snd_ctl_tlv: StructType = struct("virtio_snd_ctl_tlv", {
  type: doc(le32, "Metadata type (ALSA-defined or implementation-defined)."),
  length: doc(le32, "Length of value in bytes, aligned to 4 (at most 65536 from the driver)."),
  value: doc(array(le32, "value_count"), "Metadata as 4-byte integers (length / 4 of them)."),
}, { doc: "5.14.6.10.3: element metadata (TLV read, write and command requests)." });

/** 5.14.6.10.4: control element event reasons (bit numbers in `mask`). */
export const virtio_snd_ctl_evt_mask: ConstantGroup = featureBits("virtio_snd_ctl_evt_mask", {
  VIRTIO_SND_CTL_EVT_MASK_VALUE: { value: 0, doc: "The element's value changed." },
  VIRTIO_SND_CTL_EVT_MASK_INFO: { value: 1, doc: "The element's information changed." },
  VIRTIO_SND_CTL_EVT_MASK_TLV: { value: 2, doc: "The element's metadata changed." },
}, { doc: "5.14.6.10.4: control event reason bit numbers (1 << VIRTIO_SND_CTL_EVT_MASK_*)." });

/** 5.14.6.10.4: a control element notification. */
export const virtio_snd_ctl_event: StructType = struct("virtio_snd_ctl_event", {
  hdr: doc(virtio_snd_hdr, "Event type VIRTIO_SND_EVT_CTL_NOTIFY."),
  control_id: doc(le16, "Control element id, 0 to controls - 1."),
  mask: doc(le16, "Reasons for the notification (1 << VIRTIO_SND_CTL_EVT_MASK_*)."),
}, { doc: "5.14.6.10.4: control element change notification." });
