// Offsets and sizes of the network device layouts, typed in by hand from the
// spec's C structs (5.1.4, 5.1.8.1, 5.1.9, 5.1.9.5), plus constant values.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as net from "../../schema/devices/net.ts";

/** A field's offset, or its offset at parameters 0 with the bytes added per parameter unit. */
type Off = number | [number, Record<string, number>];
/** Size (at parameters 0, with growth per parameter) and field offsets. */
type Expect = [Off, Record<string, Off>];

function check(t: StructType | UnionType, [size, fields]: Expect): void {
  const l = layout(t);
  const [s, sTerms] = typeof size === "number" ? [size, {}] : size;
  assert.equal(l.size, s, `${t.name} size`);
  assert.deepEqual({ ...l.paramTerms }, sTerms, `${t.name} size terms`);
  const got: Record<string, Off> = {};
  for (const f of l.fields) {
    const terms = { ...f.paramTerms };
    got[f.def.name] = Object.keys(terms).length === 0 ? f.offset : [f.offset, terms];
  }
  assert.deepEqual(got, fields, `${t.name} offsets`);
}

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

const statsHdr = 8;
const expected: Record<string, [StructType | UnionType, Expect]> = {
  virtio_net_config: [net.virtio_net_config, [28, {
    mac: 0,
    status: 6,
    max_virtqueue_pairs: 8,
    mtu: 10,
    speed: 12,
    duplex: 16,
    rss_max_key_size: 17,
    rss_max_indirection_table_length: 18,
    supported_hash_types: 20,
    supported_tunnel_types: 24,
  }]],
  virtio_net_dev_part_cvq_selector: [net.virtio_net_dev_part_cvq_selector, [8, {
    class: 0,
    command: 1,
    reserved: 2,
  }]],
  ipsec_resource_hdr: [net.ipsec_resource_hdr, [6, { resource_id: 0, resource_type: 4 }]],
  virtio_net_hdr_ipsec_union: [net.virtio_net_hdr_ipsec_union, [6, {
    padding_reserved_2: 0,
    ipsec_resource_hdr: 0,
  }]],
  virtio_net_hdr: [net.virtio_net_hdr, [32, {
    flags: 0,
    gso_type: 1,
    hdr_len: 2,
    gso_size: 4,
    csum_start: 6,
    csum_offset: 8,
    num_buffers: 10,
    hash_value: 12,
    hash_report: 16,
    padding_reserved: 18,
    outer_th_offset: 20,
    inner_nh_offset: 22,
    outer_nh_offset: 24,
    ipsec_union: 26,
  }]],
  virtnet_hash_tunnel: [net.virtnet_hash_tunnel, [4, { enabled_tunnel_types: 0 }]],
  virtio_net_ctrl: [net.virtio_net_ctrl, [
    [3, { command_specific_data_len: 1, command_specific_result_len: 1 }],
    {
      class: 0,
      command: 1,
      command_specific_data: 2,
      ack: [2, { command_specific_data_len: 1 }],
      command_specific_result: [3, { command_specific_data_len: 1 }],
    },
  ]],
  virtio_net_ctrl_mac_addr: [net.virtio_net_ctrl_mac_addr, [6, { addr: 0 }]],
  virtio_net_ctrl_mac: [net.virtio_net_ctrl_mac, [[4, { macs_len: 6 }], { entries: 0, macs: 4 }]],
  virtio_net_ctrl_mq_pairs_set: [net.virtio_net_ctrl_mq_pairs_set, [2, { virtqueue_pairs: 0 }]],
  virtio_net_hash_config: [net.virtio_net_hash_config, [[13, { hash_key_data_len: 1 }], {
    hash_types: 0,
    reserved: 4,
    hash_key_length: 12,
    hash_key_data: 13,
  }]],
  rss_rq_id: [net.rss_rq_id, [2, { rq_id: 0 }]],
  virtio_net_rss_config: [net.virtio_net_rss_config, [
    [11, { indirection_table_length: 2, hash_key_data_len: 1 }],
    {
      hash_types: 0,
      indirection_table_mask: 4,
      unclassified_queue: 6,
      indirection_table: 8,
      max_tx_vq: [8, { indirection_table_length: 2 }],
      hash_key_length: [10, { indirection_table_length: 2 }],
      hash_key_data: [11, { indirection_table_length: 2 }],
    },
  ]],
  virtnet_rss_ctx_cap: [net.virtnet_rss_ctx_cap, [2, { max_rss_contexts: 0 }]],
  virtnet_rss_ctx_add_modify: [net.virtnet_rss_ctx_add_modify, [[8, { rss_len: 1 }], {
    rss_ctx_id: 0,
    reserved: 2,
    rss: 8,
  }]],
  virtnet_rss_ctx_del: [net.virtnet_rss_ctx_del, [2, { rss_ctx_id: 0 }]],
  virtio_net_ctrl_coal: [net.virtio_net_ctrl_coal, [8, { max_packets: 0, max_usecs: 4 }]],
  virtio_net_ctrl_coal_vq: [net.virtio_net_ctrl_coal_vq, [12, {
    vq_index: 0,
    reserved: 2,
    coal: 4,
  }]],
  virtio_net_stats_capabilities: [net.virtio_net_stats_capabilities, [8, {
    supported_stats_types: 0,
  }]],
  virtio_net_ctrl_queue_stats_entry: [net.virtio_net_ctrl_queue_stats_entry, [16, {
    vq_index: 0,
    reserved: 2,
    types_bitmap: 8,
  }]],
  virtio_net_ctrl_queue_stats: [net.virtio_net_ctrl_queue_stats, [[0, { stats_len: 16 }], {
    stats: 0,
  }]],
  virtio_net_stats_reply_hdr: [net.virtio_net_stats_reply_hdr, [8, {
    type: 0,
    reserved: 1,
    vq_index: 2,
    reserved1: 4,
    size: 6,
  }]],
  virtio_net_stats_cvq: [net.virtio_net_stats_cvq, [24, { hdr: 0, command_num: 8, ok_num: 16 }]],
  virtio_net_stats_rx_basic: [net.virtio_net_stats_rx_basic, [56, {
    hdr: 0,
    rx_notifications: statsHdr,
    rx_packets: 16,
    rx_bytes: 24,
    rx_interrupts: 32,
    rx_drops: 40,
    rx_drop_overruns: 48,
  }]],
  virtio_net_stats_tx_basic: [net.virtio_net_stats_tx_basic, [56, {
    hdr: 0,
    tx_notifications: statsHdr,
    tx_packets: 16,
    tx_bytes: 24,
    tx_interrupts: 32,
    tx_drops: 40,
    tx_drop_malformed: 48,
  }]],
  virtio_net_stats_rx_csum: [net.virtio_net_stats_rx_csum, [40, {
    hdr: 0,
    rx_csum_valid: 8,
    rx_needs_csum: 16,
    rx_csum_none: 24,
    rx_csum_bad: 32,
  }]],
  virtio_net_stats_tx_csum: [net.virtio_net_stats_tx_csum, [24, {
    hdr: 0,
    tx_csum_none: 8,
    tx_needs_csum: 16,
  }]],
  virtio_net_stats_rx_gso: [net.virtio_net_stats_rx_gso, [40, {
    hdr: 0,
    rx_gso_packets: 8,
    rx_gso_bytes: 16,
    rx_gso_packets_coalesced: 24,
    rx_gso_bytes_coalesced: 32,
  }]],
  virtio_net_stats_tx_gso: [net.virtio_net_stats_tx_gso, [56, {
    hdr: 0,
    tx_gso_packets: 8,
    tx_gso_bytes: 16,
    tx_gso_segments: 24,
    tx_gso_segments_bytes: 32,
    tx_gso_packets_noseg: 40,
    tx_gso_bytes_noseg: 48,
  }]],
  virtio_net_stats_rx_speed: [net.virtio_net_stats_rx_speed, [24, {
    hdr: 0,
    rx_packets_allowance_exceeded: 8,
    rx_bytes_allowance_exceeded: 16,
  }]],
  virtio_net_stats_tx_speed: [net.virtio_net_stats_tx_speed, [24, {
    hdr: 0,
    tx_packets_allowance_exceeded: 8,
    tx_bytes_allowance_exceeded: 16,
  }]],
  virtio_net_ff_cap_data: [net.virtio_net_ff_cap_data, [20, {
    groups_limit: 0,
    classifiers_limit: 4,
    rules_limit: 8,
    rules_per_group_limit: 12,
    last_rule_priority: 16,
    selectors_per_classifier_limit: 17,
    reserved: 18,
  }]],
  virtio_net_ff_selector: [net.virtio_net_ff_selector, [[8, { mask_len: 1 }], {
    type: 0,
    flags: 1,
    reserved: 2,
    length: 4,
    reserved1: 5,
    mask: 8,
  }]],
  virtio_net_ff_cap_mask_data: [net.virtio_net_ff_cap_mask_data, [[8, { selectors_len: 1 }], {
    count: 0,
    reserved: 1,
    selectors: 8,
  }]],
  virtio_net_ff_actions: [net.virtio_net_ff_actions, [[8, { actions_len: 1 }], {
    count: 0,
    reserved: 1,
    actions: 8,
  }]],
  virtio_net_resource_obj_ff_group: [net.virtio_net_resource_obj_ff_group, [2, {
    group_priority: 0,
  }]],
  virtio_net_resource_obj_ff_classifier: [net.virtio_net_resource_obj_ff_classifier, [
    [8, { selectors_len: 1 }],
    { count: 0, reserved: 1, selectors: 8 },
  ]],
  virtio_net_resource_obj_ff_rule: [net.virtio_net_resource_obj_ff_rule, [[16, { keys_len: 1 }], {
    group_id: 0,
    classifier_id: 4,
    rule_priority: 8,
    key_length: 9,
    action: 10,
    reserved: 11,
    vq_index: 12,
    reserved1: 14,
    keys: 16,
  }]],
};

Deno.test("network device layouts match the spec", () => {
  for (const [name, [t, e]] of Object.entries(expected)) {
    assert.equal(t.name, name);
    check(t, e);
  }
  // Every struct and union the module exports is in the table.
  const exported = Object.values(net).filter((v) => v.kind !== "constants").map((v) => v.name);
  assert.deepEqual(exported.sort(), Object.keys(expected).sort());
});

Deno.test("virtio_net_hdr sizes per feature set (5.1.9.3.1)", () => {
  const off = Object.fromEntries(layout(net.virtio_net_hdr).fields.map((f) => [f.def.name, f]));
  assert.equal(off.hash_value.offset, 12, "12 bytes without extensions");
  assert.equal(off.outer_th_offset.offset, 20, "20 bytes with VIRTIO_NET_F_HASH_REPORT");
  assert.equal(off.outer_nh_offset.offset, 24, "24 bytes with UDP tunnel GSO");
  assert.equal(layout(net.virtio_net_hdr).size, 32, "32 bytes with OUT_NET_HEADER or IPSEC");
  const rq = layout(net.rss_rq_id).fields[0].def.type;
  assert.ok(rq.kind === "bits");
  assert.deepEqual(rq.fields.map((b) => [b.name, b.lsb, b.width]), [
    ["vq_index_1_16", 0, 15],
    ["reserved", 15, 1],
  ]);
});

Deno.test("network device constants match the spec", () => {
  assert.deepEqual(values(net.virtio_net_queues), { receiveq1: 0, transmitq1: 1 });
  const f = values(net.virtio_net_features);
  assert.equal(f.VIRTIO_NET_F_CSUM, 0);
  assert.equal(f.VIRTIO_NET_F_MAC, 5);
  assert.equal(f.VIRTIO_NET_F_GSO, 6);
  assert.equal(f.VIRTIO_NET_F_MRG_RXBUF, 15);
  assert.equal(f.VIRTIO_NET_F_CTRL_MAC_ADDR, 23);
  assert.equal(f.VIRTIO_NET_F_GUEST_RSC4, 41);
  assert.equal(f.VIRTIO_NET_F_DEVICE_STATS, 50);
  assert.equal(f.VIRTIO_NET_F_HASH_REPORT, 57);
  assert.equal(f.VIRTIO_NET_F_GUEST_HDRLEN, 59);
  assert.equal(f.VIRTIO_NET_F_SPEED_DUPLEX, 63);
  assert.equal(f.VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO, 65);
  assert.equal(f.VIRTIO_NET_F_IPSEC, 70);
  assert.equal(net.virtio_net_features.constants.length, 45, "42 current + 3 legacy bits");
  const o = values(net.virtio_net_guest_offloads);
  assert.equal(o.VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO, 46);
  assert.equal(o.VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO_CSUM, 47);
  assert.equal(net.virtio_net_guest_offloads.exportMembers, false);
  assert.deepEqual(values(net.virtio_net_status), {
    VIRTIO_NET_S_LINK_UP: 1,
    VIRTIO_NET_S_ANNOUNCE: 2,
  });
  const hf = values(net.virtio_net_hdr_flags);
  assert.equal(hf.VIRTIO_NET_HDR_F_NEEDS_CSUM, 1);
  assert.equal(hf.VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM, 8);
  assert.equal(hf.VIRTIO_NET_HDR_F_SECURITY_SA_SOFT_EXPIRY_WARN, 64);
  assert.deepEqual(values(net.virtio_net_hdr_gso_type), {
    VIRTIO_NET_HDR_GSO_NONE: 0,
    VIRTIO_NET_HDR_GSO_TCPV4: 1,
    VIRTIO_NET_HDR_GSO_UDP: 3,
    VIRTIO_NET_HDR_GSO_TCPV6: 4,
    VIRTIO_NET_HDR_GSO_UDP_L4: 5,
  });
  assert.equal(values(net.virtio_net_hdr_gso_flags).VIRTIO_NET_HDR_GSO_ECN, 0x80);
  assert.equal(values(net.virtio_net_hash_types).VIRTIO_NET_HASH_TYPE_UDP_EX, 0x100);
  assert.equal(values(net.virtio_net_hash_tunnel_types).VIRTIO_NET_HASH_TUNNEL_TYPE_NVGRE, 0x100);
  assert.equal(values(net.virtio_net_hash_report).VIRTIO_NET_HASH_REPORT_UDPv6_EX, 9);
  assert.deepEqual(values(net.virtio_net_ctrl_ack), { VIRTIO_NET_OK: 0, VIRTIO_NET_ERR: 1 });
  const cls = values(net.virtio_net_ctrl_class);
  assert.equal(cls.VIRTIO_NET_CTRL_MQ, 4);
  assert.equal(cls.VIRTIO_NET_CTRL_STATS, 8);
  assert.equal(cls.VIRTNET_RSS_CTX_CTRL, 9);
  assert.equal(values(net.virtio_net_ctrl_rx_cmd).VIRTIO_NET_CTRL_RX_NOBCAST, 5);
  assert.equal(values(net.virtio_net_ctrl_mq_cmd).VIRTIO_NET_CTRL_MQ_HASH_CONFIG, 2);
  assert.equal(
    values(net.virtio_net_ctrl_mq_vq_pairs_limits).VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX,
    0x8000,
  );
  assert.equal(values(net.virtio_net_ctrl_notf_coal_cmd).VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET, 3);
  assert.equal(values(net.virtio_net_stats_types).VIRTIO_NET_STATS_TYPE_CVQ, 0x1_0000_0000);
  assert.equal(values(net.virtio_net_stats_types).VIRTIO_NET_STATS_TYPE_TX_SPEED, 0x80000);
  assert.equal(values(net.virtio_net_stats_reply_types).VIRTIO_NET_STATS_TYPE_REPLY_CVQ, 32);
  assert.equal(values(net.virtio_net_ff_mask_type).VIRTIO_NET_FF_MASK_TYPE_ESP, 6);
  assert.equal(values(net.virtio_net_ff_action).VIRTIO_NET_FF_ACTION_IPSEC_RECIRCULATE, 4);
  assert.equal(values(net.virtio_net_cap_id).VIRTIO_NET_IPSEC_SA_CAP, 0x804);
  assert.equal(
    values(net.virtio_net_resource_obj_type).VIRTIO_NET_RESOURCE_OBJ_IPSEC_INB_SA,
    0x204,
  );
  assert.equal(values(net.virtio_net_dev_part_type).VIRTIO_NET_DEV_PART_CVQ_CFG_PART, 0x200);
});
