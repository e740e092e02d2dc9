// Crypto device layouts (spec 5.9), sizes and offsets typed in by hand from
// the spec's C structs. Structs are packed: virtio_crypto_ipsec_mode_cap is
// 44 bytes (a C compiler would pad it to 48) and the SA object is 196.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/crypto.ts";

type Row = [StructType | UnionType, number, Record<string, number>, Record<string, number>?];

// For structs with parameter-length arrays, offsets are at all parameters 0
// and the last entry gives the bytes each parameter adds to the size.
const fixed: Row[] = [
  [s.virtio_crypto_config, 56, {
    status: 0,
    max_dataqueues: 4,
    crypto_services: 8,
    cipher_algo_l: 12,
    cipher_algo_h: 16,
    hash_algo: 20,
    mac_algo_l: 24,
    mac_algo_h: 28,
    aead_algo: 32,
    max_cipher_key_len: 36,
    max_auth_key_len: 40,
    akcipher_algo: 44,
    max_size: 48,
  }],
  [s.virtio_crypto_ctrl_header, 16, { opcode: 0, algo: 4, flag: 8, reserved: 12 }],
  [s.virtio_crypto_create_session_input, 16, { session_id: 0, status: 8, padding: 12 }],
  [s.virtio_crypto_destroy_session_flf, 8, { session_id: 0 }],
  [s.virtio_crypto_destroy_session_input, 1, { status: 0 }],
  [s.virtio_crypto_hash_create_session_flf, 8, { algo: 0, hash_result_len: 4 }],
  [s.virtio_crypto_mac_create_session_flf, 16, {
    algo: 0,
    hash_result_len: 4,
    auth_key_len: 8,
    padding: 12,
  }],
  [s.virtio_crypto_cipher_session_flf, 16, { algo: 0, key_len: 4, op: 8, padding: 12 }],
  [s.virtio_crypto_alg_chain_session_flf, 48, {
    alg_chain_order: 0,
    hash_mode: 4,
    cipher_hdr: 8,
    algo_flf: 24,
    aad_len: 40,
    padding: 44,
  }],
  [s.virtio_crypto_sym_create_session_flf, 56, { op_flf: 0, op_type: 48, padding: 52 }],
  [s.virtio_crypto_aead_create_session_flf, 24, {
    algo: 0,
    key_len: 4,
    tag_len: 8,
    aad_len: 12,
    op: 16,
    padding: 20,
  }],
  [s.virtio_crypto_rsa_session_para, 8, { padding_algo: 0, hash_algo: 4 }],
  [s.virtio_crypto_ecdsa_session_para, 4, { curve_id: 0 }],
  [s.virtio_crypto_akcipher_create_session_flf, 56, {
    algo: 0,
    key_type: 4,
    key_len: 8,
    algo_flf: 12,
  }],
  [s.virtio_crypto_op_header, 24, { opcode: 0, algo: 4, session_id: 8, flag: 16, padding: 20 }],
  [s.virtio_crypto_inhdr, 1, { status: 0 }],
  [s.virtio_crypto_hash_data_flf, 8, { src_data_len: 0, hash_result_len: 4 }],
  [s.virtio_crypto_hash_data_flf_stateless_sess_para, 4, { algo: 0 }],
  [s.virtio_crypto_hash_data_flf_stateless, 16, {
    sess_para: 0,
    src_data_len: 4,
    hash_result_len: 8,
    reserved: 12,
  }],
  [s.virtio_crypto_mac_data_flf, 8, { hdr: 0 }],
  [s.virtio_crypto_mac_data_flf_stateless_sess_para, 8, { algo: 0, auth_key_len: 4 }],
  [s.virtio_crypto_mac_data_flf_stateless, 16, {
    sess_para: 0,
    src_data_len: 8,
    hash_result_len: 12,
  }],
  [s.virtio_crypto_cipher_data_flf, 16, {
    iv_len: 0,
    src_data_len: 4,
    dst_data_len: 8,
    padding: 12,
  }],
  [s.virtio_crypto_alg_chain_data_flf, 40, {
    iv_len: 0,
    src_data_len: 4,
    dst_data_len: 8,
    cipher_start_src_offset: 12,
    len_to_cipher: 16,
    hash_start_src_offset: 20,
    len_to_hash: 24,
    aad_len: 28,
    hash_result_len: 32,
    reserved: 36,
  }],
  [s.virtio_crypto_sym_data_flf, 48, { op_type_flf: 0, op_type: 40, padding: 44 }],
  [s.virtio_crypto_cipher_data_flf_stateless_sess_para, 12, { algo: 0, key_len: 4, op: 8 }],
  [s.virtio_crypto_cipher_data_flf_stateless, 24, {
    sess_para: 0,
    iv_len: 12,
    src_data_len: 16,
    dst_data_len: 20,
  }],
  [s.virtio_crypto_alg_chain_data_flf_stateless_sess_para_cipher, 12, {
    algo: 0,
    key_len: 4,
    op: 8,
  }],
  [s.virtio_crypto_alg_chain_data_flf_stateless_sess_para_hash, 12, {
    algo: 0,
    auth_key_len: 4,
    hash_mode: 8,
  }],
  [s.virtio_crypto_alg_chain_data_flf_stateless_sess_para, 32, {
    alg_chain_order: 0,
    aad_len: 4,
    cipher: 8,
    hash: 20,
  }],
  [s.virtio_crypto_alg_chain_data_flf_stateless, 72, {
    sess_para: 0,
    iv_len: 32,
    src_data_len: 36,
    dst_data_len: 40,
    cipher_start_src_offset: 44,
    len_to_cipher: 48,
    hash_start_src_offset: 52,
    len_to_hash: 56,
    aad_len: 60,
    hash_result_len: 64,
    reserved: 68,
  }],
  [s.virtio_crypto_sym_data_flf_stateless, 76, { op_type_flf: 0, op_type: 72 }],
  [s.virtio_crypto_aead_data_flf, 24, {
    iv_len: 0,
    aad_len: 4,
    src_data_len: 8,
    dst_data_len: 12,
    tag_len: 16,
    reserved: 20,
  }],
  [s.virtio_crypto_aead_data_flf_stateless_sess_para, 12, { algo: 0, key_len: 4, op: 8 }],
  [s.virtio_crypto_aead_data_flf_stateless, 32, {
    sess_para: 0,
    iv_len: 12,
    tag_len: 16,
    aad_len: 20,
    src_data_len: 24,
    dst_data_len: 28,
  }],
  [s.virtio_crypto_akcipher_data_flf, 8, { src_data_len: 0, dst_data_len: 4 }],
  [s.virtio_crypto_akcipher_data_flf_stateless_sess_para_u, 8, { rsa: 0, ecdsa: 0 }],
  [s.virtio_crypto_akcipher_data_flf_stateless_sess_para, 20, {
    algo: 0,
    key_type: 4,
    key_len: 8,
    u: 12,
  }],
  [s.virtio_crypto_akcipher_data_flf_stateless, 28, {
    sess_para: 0,
    src_data_len: 20,
    dst_data_len: 24,
  }],
  [s.virtio_crypto_ipsec_resource_cap, 8, { inb_sa_limit: 0, outb_sa_limit: 4 }],
  [s.virtio_crypto_ipsec_mode_cap, 44, {
    mode: 0,
    reserved: 1,
    max_replay_win_sz: 4,
    options: 8,
    reserved1: 12,
    cipher_algo: 16,
    hmac_algo: 24,
    aead_algo: 32,
    max_cipher_key_len: 36,
    max_auth_key_len: 40,
  }],
  [s.in_addr, 4, { s_addr: 0 }],
  [s.in6_addr, 16, { s6_u8: 0 }],
  [s.virtio_crypto_ipsec_tunnel_param_ipv4, 12, {
    src_ip: 0,
    dst_ip: 4,
    dscp: 8,
    df: 9,
    ttl: 10,
    reserved1: 11,
  }],
  [s.virtio_crypto_ipsec_tunnel_param_ipv6, 40, {
    src_addr: 0,
    dst_addr: 16,
    flabel: 32,
    hlimit: 36,
    dscp: 37,
    reserved2: 38,
  }],
  [s.virtio_crypto_ipsec_tunnel_param_u, 40, { ipv4: 0, ipv6: 0 }],
  [s.virtio_crypto_ipsec_tunnel_param, 44, { type: 0, reserved: 1, u: 4 }],
  [s.virtio_crypto_ipsec_lifetime, 32, {
    packets_soft_limit: 0,
    bytes_soft_limit: 8,
    packets_hard_limit: 16,
    bytes_hard_limit: 24,
  }],
  [s.virtio_crypto_resource_obj_ipsec_sa_256b_key_cipher_key, 36, {
    length: 0,
    reserved1: 2,
    data: 4,
  }],
  [s.virtio_crypto_resource_obj_ipsec_sa_256b_key_auth_key, 36, {
    length: 0,
    reserved2: 2,
    data: 4,
  }],
  [s.virtio_crypto_resource_obj_ipsec_sa_256b_key, 196, {
    mode: 0,
    direction: 1,
    reserved: 2,
    obj_id: 4,
    spi: 8,
    salt: 12,
    options: 16,
    param: 24,
    udp_sport: 68,
    udp_dport: 70,
    replay_win_sz: 72,
    cipher_algo: 76,
    cipher_key: 84,
    auth_algo: 120,
    auth_key: 128,
    life: 164,
  }],
  [s.virtio_crypto_ipsec_data_flf, 8, { src_data_len: 0, dst_data_len: 4 }],
];

const flexible: Row[] = [
  [s.virtio_crypto_op_ctrl_req, 16, { header: 0, op_flf: 16, op_vlf: 16, op_outcome: 16 }, {
    flf_len: 1,
    vlf_len: 1,
    outcome_len: 1,
  }],
  [s.virtio_crypto_op_data_req, 25, { header: 0, op_flf: 24, op_vlf: 24, inhdr: 24 }, {
    flf_len: 1,
    vlf_len: 1,
  }],
  [s.virtio_crypto_mac_create_session_vlf, 0, { auth_key: 0 }, { auth_key_len: 1 }],
  [s.virtio_crypto_cipher_session_vlf, 0, { cipher_key: 0 }, { key_len: 1 }],
  [s.virtio_crypto_alg_chain_session_vlf, 0, { cipher_key: 0, auth_key: 0 }, {
    key_len: 1,
    auth_key_len: 1,
  }],
  [s.virtio_crypto_sym_create_session_vlf, 0, { op_vlf: 0 }, { vlf_len: 1 }],
  [s.virtio_crypto_aead_create_session_vlf, 0, { key: 0 }, { key_len: 1 }],
  [s.virtio_crypto_akcipher_create_session_vlf, 0, { key: 0 }, { key_len: 1 }],
  [s.virtio_crypto_hash_data_vlf, 0, { src_data: 0, hash_result: 0 }, {
    src_data_len: 1,
    hash_result_len: 1,
  }],
  [s.virtio_crypto_hash_data_vlf_stateless, 0, { src_data: 0, hash_result: 0 }, {
    src_data_len: 1,
    hash_result_len: 1,
  }],
  [s.virtio_crypto_mac_data_vlf, 0, { src_data: 0, hash_result: 0 }, {
    src_data_len: 1,
    hash_result_len: 1,
  }],
  [s.virtio_crypto_mac_data_vlf_stateless, 0, { auth_key: 0, src_data: 0, hash_result: 0 }, {
    auth_key_len: 1,
    src_data_len: 1,
    hash_result_len: 1,
  }],
  [s.virtio_crypto_cipher_data_vlf, 0, { iv: 0, src_data: 0, dst_data: 0 }, {
    iv_len: 1,
    src_data_len: 1,
    dst_data_len: 1,
  }],
  [s.virtio_crypto_alg_chain_data_vlf, 0, {
    iv: 0,
    src_data: 0,
    aad: 0,
    dst_data: 0,
    hash_result: 0,
  }, { iv_len: 1, src_data_len: 1, aad_len: 1, dst_data_len: 1, hash_result_len: 1 }],
  [s.virtio_crypto_sym_data_vlf, 0, { op_type_vlf: 0 }, { sym_para_len: 1 }],
  [s.virtio_crypto_cipher_data_vlf_stateless, 0, {
    cipher_key: 0,
    iv: 0,
    src_data: 0,
    dst_data: 0,
  }, { key_len: 1, iv_len: 1, src_data_len: 1, dst_data_len: 1 }],
  [s.virtio_crypto_alg_chain_data_vlf_stateless, 0, {
    cipher_key: 0,
    auth_key: 0,
    iv: 0,
    aad: 0,
    src_data: 0,
    dst_data: 0,
    hash_result: 0,
  }, {
    key_len: 1,
    auth_key_len: 1,
    iv_len: 1,
    aad_len: 1,
    src_data_len: 1,
    dst_data_len: 1,
    hash_result_len: 1,
  }],
  [s.virtio_crypto_sym_data_vlf_stateless, 0, { op_type_vlf: 0 }, { sym_para_len: 1 }],
  [s.virtio_crypto_aead_data_vlf, 0, { iv: 0, src_data: 0, aad: 0, dst_data: 0 }, {
    iv_len: 1,
    src_data_len: 1,
    aad_len: 1,
    dst_data_len: 1,
  }],
  [s.virtio_crypto_aead_data_vlf_stateless, 0, {
    key: 0,
    iv: 0,
    src_data: 0,
    aad: 0,
    dst_data: 0,
  }, { key_len: 1, iv_len: 1, src_data_len: 1, aad_len: 1, dst_data_len: 1 }],
  [s.virtio_crypto_akcipher_data_vlf, 0, { src_data: 0, dst_data: 0 }, {
    src_data_len: 1,
    dst_data_len: 1,
  }],
  [s.virtio_crypto_akcipher_data_vlf_stateless, 0, {
    akcipher_key: 0,
    src_data: 0,
    dst_data: 0,
  }, { key_len: 1, src_data_len: 1, dst_data_len: 1 }],
  [s.virtio_crypto_ipsec_sa_cap_data, 8, { count: 0, reserved: 1, cap_mode: 8 }, {
    cap_mode_count: 44,
  }],
  [s.virtio_crypto_ipsec_data_vlf, 0, { src_data: 0, dst_data: 0 }, {
    src_data_len: 1,
    dst_data_len: 1,
  }],
];

Deno.test("crypto structs match the spec's sizes and offsets", () => {
  for (const [t, size, offsets, terms = {}] of [...fixed, ...flexible]) {
    const l = layout(t);
    assert.equal(l.size, size, t.name);
    assert.deepEqual(l.paramTerms, terms, t.name);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      t.name,
    );
  }
  const checked = new Set([...fixed, ...flexible].map(([t]) => t.name));
  for (const v of Object.values(s)) {
    if (v.kind !== "constants") assert.ok(checked.has(v.name), `${v.name} is not checked`);
  }
});

Deno.test("crypto fields after variable-length ones move with the parameters", () => {
  const at = (t: StructType, name: string) => layout(t).fields.find((f) => f.def.name === name);
  assert.deepEqual(at(s.virtio_crypto_op_data_req, "inhdr")?.paramTerms, {
    flf_len: 1,
    vlf_len: 1,
  });
  assert.deepEqual(at(s.virtio_crypto_alg_chain_data_vlf, "hash_result")?.paramTerms, {
    iv_len: 1,
    src_data_len: 1,
    aad_len: 1,
    dst_data_len: 1,
  });
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

const opcode = (service: number, op: number) => (service << 8) | op;

Deno.test("crypto opcodes are VIRTIO_CRYPTO_OPCODE(service, op)", () => {
  const sv = values(s.virtio_crypto_services);
  assert.deepEqual(values(s.virtio_crypto_ctrl_opcode), {
    VIRTIO_CRYPTO_CIPHER_CREATE_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_CIPHER, 0x02),
    VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_CIPHER, 0x03),
    VIRTIO_CRYPTO_HASH_CREATE_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_HASH, 0x02),
    VIRTIO_CRYPTO_HASH_DESTROY_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_HASH, 0x03),
    VIRTIO_CRYPTO_MAC_CREATE_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_MAC, 0x02),
    VIRTIO_CRYPTO_MAC_DESTROY_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_MAC, 0x03),
    VIRTIO_CRYPTO_AEAD_CREATE_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_AEAD, 0x02),
    VIRTIO_CRYPTO_AEAD_DESTROY_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_AEAD, 0x03),
    VIRTIO_CRYPTO_AKCIPHER_CREATE_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_AKCIPHER, 0x04),
    VIRTIO_CRYPTO_AKCIPHER_DESTROY_SESSION: opcode(sv.VIRTIO_CRYPTO_SERVICE_AKCIPHER, 0x05),
  });
  assert.deepEqual(values(s.virtio_crypto_data_opcode), {
    VIRTIO_CRYPTO_CIPHER_ENCRYPT: 0x0000,
    VIRTIO_CRYPTO_CIPHER_DECRYPT: 0x0001,
    VIRTIO_CRYPTO_HASH: 0x0100,
    VIRTIO_CRYPTO_MAC: 0x0200,
    VIRTIO_CRYPTO_AEAD_ENCRYPT: 0x0300,
    VIRTIO_CRYPTO_AEAD_DECRYPT: 0x0301,
    VIRTIO_CRYPTO_AKCIPHER_ENCRYPT: 0x0400,
    VIRTIO_CRYPTO_AKCIPHER_DECRYPT: 0x0401,
    VIRTIO_CRYPTO_AKCIPHER_SIGN: 0x0402,
    VIRTIO_CRYPTO_AKCIPHER_VERIFY: 0x0403,
    VIRTIO_CRYPTO_IPSEC_OUTBOUND: 0x0500,
    VIRTIO_CRYPTO_IPSEC_INBOUND: 0x0501,
  });
});

Deno.test("crypto constants", () => {
  assert.equal(Object.keys(values(s.virtio_crypto_features)).length, 6);
  assert.equal(values(s.virtio_crypto_features).VIRTIO_CRYPTO_F_AKCIPHER_STATELESS_MODE, 5);
  assert.equal(values(s.virtio_crypto_services).VIRTIO_CRYPTO_SERVICE_IPSEC, 5);
  const cipher = values(s.virtio_crypto_cipher_algo);
  assert.equal(Object.keys(cipher).length, 15);
  assert.equal(cipher.VIRTIO_CRYPTO_CIPHER_ZUC_EEA3, 14);
  assert.equal(values(s.virtio_crypto_hash_algo).VIRTIO_CRYPTO_HASH_SHA3_SHAKE256, 12);
  const mac = values(s.virtio_crypto_mac_algo);
  assert.equal(Object.keys(mac).length, 17);
  assert.equal(mac.VIRTIO_CRYPTO_MAC_CMAC_3DES, 25);
  assert.equal(mac.VIRTIO_CRYPTO_MAC_GMAC_AES, 41);
  assert.equal(mac.VIRTIO_CRYPTO_MAC_CBCMAC_AES, 49);
  assert.equal(mac.VIRTIO_CRYPTO_MAC_ZUC_EIA3, 54);
  assert.equal(values(s.virtio_crypto_aead_algo).VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305, 3);
  assert.equal(values(s.virtio_crypto_akcipher_algo).VIRTIO_CRYPTO_AKCIPHER_ECDSA, 2);
  const st = values(s.virtio_crypto_status);
  assert.equal(st.VIRTIO_CRYPTO_KEY_REJECTED, 6);
  assert.equal(st.VIRTIO_CRYPTO_IPSEC_SA_SOFT_EXPIRY, 7);
  assert.equal(st.VIRTIO_CRYPTO_MAX, 8);
  assert.equal(values(s.virtio_crypto_config_status).VIRTIO_CRYPTO_S_HW_READY, 1);
  assert.equal(values(s.virtio_crypto_capability_id).VIRTIO_CRYPTO_IPSEC_SA_CAP, 0x0801);
  assert.equal(
    values(s.virtio_crypto_resource_obj_type).VIRTIO_CRYPTO_RESOURCE_OBJ_IPSEC_INBOUND_SA,
    0x0201,
  );
  assert.deepEqual(values(s.virtio_crypto_hdr_sizes), {
    VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY: 56,
    VIRTIO_CRYPTO_ALG_CHAIN_SESS_OP_SPEC_HDR_SIZE: 16,
    VIRTIO_CRYPTO_SYM_SESS_OP_SPEC_HDR_SIZE: 48,
    VIRTIO_CRYPTO_AKCIPHER_SESS_ALGO_SPEC_HDR_SIZE: 44,
    VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY: 48,
    VIRTIO_CRYPTO_SYM_DATA_REQ_HDR_SIZE: 40,
    VIRTIO_CRYPTO_SYM_DATE_REQ_HDR_STATELESS_SIZE: 72,
  });
  assert.equal(values(s.virtio_crypto_op_direction).VIRTIO_CRYPTO_OP_DECRYPT, 2);
  assert.equal(
    values(s.virtio_crypto_sym_op).VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING,
    2,
  );
  assert.equal(values(s.virtio_crypto_sym_hash_mode).VIRTIO_CRYPTO_SYM_HASH_MODE_NESTED, 3);
  assert.equal(
    values(s.virtio_crypto_sym_alg_chain_order).VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH,
    2,
  );
  assert.equal(values(s.virtio_crypto_rsa_padding).VIRTIO_CRYPTO_RSA_PKCS1_PADDING, 1);
  assert.equal(values(s.virtio_crypto_rsa_hash).VIRTIO_CRYPTO_RSA_SHA224, 9);
  assert.equal(values(s.virtio_crypto_curve).VIRTIO_CRYPTO_CURVE_NIST_P521, 5);
  assert.equal(
    values(s.virtio_crypto_akcipher_key_type).VIRTIO_CRYPTO_AKCIPHER_KEY_TYPE_PRIVATE,
    2,
  );
  assert.equal(values(s.virtio_crypto_op_flags).VIRTIO_CRYPTO_FLAG_SESSION_MODE, 1);
  assert.equal(values(s.virtio_crypto_ipsec_mode).VIRTIO_CRYPTO_IPSEC_MODE_AH_TRANSPORT, 4);
  assert.equal(values(s.virtio_crypto_ipsec_options).VIRTIO_CRYPTO_IPSEC_SA_LIFETIME, 6);
  assert.equal(values(s.virtio_crypto_ipsec_direction).VIRTIO_CRYPTO_IPSEC_DIR_INBOUND, 2);
});

Deno.test("the fixed-size opcode fields hold the structs the spec says they do", () => {
  const size = (t: StructType) => layout(t).size;
  const hdr = values(s.virtio_crypto_hdr_sizes);
  assert.equal(
    size(s.virtio_crypto_alg_chain_session_flf),
    hdr.VIRTIO_CRYPTO_SYM_SESS_OP_SPEC_HDR_SIZE,
  );
  assert.equal(size(s.virtio_crypto_alg_chain_data_flf), hdr.VIRTIO_CRYPTO_SYM_DATA_REQ_HDR_SIZE);
  assert.equal(
    size(s.virtio_crypto_alg_chain_data_flf_stateless),
    hdr.VIRTIO_CRYPTO_SYM_DATE_REQ_HDR_STATELESS_SIZE,
  );
  assert.equal(
    size(s.virtio_crypto_sym_create_session_flf),
    hdr.VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY,
  );
  assert.equal(size(s.virtio_crypto_sym_data_flf), hdr.VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY);
  assert.ok(
    size(s.virtio_crypto_mac_create_session_flf) <=
      hdr.VIRTIO_CRYPTO_ALG_CHAIN_SESS_OP_SPEC_HDR_SIZE,
  );
  assert.ok(
    size(s.virtio_crypto_rsa_session_para) <= hdr.VIRTIO_CRYPTO_AKCIPHER_SESS_ALGO_SPEC_HDR_SIZE,
  );
});

Deno.test("without REVISION_1 both requests' fixed parts are 72 bytes and every op_flf fits", () => {
  // 5.9.9.2 and 5.9.9.3: without VIRTIO_CRYPTO_F_REVISION_1 op_flf is padded to 56 (controlq) and
  // 48 (dataq) bytes after the 16- and 24-byte headers: 72 bytes each, Linux's
  // sizeof(struct virtio_crypto_op_ctrl_req) and sizeof(struct virtio_crypto_op_data_req).
  const size = (t: StructType) => layout(t).size;
  const hdr = values(s.virtio_crypto_hdr_sizes);
  const at = (t: StructType, name: string) =>
    layout(t).fields.find((f) => f.def.name === name)?.offset;
  assert.equal(at(s.virtio_crypto_op_ctrl_req, "op_flf"), 16);
  assert.equal(at(s.virtio_crypto_op_data_req, "op_flf"), 24);
  assert.equal(size(s.virtio_crypto_ctrl_header) + hdr.VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY, 72);
  assert.equal(size(s.virtio_crypto_op_header) + hdr.VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY, 72);
  for (
    const t of [
      s.virtio_crypto_sym_create_session_flf,
      s.virtio_crypto_hash_create_session_flf,
      s.virtio_crypto_mac_create_session_flf,
      s.virtio_crypto_aead_create_session_flf,
      s.virtio_crypto_akcipher_create_session_flf,
      s.virtio_crypto_destroy_session_flf,
    ]
  ) assert.ok(size(t) <= hdr.VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY, t.name);
  for (
    const t of [
      s.virtio_crypto_sym_data_flf,
      s.virtio_crypto_hash_data_flf,
      s.virtio_crypto_mac_data_flf,
      s.virtio_crypto_aead_data_flf,
      s.virtio_crypto_akcipher_data_flf,
    ]
  ) assert.ok(size(t) <= hdr.VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY, t.name);
});
