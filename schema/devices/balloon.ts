/**
 * The traditional memory balloon device (spec 5.5): its configuration
 * layout, the memory statistics entry with its tags, and the reserved
 * free page hint command ids. Everything is little-endian (even the legacy
 * configuration layout).
 *
 * The inflateq and deflateq carry arrays of le32 page frame numbers
 * (guest-physical address divided by 4096, whatever the guest page size);
 * the free_page_vq's output buffers hold a le32 command id.
 *
 * @module
 */
import {
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  le16,
  le32,
  le64,
  struct,
  type StructType,
} from "../dsl.ts";

/** 5.5.2: virtqueue indices. */
export const virtio_balloon_queues: ConstantGroup = enumeration("virtio_balloon_queues", {
  inflateq: { value: 0, doc: "Page frame numbers given to the balloon." },
  deflateq: { value: 1, doc: "Page frame numbers taken back from the balloon." },
  statsq: { value: 2, doc: "Memory statistics; only with VIRTIO_BALLOON_F_STATS_VQ." },
  free_page_vq: { value: 3, doc: "Free page hints; only with VIRTIO_BALLOON_F_FREE_PAGE_HINT." },
  reporting_vq: {
    value: 4,
    doc: "Free page reports; only with VIRTIO_BALLOON_F_PAGE_REPORTING.",
  },
}, { doc: "5.5.2: virtqueue indices of the balloon device.", exportMembers: false });

/** 5.5.3: balloon device feature bits. */
export const virtio_balloon_features: ConstantGroup = featureBits("virtio_balloon_features", {
  VIRTIO_BALLOON_F_MUST_TELL_HOST: {
    value: 0,
    doc: "The host must be told before pages from the balloon are used.",
  },
  VIRTIO_BALLOON_F_STATS_VQ: { value: 1, doc: "A statsq for guest memory statistics exists." },
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM: {
    value: 2,
    doc: "Deflate the balloon when the guest runs out of memory.",
  },
  VIRTIO_BALLOON_F_FREE_PAGE_HINT: {
    value: 3,
    doc: "Free page hinting: free_page_vq exists and free_page_hint_cmd_id is valid.",
  },
  VIRTIO_BALLOON_F_PAGE_POISON: {
    value: 4,
    doc: "The driver writes poison_val to pages after deflating them; poison_val is valid.",
  },
  VIRTIO_BALLOON_F_PAGE_REPORTING: {
    value: 5,
    doc: "Free page reporting: reporting_vq exists.",
  },
}, { doc: "5.5.3: balloon device feature bits (bit numbers)." });

/** 5.5.4: the balloon device's configuration layout. */
export const virtio_balloon_config: StructType = struct("virtio_balloon_config", {
  num_pages: doc(le32, "Number of 4 KiB pages the device wants in the balloon."),
  actual: doc(le32, "Number of pages in the balloon, written by the driver."),
  free_page_hint_cmd_id: doc(
    le32,
    "With VIRTIO_BALLOON_F_FREE_PAGE_HINT: current hinting command id, or " +
      "VIRTIO_BALLOON_CMD_ID_STOP / _DONE (read-only for the driver).",
  ),
  poison_val: doc(
    le32,
    "With VIRTIO_BALLOON_F_PAGE_POISON: the value the driver fills freed pages with.",
  ),
}, { doc: "5.5.4: balloon configuration layout (little-endian, legacy included)." });

/** 5.5.6.3: one memory statistic in a statsq buffer. */
export const virtio_balloon_stat: StructType = struct("virtio_balloon_stat", {
  tag: doc(le16, "Which statistic: VIRTIO_BALLOON_S_*."),
  val: doc(le64, "Its value."),
}, {
  doc: "5.5.6.3: memory statistic entry; packed, 10 bytes (val is not 8-byte aligned).",
});

/** 5.5.6.4: values of `virtio_balloon_stat.tag`. */
export const virtio_balloon_stat_tag: ConstantGroup = enumeration("virtio_balloon_stat_tag", {
  VIRTIO_BALLOON_S_SWAP_IN: { value: 0, doc: "Bytes swapped in." },
  VIRTIO_BALLOON_S_SWAP_OUT: { value: 1, doc: "Bytes swapped out to disk." },
  VIRTIO_BALLOON_S_MAJFLT: { value: 2, doc: "Major page faults." },
  VIRTIO_BALLOON_S_MINFLT: { value: 3, doc: "Minor page faults." },
  VIRTIO_BALLOON_S_MEMFREE: { value: 4, doc: "Bytes of memory not used for any purpose." },
  VIRTIO_BALLOON_S_MEMTOT: { value: 5, doc: "Total bytes of memory available." },
  VIRTIO_BALLOON_S_AVAIL: {
    value: 6,
    doc: "Estimated bytes available for new applications without swapping.",
  },
  VIRTIO_BALLOON_S_CACHES: {
    value: 7,
    doc: "Bytes quickly reclaimable without I/O (such as file caches).",
  },
  VIRTIO_BALLOON_S_HTLB_PGALLOC: { value: 8, doc: "Successful hugetlb page allocations." },
  VIRTIO_BALLOON_S_HTLB_PGFAIL: { value: 9, doc: "Failed hugetlb page allocations." },
}, { doc: "5.5.6.4: memory statistics tags." });

/** 5.5.6.5: reserved values of `free_page_hint_cmd_id`. */
export const virtio_balloon_cmd_id: ConstantGroup = enumeration("virtio_balloon_cmd_id", {
  VIRTIO_BALLOON_CMD_ID_STOP: {
    value: 0,
    doc: "Stop hinting; keep hinted pages until a new command id arrives.",
  },
  VIRTIO_BALLOON_CMD_ID_DONE: {
    value: 1,
    doc: "Stop hinting and release all hinted pages to the guest.",
  },
}, { doc: "5.5.6.5: reserved free page hint command ids (others, from 2, start hinting)." });
