/**
 * The crypto device (spec 5.9): services and algorithms (5.9.4), the
 * configuration (5.9.5), capabilities and resource objects (5.9.7, 5.9.8),
 * status codes (5.9.9.1), the controlq request with its session
 * parameters (5.9.9.2), the dataq request with the session-mode and
 * stateless-mode parameters of each service (5.9.9.3 to 5.9.9.8), and the
 * IPsec capabilities, SA resource object and data parameters (5.9.9.9).
 *
 * Opcodes are `VIRTIO_CRYPTO_OPCODE(service, op)`, that is
 * `(service << 8) | op`; the groups here hold the computed values.
 * Anonymous nested structs and unions of the spec get names built from
 * the enclosing struct and field (`virtio_crypto_hash_data_flf_stateless_sess_para`).
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  flags,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "../dsl.ts";

// ---------------------------------------------------------------------------
// 5.9.3 to 5.9.8: features, services, algorithms, configuration, capabilities

/** 5.9.3: crypto feature bits. */
export const virtio_crypto_features: ConstantGroup = featureBits("virtio_crypto_features", {
  VIRTIO_CRYPTO_F_REVISION_1: {
    value: 0,
    doc: "Revision 1: the flf/vlf request format and its extra requirements.",
  },
  VIRTIO_CRYPTO_F_CIPHER_STATELESS_MODE: {
    value: 1,
    doc: "The CIPHER service accepts stateless requests; requires REVISION_1.",
  },
  VIRTIO_CRYPTO_F_HASH_STATELESS_MODE: {
    value: 2,
    doc: "The HASH service accepts stateless requests; requires REVISION_1.",
  },
  VIRTIO_CRYPTO_F_MAC_STATELESS_MODE: {
    value: 3,
    doc: "The MAC service accepts stateless requests; requires REVISION_1.",
  },
  VIRTIO_CRYPTO_F_AEAD_STATELESS_MODE: {
    value: 4,
    doc: "The AEAD service accepts stateless requests; requires REVISION_1.",
  },
  VIRTIO_CRYPTO_F_AKCIPHER_STATELESS_MODE: {
    value: 5,
    doc: "The AKCIPHER service accepts stateless requests; requires REVISION_1.",
  },
}, { doc: "5.9.3: crypto device feature bits." });

/** 5.9.4: crypto services. */
export const virtio_crypto_services: ConstantGroup = enumeration("virtio_crypto_services", {
  VIRTIO_CRYPTO_SERVICE_CIPHER: { value: 0, doc: "Symmetric key cipher." },
  VIRTIO_CRYPTO_SERVICE_HASH: { value: 1, doc: "Hash." },
  VIRTIO_CRYPTO_SERVICE_MAC: { value: 2, doc: "Message authentication codes." },
  VIRTIO_CRYPTO_SERVICE_AEAD: {
    value: 3,
    doc: "Authenticated encryption with associated data.",
  },
  VIRTIO_CRYPTO_SERVICE_AKCIPHER: { value: 4, doc: "Asymmetric key cipher." },
  VIRTIO_CRYPTO_SERVICE_IPSEC: { value: 5, doc: "IPsec." },
}, {
  doc: "5.9.4: crypto services; each is also its bit number in crypto_services and the " +
    "high byte of its opcodes.",
});

/** 5.9.4.1: CIPHER algorithms. */
export const virtio_crypto_cipher_algo: ConstantGroup = enumeration(
  "virtio_crypto_cipher_algo",
  {
    VIRTIO_CRYPTO_NO_CIPHER: { value: 0, doc: "No cipher." },
    VIRTIO_CRYPTO_CIPHER_ARC4: { value: 1, doc: "ARC4." },
    VIRTIO_CRYPTO_CIPHER_AES_ECB: { value: 2, doc: "AES-ECB." },
    VIRTIO_CRYPTO_CIPHER_AES_CBC: { value: 3, doc: "AES-CBC." },
    VIRTIO_CRYPTO_CIPHER_AES_CTR: { value: 4, doc: "AES-CTR." },
    VIRTIO_CRYPTO_CIPHER_DES_ECB: { value: 5, doc: "DES-ECB." },
    VIRTIO_CRYPTO_CIPHER_DES_CBC: { value: 6, doc: "DES-CBC." },
    VIRTIO_CRYPTO_CIPHER_3DES_ECB: { value: 7, doc: "3DES-ECB." },
    VIRTIO_CRYPTO_CIPHER_3DES_CBC: { value: 8, doc: "3DES-CBC." },
    VIRTIO_CRYPTO_CIPHER_3DES_CTR: { value: 9, doc: "3DES-CTR." },
    VIRTIO_CRYPTO_CIPHER_KASUMI_F8: { value: 10, doc: "KASUMI F8." },
    VIRTIO_CRYPTO_CIPHER_SNOW3G_UEA2: { value: 11, doc: "SNOW 3G UEA2." },
    VIRTIO_CRYPTO_CIPHER_AES_F8: { value: 12, doc: "AES-F8." },
    VIRTIO_CRYPTO_CIPHER_AES_XTS: { value: 13, doc: "AES-XTS." },
    VIRTIO_CRYPTO_CIPHER_ZUC_EEA3: { value: 14, doc: "ZUC EEA3." },
  },
  {
    doc: "5.9.4.1: CIPHER algorithms; values in requests and bit numbers in " +
      "cipher_algo_l/cipher_algo_h.",
  },
);

/** 5.9.4.2: HASH algorithms. */
export const virtio_crypto_hash_algo: ConstantGroup = enumeration("virtio_crypto_hash_algo", {
  VIRTIO_CRYPTO_NO_HASH: { value: 0, doc: "No hash." },
  VIRTIO_CRYPTO_HASH_MD5: { value: 1, doc: "MD5." },
  VIRTIO_CRYPTO_HASH_SHA1: { value: 2, doc: "SHA-1." },
  VIRTIO_CRYPTO_HASH_SHA_224: { value: 3, doc: "SHA-224." },
  VIRTIO_CRYPTO_HASH_SHA_256: { value: 4, doc: "SHA-256." },
  VIRTIO_CRYPTO_HASH_SHA_384: { value: 5, doc: "SHA-384." },
  VIRTIO_CRYPTO_HASH_SHA_512: { value: 6, doc: "SHA-512." },
  VIRTIO_CRYPTO_HASH_SHA3_224: { value: 7, doc: "SHA3-224." },
  VIRTIO_CRYPTO_HASH_SHA3_256: { value: 8, doc: "SHA3-256." },
  VIRTIO_CRYPTO_HASH_SHA3_384: { value: 9, doc: "SHA3-384." },
  VIRTIO_CRYPTO_HASH_SHA3_512: { value: 10, doc: "SHA3-512." },
  VIRTIO_CRYPTO_HASH_SHA3_SHAKE128: { value: 11, doc: "SHAKE128." },
  VIRTIO_CRYPTO_HASH_SHA3_SHAKE256: { value: 12, doc: "SHAKE256." },
}, { doc: "5.9.4.2: HASH algorithms; values in requests and bit numbers in hash_algo." });

/** 5.9.4.3: MAC algorithms. */
export const virtio_crypto_mac_algo: ConstantGroup = enumeration("virtio_crypto_mac_algo", {
  VIRTIO_CRYPTO_NO_MAC: { value: 0, doc: "No MAC." },
  VIRTIO_CRYPTO_MAC_HMAC_MD5: { value: 1, doc: "HMAC-MD5." },
  VIRTIO_CRYPTO_MAC_HMAC_SHA1: { value: 2, doc: "HMAC-SHA1." },
  VIRTIO_CRYPTO_MAC_HMAC_SHA_224: { value: 3, doc: "HMAC-SHA224." },
  VIRTIO_CRYPTO_MAC_HMAC_SHA_256: { value: 4, doc: "HMAC-SHA256." },
  VIRTIO_CRYPTO_MAC_HMAC_SHA_384: { value: 5, doc: "HMAC-SHA384." },
  VIRTIO_CRYPTO_MAC_HMAC_SHA_512: { value: 6, doc: "HMAC-SHA512." },
  VIRTIO_CRYPTO_MAC_CMAC_3DES: { value: 25, doc: "CMAC with 3DES." },
  VIRTIO_CRYPTO_MAC_CMAC_AES: { value: 26, doc: "CMAC with AES." },
  VIRTIO_CRYPTO_MAC_KASUMI_F9: { value: 27, doc: "KASUMI F9." },
  VIRTIO_CRYPTO_MAC_SNOW3G_UIA2: { value: 28, doc: "SNOW 3G UIA2." },
  VIRTIO_CRYPTO_MAC_GMAC_AES: { value: 41, doc: "GMAC with AES." },
  VIRTIO_CRYPTO_MAC_GMAC_TWOFISH: { value: 42, doc: "GMAC with Twofish." },
  VIRTIO_CRYPTO_MAC_CBCMAC_AES: { value: 49, doc: "CBC-MAC with AES." },
  VIRTIO_CRYPTO_MAC_CBCMAC_KASUMI_F9: { value: 50, doc: "CBC-MAC with KASUMI F9." },
  VIRTIO_CRYPTO_MAC_XCBC_AES: { value: 53, doc: "XCBC with AES." },
  VIRTIO_CRYPTO_MAC_ZUC_EIA3: { value: 54, doc: "ZUC EIA3." },
}, {
  doc: "5.9.4.3: MAC algorithms; values in requests and bit numbers in mac_algo_l/mac_algo_h.",
});

/** 5.9.4.4: AEAD algorithms. */
export const virtio_crypto_aead_algo: ConstantGroup = enumeration("virtio_crypto_aead_algo", {
  VIRTIO_CRYPTO_NO_AEAD: { value: 0, doc: "No AEAD." },
  VIRTIO_CRYPTO_AEAD_GCM: { value: 1, doc: "GCM." },
  VIRTIO_CRYPTO_AEAD_CCM: { value: 2, doc: "CCM." },
  VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305: { value: 3, doc: "ChaCha20-Poly1305." },
}, { doc: "5.9.4.4: AEAD algorithms; values in requests and bit numbers in aead_algo." });

/** 5.9.4.5: AKCIPHER algorithms. */
export const virtio_crypto_akcipher_algo: ConstantGroup = enumeration(
  "virtio_crypto_akcipher_algo",
  {
    VIRTIO_CRYPTO_NO_AKCIPHER: { value: 0, doc: "No asymmetric cipher." },
    VIRTIO_CRYPTO_AKCIPHER_RSA: { value: 1, doc: "RSA." },
    VIRTIO_CRYPTO_AKCIPHER_ECDSA: { value: 2, doc: "ECDSA." },
  },
  {
    doc: "5.9.4.5: AKCIPHER algorithms; values in requests and bit numbers in akcipher_algo.",
  },
);

/** 5.9.5: the crypto device's configuration layout. */
export const virtio_crypto_config: StructType = struct("virtio_crypto_config", {
  status: doc(le32, "VIRTIO_CRYPTO_S_* bits; read-only for the driver."),
  max_dataqueues: doc(le32, "Maximum number of data virtqueues, 1 to 65535."),
  crypto_services: doc(le32, "Offered services: bit VIRTIO_CRYPTO_SERVICE_* set for each."),
  cipher_algo_l: doc(le32, "CIPHER algorithm bits 0-31."),
  cipher_algo_h: doc(le32, "CIPHER algorithm bits 32-63."),
  hash_algo: doc(le32, "HASH algorithm bits."),
  mac_algo_l: doc(le32, "MAC algorithm bits 0-31."),
  mac_algo_h: doc(le32, "MAC algorithm bits 32-63."),
  aead_algo: doc(le32, "AEAD algorithm bits."),
  max_cipher_key_len: doc(le32, "Maximum cipher key length in bytes."),
  max_auth_key_len: doc(le32, "Maximum authentication key length in bytes."),
  akcipher_algo: doc(le32, "AKCIPHER algorithm bits 0-31."),
  max_size: doc(le64, "Maximum size of the variable-length parameters of a request, in bytes."),
}, { doc: "5.9.5: crypto device configuration." });

/** 5.9.5: bits of the configuration's `status`. */
export const virtio_crypto_config_status: ConstantGroup = flags("virtio_crypto_config_status", {
  VIRTIO_CRYPTO_S_HW_READY: { value: 1 << 0, doc: "The device is ready to process requests." },
}, { doc: "5.9.5: crypto configuration status bits." });

/** 5.9.7: device and driver capability ids of the crypto device. */
export const virtio_crypto_capability_id: ConstantGroup = enumeration(
  "virtio_crypto_capability_id",
  {
    VIRTIO_CRYPTO_IPSEC_RESOURCE_CAP: {
      value: 0x0800,
      doc: "IPsec resource capability (virtio_crypto_ipsec_resource_cap).",
    },
    VIRTIO_CRYPTO_IPSEC_SA_CAP: {
      value: 0x0801,
      doc: "IPsec security association capability (virtio_crypto_ipsec_sa_cap_data).",
    },
  },
  { doc: "5.9.7: crypto device capabilities for the administration commands." },
);

/** 5.9.8: resource object types of the crypto device. */
export const virtio_crypto_resource_obj_type: ConstantGroup = enumeration(
  "virtio_crypto_resource_obj_type",
  {
    VIRTIO_CRYPTO_RESOURCE_OBJ_IPSEC_OUTBOUND_SA: {
      value: 0x0200,
      doc: "IPsec outbound SA resource object.",
    },
    VIRTIO_CRYPTO_RESOURCE_OBJ_IPSEC_INBOUND_SA: {
      value: 0x0201,
      doc: "IPsec inbound SA resource object.",
    },
  },
  { doc: "5.9.8: crypto device resource object types." },
);

// ---------------------------------------------------------------------------
// 5.9.9.1: operation status

/** 5.9.9.1: operation status codes (enum VIRTIO_CRYPTO_STATUS). */
export const virtio_crypto_status: ConstantGroup = enumeration("virtio_crypto_status", {
  VIRTIO_CRYPTO_OK: { value: 0, doc: "Success." },
  VIRTIO_CRYPTO_ERR: { value: 1, doc: "Any failure not listed otherwise." },
  VIRTIO_CRYPTO_BADMSG: { value: 2, doc: "Authentication or verification failed." },
  VIRTIO_CRYPTO_NOTSUPP: { value: 3, doc: "Operation or algorithm unsupported." },
  VIRTIO_CRYPTO_INVSESS: { value: 4, doc: "Invalid session id." },
  VIRTIO_CRYPTO_NOSPC: { value: 5, doc: "No free session id (with REVISION_1)." },
  VIRTIO_CRYPTO_KEY_REJECTED: { value: 6, doc: "Signature verification failed (AKCIPHER)." },
  VIRTIO_CRYPTO_IPSEC_SA_SOFT_EXPIRY: {
    value: 7,
    doc: "Success, but an IPsec SA soft lifetime limit was reached.",
  },
  VIRTIO_CRYPTO_MAX: { value: 8, doc: "One past the last status." },
}, { doc: "5.9.9.1: crypto operation status (enum VIRTIO_CRYPTO_STATUS)." });

// ---------------------------------------------------------------------------
// 5.9.9.2: control virtqueue

/** 5.9.9.2: controlq opcodes, `(service << 8) | op`. */
export const virtio_crypto_ctrl_opcode: ConstantGroup = enumeration(
  "virtio_crypto_ctrl_opcode",
  {
    VIRTIO_CRYPTO_CIPHER_CREATE_SESSION: { value: 0x0002, doc: "Create a CIPHER session." },
    VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION: { value: 0x0003, doc: "Destroy a CIPHER session." },
    VIRTIO_CRYPTO_HASH_CREATE_SESSION: { value: 0x0102, doc: "Create a HASH session." },
    VIRTIO_CRYPTO_HASH_DESTROY_SESSION: { value: 0x0103, doc: "Destroy a HASH session." },
    VIRTIO_CRYPTO_MAC_CREATE_SESSION: { value: 0x0202, doc: "Create a MAC session." },
    VIRTIO_CRYPTO_MAC_DESTROY_SESSION: { value: 0x0203, doc: "Destroy a MAC session." },
    VIRTIO_CRYPTO_AEAD_CREATE_SESSION: { value: 0x0302, doc: "Create an AEAD session." },
    VIRTIO_CRYPTO_AEAD_DESTROY_SESSION: { value: 0x0303, doc: "Destroy an AEAD session." },
    VIRTIO_CRYPTO_AKCIPHER_CREATE_SESSION: {
      value: 0x0404,
      doc: "Create an AKCIPHER session.",
    },
    VIRTIO_CRYPTO_AKCIPHER_DESTROY_SESSION: {
      value: 0x0405,
      doc: "Destroy an AKCIPHER session.",
    },
  },
  { doc: "5.9.9.2: controlq opcodes, VIRTIO_CRYPTO_OPCODE(service, op)." },
);

/** 5.9.9.2: the general header of a controlq request. */
export const virtio_crypto_ctrl_header: StructType = struct("virtio_crypto_ctrl_header", {
  opcode: doc(le32, "Controlq opcode (VIRTIO_CRYPTO_*_CREATE_SESSION, *_DESTROY_SESSION)."),
  algo: doc(le32, "Service-specific algorithm."),
  flag: doc(le32, "Control flag."),
  reserved: doc(le32, "Reserved, set to 0."),
}, { doc: "5.9.9.2: controlq request header." });

/** 5.9.9.2 and 5.9.9.3: fixed sizes of the opcode-specific parts. */
export const virtio_crypto_hdr_sizes: ConstantGroup = enumeration("virtio_crypto_hdr_sizes", {
  VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY: {
    value: 56,
    doc: "Size op_flf of a controlq request is padded to without REVISION_1.",
  },
  VIRTIO_CRYPTO_ALG_CHAIN_SESS_OP_SPEC_HDR_SIZE: {
    value: 16,
    doc: "Size of algo_flf in virtio_crypto_alg_chain_session_flf.",
  },
  VIRTIO_CRYPTO_SYM_SESS_OP_SPEC_HDR_SIZE: {
    value: 48,
    doc: "Size of op_flf in virtio_crypto_sym_create_session_flf.",
  },
  VIRTIO_CRYPTO_AKCIPHER_SESS_ALGO_SPEC_HDR_SIZE: {
    value: 44,
    doc: "Size of algo_flf in virtio_crypto_akcipher_create_session_flf.",
  },
  VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY: {
    value: 48,
    doc: "Size op_flf of a dataq request is padded to without REVISION_1.",
  },
  VIRTIO_CRYPTO_SYM_DATA_REQ_HDR_SIZE: {
    value: 40,
    doc: "Size of op_type_flf in virtio_crypto_sym_data_flf.",
  },
  VIRTIO_CRYPTO_SYM_DATE_REQ_HDR_STATELESS_SIZE: {
    value: 72,
    doc: "Size of op_type_flf in virtio_crypto_sym_data_flf_stateless (spelled DATE in the spec).",
  },
}, { doc: "5.9.9.2, 5.9.9.3: sizes of the fixed-length opcode-specific fields." });

/** 5.9.9.2: a controlq request. */
export const virtio_crypto_op_ctrl_req: StructType = struct("virtio_crypto_op_ctrl_req", {
  header: doc(virtio_crypto_ctrl_header, "General header (device-readable)."),
  op_flf: doc(
    array(u8, "flf_len"),
    "Opcode-specific fixed-length fields; with REVISION_1 the struct's size, otherwise " +
      "padded to 56 bytes.",
  ),
  op_vlf: doc(array(u8, "vlf_len"), "Opcode-specific variable-length fields."),
  op_outcome: doc(
    array(u8, "outcome_len"),
    "Device-writable result: virtio_crypto_create_session_input or " +
      "virtio_crypto_destroy_session_input.",
  ),
}, { doc: "5.9.9.2: controlq request: header, op_flf, op_vlf, then the device-written outcome." });

/** 5.9.9.2.1: result of a create-session request. */
export const virtio_crypto_create_session_input: StructType = struct(
  "virtio_crypto_create_session_input",
  {
    session_id: doc(le64, "The new session's id, valid when status is VIRTIO_CRYPTO_OK."),
    status: doc(le32, "VIRTIO_CRYPTO_* status."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.2.1: outcome of a create-session request (device-writable)." },
);

/** 5.9.9.2.1: fixed-length parameters of a destroy-session request. */
export const virtio_crypto_destroy_session_flf: StructType = struct(
  "virtio_crypto_destroy_session_flf",
  {
    session_id: doc(le64, "The session to destroy."),
  },
  { doc: "5.9.9.2.1: op_flf of a destroy-session request." },
);

/** 5.9.9.2.1: result of a destroy-session request. */
export const virtio_crypto_destroy_session_input: StructType = struct(
  "virtio_crypto_destroy_session_input",
  {
    status: doc(u8, "VIRTIO_CRYPTO_* status."),
  },
  { doc: "5.9.9.2.1: outcome of a destroy-session request (device-writable)." },
);

/** 5.9.9.2.1.1: fixed-length parameters of a HASH session. */
export const virtio_crypto_hash_create_session_flf: StructType = struct(
  "virtio_crypto_hash_create_session_flf",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_HASH_*."),
    hash_result_len: doc(le32, "Length of the hash result."),
  },
  { doc: "5.9.9.2.1.1: op_flf of VIRTIO_CRYPTO_HASH_CREATE_SESSION." },
);

/** 5.9.9.2.1.2: fixed-length parameters of a MAC session. */
export const virtio_crypto_mac_create_session_flf: StructType = struct(
  "virtio_crypto_mac_create_session_flf",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_MAC_*."),
    hash_result_len: doc(le32, "Length of the hash result."),
    auth_key_len: doc(le32, "Length of the authentication key."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.2.1.2: op_flf of VIRTIO_CRYPTO_MAC_CREATE_SESSION." },
);

/** 5.9.9.2.1.2: variable-length parameters of a MAC session. */
export const virtio_crypto_mac_create_session_vlf: StructType = struct(
  "virtio_crypto_mac_create_session_vlf",
  {
    auth_key: doc(array(u8, "auth_key_len"), "The authentication key."),
  },
  { doc: "5.9.9.2.1.2: op_vlf of VIRTIO_CRYPTO_MAC_CREATE_SESSION." },
);

/** 5.9.9.2.1.3: encrypt or decrypt, in session and stateless parameters. */
export const virtio_crypto_op_direction: ConstantGroup = enumeration(
  "virtio_crypto_op_direction",
  {
    VIRTIO_CRYPTO_OP_ENCRYPT: { value: 1, doc: "Encrypt." },
    VIRTIO_CRYPTO_OP_DECRYPT: { value: 2, doc: "Decrypt." },
  },
  { doc: "5.9.9.2.1.3: values of the `op` fields (VIRTIO_CRYPTO_OP_*)." },
);

/** 5.9.9.2.1.3: fixed-length parameters of a CIPHER session. */
export const virtio_crypto_cipher_session_flf: StructType = struct(
  "virtio_crypto_cipher_session_flf",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_CIPHER_*."),
    key_len: doc(le32, "Length of the cipher key."),
    op: doc(le32, "VIRTIO_CRYPTO_OP_ENCRYPT or VIRTIO_CRYPTO_OP_DECRYPT."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.2.1.3: cipher parameters of a symmetric session." },
);

/** 5.9.9.2.1.3: variable-length parameters of a CIPHER session. */
export const virtio_crypto_cipher_session_vlf: StructType = struct(
  "virtio_crypto_cipher_session_vlf",
  {
    cipher_key: doc(array(u8, "key_len"), "The cipher key."),
  },
  { doc: "5.9.9.2.1.3: cipher key of a symmetric session." },
);

/** 5.9.9.2.1.3: order of an algorithm chain. */
export const virtio_crypto_sym_alg_chain_order: ConstantGroup = enumeration(
  "virtio_crypto_sym_alg_chain_order",
  {
    VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER: { value: 1, doc: "Hash, then cipher." },
    VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH: { value: 2, doc: "Cipher, then hash." },
  },
  { doc: "5.9.9.2.1.3: values of alg_chain_order." },
);

/** 5.9.9.2.1.3: hash mode of an algorithm chain. */
export const virtio_crypto_sym_hash_mode: ConstantGroup = enumeration(
  "virtio_crypto_sym_hash_mode",
  {
    VIRTIO_CRYPTO_SYM_HASH_MODE_PLAIN: { value: 1, doc: "Plain hash." },
    VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH: { value: 2, doc: "Authenticated hash (MAC)." },
    VIRTIO_CRYPTO_SYM_HASH_MODE_NESTED: { value: 3, doc: "Nested hash." },
  },
  { doc: "5.9.9.2.1.3: values of hash_mode." },
);

/** 5.9.9.2.1.3: fixed-length parameters of an algorithm-chain session. */
export const virtio_crypto_alg_chain_session_flf: StructType = struct(
  "virtio_crypto_alg_chain_session_flf",
  {
    alg_chain_order: doc(le32, "VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_*."),
    hash_mode: doc(le32, "VIRTIO_CRYPTO_SYM_HASH_MODE_*; selects the type of algo_flf."),
    cipher_hdr: doc(virtio_crypto_cipher_session_flf, "Cipher parameters."),
    algo_flf: doc(
      array(u8, 16),
      "virtio_crypto_hash_create_session_flf or virtio_crypto_mac_create_session_flf, " +
        "padded to 16 bytes.",
    ),
    aad_len: doc(le32, "Length of the additional authenticated data in bytes."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.2.1.3: chain (cipher with hash or MAC) parameters of a symmetric session." },
);

/** 5.9.9.2.1.3: variable-length parameters of an algorithm-chain session. */
export const virtio_crypto_alg_chain_session_vlf: StructType = struct(
  "virtio_crypto_alg_chain_session_vlf",
  {
    cipher_key: doc(array(u8, "key_len"), "The cipher key (cipher_hdr.key_len bytes)."),
    auth_key: doc(array(u8, "auth_key_len"), "The authentication key."),
  },
  { doc: "5.9.9.2.1.3: keys of an algorithm-chain session." },
);

/** 5.9.9.2.1.3: symmetric operation types. */
export const virtio_crypto_sym_op: ConstantGroup = enumeration("virtio_crypto_sym_op", {
  VIRTIO_CRYPTO_SYM_OP_NONE: { value: 0, doc: "No operation." },
  VIRTIO_CRYPTO_SYM_OP_CIPHER: { value: 1, doc: "Cipher only." },
  VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING: {
    value: 2,
    doc: "Cipher chained with a hash or MAC, ordered by alg_chain_order.",
  },
}, { doc: "5.9.9.2.1.3: values of op_type." });

/** 5.9.9.2.1.3: fixed-length parameters of VIRTIO_CRYPTO_CIPHER_CREATE_SESSION. */
export const virtio_crypto_sym_create_session_flf: StructType = struct(
  "virtio_crypto_sym_create_session_flf",
  {
    op_flf: doc(
      array(u8, 48),
      "virtio_crypto_cipher_session_flf or virtio_crypto_alg_chain_session_flf, " +
        "padded to 48 bytes.",
    ),
    op_type: doc(le32, "VIRTIO_CRYPTO_SYM_OP_*; selects the type of op_flf and op_vlf."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.2.1.3: op_flf of VIRTIO_CRYPTO_CIPHER_CREATE_SESSION." },
);

/** 5.9.9.2.1.3: variable-length parameters of VIRTIO_CRYPTO_CIPHER_CREATE_SESSION. */
export const virtio_crypto_sym_create_session_vlf: StructType = struct(
  "virtio_crypto_sym_create_session_vlf",
  {
    op_vlf: doc(
      array(u8, "vlf_len"),
      "virtio_crypto_cipher_session_vlf or virtio_crypto_alg_chain_session_vlf.",
    ),
  },
  { doc: "5.9.9.2.1.3: op_vlf of VIRTIO_CRYPTO_CIPHER_CREATE_SESSION." },
);

/** 5.9.9.2.1.4: fixed-length parameters of an AEAD session. */
export const virtio_crypto_aead_create_session_flf: StructType = struct(
  "virtio_crypto_aead_create_session_flf",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_AEAD_*."),
    key_len: doc(le32, "Length of the key."),
    tag_len: doc(le32, "Length of the authentication tag."),
    aad_len: doc(le32, "Length of the additional authenticated data in bytes."),
    op: doc(le32, "VIRTIO_CRYPTO_OP_ENCRYPT or VIRTIO_CRYPTO_OP_DECRYPT."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.2.1.4: op_flf of VIRTIO_CRYPTO_AEAD_CREATE_SESSION." },
);

/** 5.9.9.2.1.4: variable-length parameters of an AEAD session. */
export const virtio_crypto_aead_create_session_vlf: StructType = struct(
  "virtio_crypto_aead_create_session_vlf",
  {
    key: doc(array(u8, "key_len"), "The key."),
  },
  { doc: "5.9.9.2.1.4: op_vlf of VIRTIO_CRYPTO_AEAD_CREATE_SESSION." },
);

/** 5.9.9.2.1.5: RSA padding methods. */
export const virtio_crypto_rsa_padding: ConstantGroup = enumeration(
  "virtio_crypto_rsa_padding",
  {
    VIRTIO_CRYPTO_RSA_RAW_PADDING: {
      value: 0,
      doc: "Raw: zero-padded, hash_algo ignored, not for signing or verification.",
    },
    VIRTIO_CRYPTO_RSA_PKCS1_PADDING: { value: 1, doc: "EMSA-PKCS1-v1_5 padding." },
  },
  { doc: "5.9.9.2.1.5: values of padding_algo." },
);

/** 5.9.9.2.1.5: RSA digest algorithms for signing and verification. */
export const virtio_crypto_rsa_hash: ConstantGroup = enumeration("virtio_crypto_rsa_hash", {
  VIRTIO_CRYPTO_RSA_NO_HASH: { value: 0, doc: "No hash." },
  VIRTIO_CRYPTO_RSA_MD2: { value: 1, doc: "MD2." },
  VIRTIO_CRYPTO_RSA_MD3: { value: 2, doc: "MD3." },
  VIRTIO_CRYPTO_RSA_MD4: { value: 3, doc: "MD4." },
  VIRTIO_CRYPTO_RSA_MD5: { value: 4, doc: "MD5." },
  VIRTIO_CRYPTO_RSA_SHA1: { value: 5, doc: "SHA-1." },
  VIRTIO_CRYPTO_RSA_SHA256: { value: 6, doc: "SHA-256." },
  VIRTIO_CRYPTO_RSA_SHA384: { value: 7, doc: "SHA-384." },
  VIRTIO_CRYPTO_RSA_SHA512: { value: 8, doc: "SHA-512." },
  VIRTIO_CRYPTO_RSA_SHA224: { value: 9, doc: "SHA-224." },
}, { doc: "5.9.9.2.1.5: values of hash_algo in virtio_crypto_rsa_session_para." });

/** 5.9.9.2.1.5: RSA session parameters. */
export const virtio_crypto_rsa_session_para: StructType = struct(
  "virtio_crypto_rsa_session_para",
  {
    padding_algo: doc(le32, "VIRTIO_CRYPTO_RSA_*_PADDING."),
    hash_algo: doc(le32, "VIRTIO_CRYPTO_RSA_<hash>, for PKCS1 signing and verification."),
  },
  { doc: "5.9.9.2.1.5: extra parameters of an RSA session." },
);

/** 5.9.9.2.1.5: elliptic curves. */
export const virtio_crypto_curve: ConstantGroup = enumeration("virtio_crypto_curve", {
  VIRTIO_CRYPTO_CURVE_UNKNOWN: { value: 0, doc: "Unknown curve." },
  VIRTIO_CRYPTO_CURVE_NIST_P192: { value: 1, doc: "NIST P-192." },
  VIRTIO_CRYPTO_CURVE_NIST_P224: { value: 2, doc: "NIST P-224." },
  VIRTIO_CRYPTO_CURVE_NIST_P256: { value: 3, doc: "NIST P-256." },
  VIRTIO_CRYPTO_CURVE_NIST_P384: { value: 4, doc: "NIST P-384." },
  VIRTIO_CRYPTO_CURVE_NIST_P521: { value: 5, doc: "NIST P-521." },
}, { doc: "5.9.9.2.1.5: the known curves ECC algorithms may use (curve_id)." });

/** 5.9.9.2.1.5: ECDSA session parameters. */
export const virtio_crypto_ecdsa_session_para: StructType = struct(
  "virtio_crypto_ecdsa_session_para",
  {
    curve_id: doc(le32, "VIRTIO_CRYPTO_CURVE_*."),
  },
  { doc: "5.9.9.2.1.5: extra parameters of an ECDSA session." },
);

/** 5.9.9.2.1.5: asymmetric key types. */
export const virtio_crypto_akcipher_key_type: ConstantGroup = enumeration(
  "virtio_crypto_akcipher_key_type",
  {
    VIRTIO_CRYPTO_AKCIPHER_KEY_TYPE_PUBLIC: { value: 1, doc: "Public key." },
    VIRTIO_CRYPTO_AKCIPHER_KEY_TYPE_PRIVATE: { value: 2, doc: "Private key." },
  },
  { doc: "5.9.9.2.1.5: values of key_type." },
);

/** 5.9.9.2.1.5: fixed-length parameters of an AKCIPHER session. */
export const virtio_crypto_akcipher_create_session_flf: StructType = struct(
  "virtio_crypto_akcipher_create_session_flf",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_AKCIPHER_*; selects the type of algo_flf."),
    key_type: doc(le32, "VIRTIO_CRYPTO_AKCIPHER_KEY_TYPE_*."),
    key_len: doc(le32, "Length of the key."),
    algo_flf: doc(
      array(u8, 44),
      "virtio_crypto_rsa_session_para or virtio_crypto_ecdsa_session_para, padded to 44 bytes.",
    ),
  },
  { doc: "5.9.9.2.1.5: op_flf of VIRTIO_CRYPTO_AKCIPHER_CREATE_SESSION." },
);

/** 5.9.9.2.1.5: variable-length parameters of an AKCIPHER session. */
export const virtio_crypto_akcipher_create_session_vlf: StructType = struct(
  "virtio_crypto_akcipher_create_session_vlf",
  {
    key: doc(
      array(u8, "key_len"),
      "The DER-encoded key (PKCS#1 for RSA, RFC 5915/SEC1 for ECDSA).",
    ),
  },
  { doc: "5.9.9.2.1.5: op_vlf of VIRTIO_CRYPTO_AKCIPHER_CREATE_SESSION." },
);

// ---------------------------------------------------------------------------
// 5.9.9.3: data virtqueue

/** 5.9.9.3: dataq opcodes, `(service << 8) | op`. */
export const virtio_crypto_data_opcode: ConstantGroup = enumeration(
  "virtio_crypto_data_opcode",
  {
    VIRTIO_CRYPTO_CIPHER_ENCRYPT: { value: 0x0000, doc: "Cipher encryption." },
    VIRTIO_CRYPTO_CIPHER_DECRYPT: { value: 0x0001, doc: "Cipher decryption." },
    VIRTIO_CRYPTO_HASH: { value: 0x0100, doc: "Hash." },
    VIRTIO_CRYPTO_MAC: { value: 0x0200, doc: "MAC." },
    VIRTIO_CRYPTO_AEAD_ENCRYPT: { value: 0x0300, doc: "AEAD encryption." },
    VIRTIO_CRYPTO_AEAD_DECRYPT: { value: 0x0301, doc: "AEAD decryption and verification." },
    VIRTIO_CRYPTO_AKCIPHER_ENCRYPT: { value: 0x0400, doc: "Asymmetric encryption." },
    VIRTIO_CRYPTO_AKCIPHER_DECRYPT: { value: 0x0401, doc: "Asymmetric decryption." },
    VIRTIO_CRYPTO_AKCIPHER_SIGN: { value: 0x0402, doc: "Signing." },
    VIRTIO_CRYPTO_AKCIPHER_VERIFY: { value: 0x0403, doc: "Signature verification." },
    VIRTIO_CRYPTO_IPSEC_OUTBOUND: { value: 0x0500, doc: "IPsec outbound processing." },
    VIRTIO_CRYPTO_IPSEC_INBOUND: { value: 0x0501, doc: "IPsec inbound processing." },
  },
  { doc: "5.9.9.3: dataq opcodes, VIRTIO_CRYPTO_OPCODE(service, op)." },
);

/** 5.9.9.3: bits of `virtio_crypto_op_header.flag`. */
export const virtio_crypto_op_flags: ConstantGroup = flags("virtio_crypto_op_flags", {
  VIRTIO_CRYPTO_FLAG_SESSION_MODE: {
    value: 1,
    doc: "Session mode (session_id is valid); clear for a stateless request.",
  },
}, { doc: "5.9.9.3: dataq request flags (ignored without REVISION_1)." });

/** 5.9.9.3: the general header of a dataq request. */
export const virtio_crypto_op_header: StructType = struct("virtio_crypto_op_header", {
  opcode: doc(le32, "Dataq opcode (VIRTIO_CRYPTO_CIPHER_ENCRYPT...)."),
  algo: doc(le32, "Service-specific algorithm; ignored for IPsec."),
  session_id: doc(le64, "Session (session mode) or IPsec SA resource object id."),
  flag: doc(le32, "VIRTIO_CRYPTO_FLAG_SESSION_MODE or 0."),
  padding: doc(le32, "Padding."),
}, { doc: "5.9.9.3: dataq request header." });

/** 5.9.9.3: the status the device writes at the end of a dataq request. */
export const virtio_crypto_inhdr: StructType = struct("virtio_crypto_inhdr", {
  status: doc(u8, "VIRTIO_CRYPTO_* status."),
}, { doc: "5.9.9.3: dataq request status (device-writable)." });

/** 5.9.9.3: a dataq request. */
export const virtio_crypto_op_data_req: StructType = struct("virtio_crypto_op_data_req", {
  header: doc(virtio_crypto_op_header, "General header (device-readable)."),
  op_flf: doc(
    array(u8, "flf_len"),
    "Opcode-specific fixed-length header; with REVISION_1 the struct's size, otherwise " +
      "padded to 48 bytes.",
  ),
  op_vlf: doc(array(u8, "vlf_len"), "Opcode-specific parameters (device-readable and -writable)."),
  inhdr: doc(virtio_crypto_inhdr, "Status (device-writable)."),
}, { doc: "5.9.9.3: dataq request: header, op_flf, op_vlf, then the status." });

// ---------------------------------------------------------------------------
// 5.9.9.4: HASH service

/** 5.9.9.4: fixed-length parameters of a session-mode HASH request. */
export const virtio_crypto_hash_data_flf: StructType = struct("virtio_crypto_hash_data_flf", {
  src_data_len: doc(le32, "Length of the source data."),
  hash_result_len: doc(le32, "Length of the hash result."),
}, { doc: "5.9.9.4: op_flf of a session-mode VIRTIO_CRYPTO_HASH request." });

/** 5.9.9.4: variable-length parameters of a session-mode HASH request. */
export const virtio_crypto_hash_data_vlf: StructType = struct("virtio_crypto_hash_data_vlf", {
  src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
  hash_result: doc(array(u8, "hash_result_len"), "Hash result (device-writable)."),
}, { doc: "5.9.9.4: op_vlf of a session-mode VIRTIO_CRYPTO_HASH request." });

/** 5.9.9.4: session parameters of a stateless HASH request. */
export const virtio_crypto_hash_data_flf_stateless_sess_para: StructType = struct(
  "virtio_crypto_hash_data_flf_stateless_sess_para",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_HASH_*."),
  },
  { doc: "5.9.9.4: sess_para of virtio_crypto_hash_data_flf_stateless (anonymous in the spec)." },
);

/** 5.9.9.4: fixed-length parameters of a stateless HASH request. */
export const virtio_crypto_hash_data_flf_stateless: StructType = struct(
  "virtio_crypto_hash_data_flf_stateless",
  {
    sess_para: doc(virtio_crypto_hash_data_flf_stateless_sess_para, "Session parameters."),
    src_data_len: doc(le32, "Length of the source data."),
    hash_result_len: doc(le32, "Length of the hash result."),
    reserved: doc(le32, "Reserved."),
  },
  { doc: "5.9.9.4: op_flf of a stateless VIRTIO_CRYPTO_HASH request." },
);

/** 5.9.9.4: variable-length parameters of a stateless HASH request. */
export const virtio_crypto_hash_data_vlf_stateless: StructType = struct(
  "virtio_crypto_hash_data_vlf_stateless",
  {
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    hash_result: doc(array(u8, "hash_result_len"), "Hash result (device-writable)."),
  },
  { doc: "5.9.9.4: op_vlf of a stateless VIRTIO_CRYPTO_HASH request." },
);

// ---------------------------------------------------------------------------
// 5.9.9.5: MAC service

/** 5.9.9.5: fixed-length parameters of a session-mode MAC request. */
export const virtio_crypto_mac_data_flf: StructType = struct("virtio_crypto_mac_data_flf", {
  hdr: doc(virtio_crypto_hash_data_flf, "Source and result lengths."),
}, { doc: "5.9.9.5: op_flf of a session-mode VIRTIO_CRYPTO_MAC request." });

/** 5.9.9.5: variable-length parameters of a session-mode MAC request. */
export const virtio_crypto_mac_data_vlf: StructType = struct("virtio_crypto_mac_data_vlf", {
  src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
  hash_result: doc(array(u8, "hash_result_len"), "MAC result (device-writable)."),
}, { doc: "5.9.9.5: op_vlf of a session-mode VIRTIO_CRYPTO_MAC request." });

/** 5.9.9.5: session parameters of a stateless MAC request. */
export const virtio_crypto_mac_data_flf_stateless_sess_para: StructType = struct(
  "virtio_crypto_mac_data_flf_stateless_sess_para",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_MAC_*."),
    auth_key_len: doc(le32, "Length of the authentication key."),
  },
  { doc: "5.9.9.5: sess_para of virtio_crypto_mac_data_flf_stateless (anonymous in the spec)." },
);

/** 5.9.9.5: fixed-length parameters of a stateless MAC request. */
export const virtio_crypto_mac_data_flf_stateless: StructType = struct(
  "virtio_crypto_mac_data_flf_stateless",
  {
    sess_para: doc(virtio_crypto_mac_data_flf_stateless_sess_para, "Session parameters."),
    src_data_len: doc(le32, "Length of the source data."),
    hash_result_len: doc(le32, "Length of the MAC result."),
  },
  { doc: "5.9.9.5: op_flf of a stateless VIRTIO_CRYPTO_MAC request." },
);

/** 5.9.9.5: variable-length parameters of a stateless MAC request. */
export const virtio_crypto_mac_data_vlf_stateless: StructType = struct(
  "virtio_crypto_mac_data_vlf_stateless",
  {
    auth_key: doc(array(u8, "auth_key_len"), "The authentication key (device-readable)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    hash_result: doc(array(u8, "hash_result_len"), "MAC result (device-writable)."),
  },
  { doc: "5.9.9.5: op_vlf of a stateless VIRTIO_CRYPTO_MAC request." },
);

// ---------------------------------------------------------------------------
// 5.9.9.6: symmetric algorithms (CIPHER and chains)

/** 5.9.9.6: fixed-length parameters of a session-mode cipher request. */
export const virtio_crypto_cipher_data_flf: StructType = struct(
  "virtio_crypto_cipher_data_flf",
  {
    iv_len: doc(le32, "Length of the IV or counter (the cipher's block length for CBC, CTR, F8)."),
    src_data_len: doc(le32, "Length of the source data."),
    dst_data_len: doc(le32, "Length of the destination data."),
    padding: doc(le32, "Padding."),
  },
  { doc: "5.9.9.6: op_type_flf of a session-mode VIRTIO_CRYPTO_SYM_OP_CIPHER request." },
);

/** 5.9.9.6: variable-length parameters of a session-mode cipher request. */
export const virtio_crypto_cipher_data_vlf: StructType = struct(
  "virtio_crypto_cipher_data_vlf",
  {
    iv: doc(array(u8, "iv_len"), "IV or counter (the 128-bit tweak for AES-XTS)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    dst_data: doc(array(u8, "dst_data_len"), "Destination data (device-writable)."),
  },
  { doc: "5.9.9.6: op_type_vlf of a session-mode VIRTIO_CRYPTO_SYM_OP_CIPHER request." },
);

/** 5.9.9.6: fixed-length parameters of a session-mode algorithm-chain request. */
export const virtio_crypto_alg_chain_data_flf: StructType = struct(
  "virtio_crypto_alg_chain_data_flf",
  {
    iv_len: doc(le32, "Length of the IV or counter."),
    src_data_len: doc(le32, "Length of the source data."),
    dst_data_len: doc(le32, "Length of the destination data."),
    cipher_start_src_offset: doc(le32, "Where ciphering starts in the source data."),
    len_to_cipher: doc(le32, "Bytes of source data to cipher."),
    hash_start_src_offset: doc(le32, "Where hashing starts in the source data."),
    len_to_hash: doc(le32, "Bytes of source data to hash."),
    aad_len: doc(le32, "Length of the additional authenticated data."),
    hash_result_len: doc(le32, "Length of the hash result."),
    reserved: doc(le32, "Reserved."),
  },
  {
    doc: "5.9.9.6: op_type_flf of a session-mode VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING " +
      "request.",
  },
);

/** 5.9.9.6: variable-length parameters of a session-mode algorithm-chain request. */
export const virtio_crypto_alg_chain_data_vlf: StructType = struct(
  "virtio_crypto_alg_chain_data_vlf",
  {
    iv: doc(array(u8, "iv_len"), "IV or counter (device-readable)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    aad: doc(array(u8, "aad_len"), "Additional authenticated data, if any (device-readable)."),
    dst_data: doc(array(u8, "dst_data_len"), "Destination data (device-writable)."),
    hash_result: doc(array(u8, "hash_result_len"), "Hash result (device-writable)."),
  },
  {
    doc: "5.9.9.6: op_type_vlf of a session-mode VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING " +
      "request.",
  },
);

/** 5.9.9.6: fixed-length parameters of a session-mode CIPHER request. */
export const virtio_crypto_sym_data_flf: StructType = struct("virtio_crypto_sym_data_flf", {
  op_type_flf: doc(
    array(u8, 40),
    "virtio_crypto_cipher_data_flf or virtio_crypto_alg_chain_data_flf, padded to 40 bytes.",
  ),
  op_type: doc(le32, "VIRTIO_CRYPTO_SYM_OP_*."),
  padding: doc(le32, "Padding."),
}, { doc: "5.9.9.6: op_flf of a session-mode CIPHER_ENCRYPT or CIPHER_DECRYPT request." });

/** 5.9.9.6: variable-length parameters of a session-mode CIPHER request. */
export const virtio_crypto_sym_data_vlf: StructType = struct("virtio_crypto_sym_data_vlf", {
  op_type_vlf: doc(
    array(u8, "sym_para_len"),
    "virtio_crypto_cipher_data_vlf or virtio_crypto_alg_chain_data_vlf.",
  ),
}, { doc: "5.9.9.6: op_vlf of a session-mode CIPHER_ENCRYPT or CIPHER_DECRYPT request." });

/** 5.9.9.6: session parameters of a stateless cipher request. */
export const virtio_crypto_cipher_data_flf_stateless_sess_para: StructType = struct(
  "virtio_crypto_cipher_data_flf_stateless_sess_para",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_CIPHER_*."),
    key_len: doc(le32, "Length of the key."),
    op: doc(le32, "VIRTIO_CRYPTO_OP_ENCRYPT or VIRTIO_CRYPTO_OP_DECRYPT."),
  },
  {
    doc: "5.9.9.6: sess_para of virtio_crypto_cipher_data_flf_stateless (anonymous in the spec).",
  },
);

/** 5.9.9.6: fixed-length parameters of a stateless cipher request. */
export const virtio_crypto_cipher_data_flf_stateless: StructType = struct(
  "virtio_crypto_cipher_data_flf_stateless",
  {
    sess_para: doc(virtio_crypto_cipher_data_flf_stateless_sess_para, "Session parameters."),
    iv_len: doc(le32, "Length of the IV or counter."),
    src_data_len: doc(le32, "Length of the source data."),
    dst_data_len: doc(le32, "Length of the destination data."),
  },
  { doc: "5.9.9.6: op_type_flf of a stateless VIRTIO_CRYPTO_SYM_OP_CIPHER request." },
);

/** 5.9.9.6: variable-length parameters of a stateless cipher request. */
export const virtio_crypto_cipher_data_vlf_stateless: StructType = struct(
  "virtio_crypto_cipher_data_vlf_stateless",
  {
    cipher_key: doc(array(u8, "key_len"), "The cipher key (device-readable)."),
    iv: doc(array(u8, "iv_len"), "IV or counter (device-readable)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    dst_data: doc(array(u8, "dst_data_len"), "Destination data (device-writable)."),
  },
  { doc: "5.9.9.6: op_type_vlf of a stateless VIRTIO_CRYPTO_SYM_OP_CIPHER request." },
);

/** 5.9.9.6: cipher parameters of a stateless algorithm-chain request. */
export const virtio_crypto_alg_chain_data_flf_stateless_sess_para_cipher: StructType = struct(
  "virtio_crypto_alg_chain_data_flf_stateless_sess_para_cipher",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_CIPHER_*."),
    key_len: doc(le32, "Length of the cipher key."),
    op: doc(le32, "VIRTIO_CRYPTO_OP_ENCRYPT or VIRTIO_CRYPTO_OP_DECRYPT."),
  },
  {
    doc: "5.9.9.6: sess_para.cipher of virtio_crypto_alg_chain_data_flf_stateless " +
      "(anonymous in the spec).",
  },
);

/** 5.9.9.6: hash parameters of a stateless algorithm-chain request. */
export const virtio_crypto_alg_chain_data_flf_stateless_sess_para_hash: StructType = struct(
  "virtio_crypto_alg_chain_data_flf_stateless_sess_para_hash",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_HASH_* or VIRTIO_CRYPTO_MAC_*."),
    auth_key_len: doc(le32, "Length of the authentication key."),
    hash_mode: doc(le32, "VIRTIO_CRYPTO_SYM_HASH_MODE_*."),
  },
  {
    doc: "5.9.9.6: sess_para.hash of virtio_crypto_alg_chain_data_flf_stateless " +
      "(anonymous in the spec).",
  },
);

/** 5.9.9.6: session parameters of a stateless algorithm-chain request. */
export const virtio_crypto_alg_chain_data_flf_stateless_sess_para: StructType = struct(
  "virtio_crypto_alg_chain_data_flf_stateless_sess_para",
  {
    alg_chain_order: doc(le32, "VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_*."),
    aad_len: doc(le32, "Length of the additional authenticated data in bytes."),
    cipher: doc(virtio_crypto_alg_chain_data_flf_stateless_sess_para_cipher, "Cipher parameters."),
    hash: doc(virtio_crypto_alg_chain_data_flf_stateless_sess_para_hash, "Hash parameters."),
  },
  {
    doc: "5.9.9.6: sess_para of virtio_crypto_alg_chain_data_flf_stateless " +
      "(anonymous in the spec).",
  },
);

/** 5.9.9.6: fixed-length parameters of a stateless algorithm-chain request. */
export const virtio_crypto_alg_chain_data_flf_stateless: StructType = struct(
  "virtio_crypto_alg_chain_data_flf_stateless",
  {
    sess_para: doc(virtio_crypto_alg_chain_data_flf_stateless_sess_para, "Session parameters."),
    iv_len: doc(le32, "Length of the IV or counter."),
    src_data_len: doc(le32, "Length of the source data."),
    dst_data_len: doc(le32, "Length of the destination data."),
    cipher_start_src_offset: doc(le32, "Where ciphering starts in the source data."),
    len_to_cipher: doc(le32, "Bytes of source data to cipher."),
    hash_start_src_offset: doc(le32, "Where hashing starts in the source data."),
    len_to_hash: doc(le32, "Bytes of source data to hash."),
    aad_len: doc(le32, "Length of the additional authenticated data."),
    hash_result_len: doc(le32, "Length of the hash result."),
    reserved: doc(le32, "Reserved."),
  },
  {
    doc: "5.9.9.6: op_type_flf of a stateless VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING request.",
  },
);

/** 5.9.9.6: variable-length parameters of a stateless algorithm-chain request. */
export const virtio_crypto_alg_chain_data_vlf_stateless: StructType = struct(
  "virtio_crypto_alg_chain_data_vlf_stateless",
  {
    cipher_key: doc(array(u8, "key_len"), "The cipher key (device-readable)."),
    auth_key: doc(array(u8, "auth_key_len"), "The authentication key (device-readable)."),
    iv: doc(array(u8, "iv_len"), "IV or counter (device-readable)."),
    aad: doc(array(u8, "aad_len"), "Additional authenticated data, if any (device-readable)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    dst_data: doc(array(u8, "dst_data_len"), "Destination data (device-writable)."),
    hash_result: doc(array(u8, "hash_result_len"), "Hash result (device-writable)."),
  },
  {
    doc: "5.9.9.6: op_type_vlf of a stateless VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING request.",
  },
);

/** 5.9.9.6: fixed-length parameters of a stateless CIPHER request. */
export const virtio_crypto_sym_data_flf_stateless: StructType = struct(
  "virtio_crypto_sym_data_flf_stateless",
  {
    op_type_flf: doc(
      array(u8, 72),
      "virtio_crypto_cipher_data_flf_stateless or virtio_crypto_alg_chain_data_flf_stateless, " +
        "padded to 72 bytes.",
    ),
    op_type: doc(le32, "VIRTIO_CRYPTO_SYM_OP_*."),
  },
  { doc: "5.9.9.6: op_flf of a stateless CIPHER_ENCRYPT or CIPHER_DECRYPT request." },
);

/** 5.9.9.6: variable-length parameters of a stateless CIPHER request. */
export const virtio_crypto_sym_data_vlf_stateless: StructType = struct(
  "virtio_crypto_sym_data_vlf_stateless",
  {
    op_type_vlf: doc(
      array(u8, "sym_para_len"),
      "virtio_crypto_cipher_data_vlf_stateless or virtio_crypto_alg_chain_data_vlf_stateless.",
    ),
  },
  { doc: "5.9.9.6: op_vlf of a stateless CIPHER_ENCRYPT or CIPHER_DECRYPT request." },
);

// ---------------------------------------------------------------------------
// 5.9.9.7: AEAD service

/** 5.9.9.7: fixed-length parameters of a session-mode AEAD request. */
export const virtio_crypto_aead_data_flf: StructType = struct("virtio_crypto_aead_data_flf", {
  iv_len: doc(le32, "Length of the IV (GCM: 12 or 16; CCM: nonce length 7 to 13)."),
  aad_len: doc(le32, "Length of the additional authenticated data."),
  src_data_len: doc(le32, "Length of the source data."),
  dst_data_len: doc(le32, "Length of the destination data, at least src_data_len + tag_len."),
  tag_len: doc(le32, "Length of the authentication tag."),
  reserved: doc(le32, "Reserved."),
}, { doc: "5.9.9.7: op_flf of a session-mode AEAD_ENCRYPT or AEAD_DECRYPT request." });

/** 5.9.9.7: variable-length parameters of a session-mode AEAD request. */
export const virtio_crypto_aead_data_vlf: StructType = struct("virtio_crypto_aead_data_vlf", {
  iv: doc(array(u8, "iv_len"), "IV (GCM) or, from byte 1, the nonce (CCM)."),
  src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
  aad: doc(array(u8, "aad_len"), "Additional authenticated data, if any (device-readable)."),
  dst_data: doc(array(u8, "dst_data_len"), "Result and tag (device-writable)."),
}, { doc: "5.9.9.7: op_vlf of a session-mode AEAD_ENCRYPT or AEAD_DECRYPT request." });

/** 5.9.9.7: session parameters of a stateless AEAD request. */
export const virtio_crypto_aead_data_flf_stateless_sess_para: StructType = struct(
  "virtio_crypto_aead_data_flf_stateless_sess_para",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_AEAD_*."),
    key_len: doc(le32, "Length of the key."),
    op: doc(le32, "VIRTIO_CRYPTO_OP_ENCRYPT or VIRTIO_CRYPTO_OP_DECRYPT."),
  },
  { doc: "5.9.9.7: sess_para of virtio_crypto_aead_data_flf_stateless (anonymous in the spec)." },
);

/** 5.9.9.7: fixed-length parameters of a stateless AEAD request. */
export const virtio_crypto_aead_data_flf_stateless: StructType = struct(
  "virtio_crypto_aead_data_flf_stateless",
  {
    sess_para: doc(virtio_crypto_aead_data_flf_stateless_sess_para, "Session parameters."),
    iv_len: doc(le32, "Length of the IV."),
    tag_len: doc(le32, "Length of the authentication tag."),
    aad_len: doc(le32, "Length of the additional authenticated data."),
    src_data_len: doc(le32, "Length of the source data."),
    dst_data_len: doc(le32, "Length of the destination data, at least src_data_len + tag_len."),
  },
  { doc: "5.9.9.7: op_flf of a stateless AEAD_ENCRYPT or AEAD_DECRYPT request." },
);

/** 5.9.9.7: variable-length parameters of a stateless AEAD request. */
export const virtio_crypto_aead_data_vlf_stateless: StructType = struct(
  "virtio_crypto_aead_data_vlf_stateless",
  {
    key: doc(array(u8, "key_len"), "The key (device-readable)."),
    iv: doc(array(u8, "iv_len"), "IV (device-readable)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    aad: doc(array(u8, "aad_len"), "Additional authenticated data, if any (device-readable)."),
    dst_data: doc(array(u8, "dst_data_len"), "Result and tag (device-writable)."),
  },
  { doc: "5.9.9.7: op_vlf of a stateless AEAD_ENCRYPT or AEAD_DECRYPT request." },
);

// ---------------------------------------------------------------------------
// 5.9.9.8: AKCIPHER service

/** 5.9.9.8: fixed-length parameters of a session-mode AKCIPHER request. */
export const virtio_crypto_akcipher_data_flf: StructType = struct(
  "virtio_crypto_akcipher_data_flf",
  {
    src_data_len: doc(le32, "Length of the source data (for VERIFY: of the signature)."),
    dst_data_len: doc(le32, "Length of the destination data (for VERIFY: of the signed data)."),
  },
  { doc: "5.9.9.8: op_flf of a session-mode AKCIPHER request." },
);

/** 5.9.9.8: variable-length parameters of a session-mode AKCIPHER request. */
export const virtio_crypto_akcipher_data_vlf: StructType = struct(
  "virtio_crypto_akcipher_data_vlf",
  {
    src_data: doc(
      array(u8, "src_data_len"),
      "Source data (device-readable); for VERIFY the signature then the signed data.",
    ),
    dst_data: doc(array(u8, "dst_data_len"), "Result (device-writable); empty for VERIFY."),
  },
  { doc: "5.9.9.8: op_vlf of a session-mode AKCIPHER request." },
);

/** 5.9.9.8: algorithm-specific parameters of a stateless AKCIPHER request. */
export const virtio_crypto_akcipher_data_flf_stateless_sess_para_u: UnionType = union(
  "virtio_crypto_akcipher_data_flf_stateless_sess_para_u",
  {
    rsa: doc(virtio_crypto_rsa_session_para, "RSA parameters."),
    ecdsa: doc(virtio_crypto_ecdsa_session_para, "ECDSA parameters."),
  },
  { doc: "5.9.9.8: sess_para.u of virtio_crypto_akcipher_data_flf_stateless." },
);

/** 5.9.9.8: session parameters of a stateless AKCIPHER request. */
export const virtio_crypto_akcipher_data_flf_stateless_sess_para: StructType = struct(
  "virtio_crypto_akcipher_data_flf_stateless_sess_para",
  {
    algo: doc(le32, "VIRTIO_CRYPTO_AKCIPHER_*."),
    key_type: doc(le32, "VIRTIO_CRYPTO_AKCIPHER_KEY_TYPE_*."),
    key_len: doc(le32, "Length of the key."),
    u: doc(virtio_crypto_akcipher_data_flf_stateless_sess_para_u, "Algorithm-specific parameters."),
  },
  {
    doc: "5.9.9.8: sess_para of virtio_crypto_akcipher_data_flf_stateless " +
      "(anonymous in the spec).",
  },
);

/** 5.9.9.8: fixed-length parameters of a stateless AKCIPHER request. */
export const virtio_crypto_akcipher_data_flf_stateless: StructType = struct(
  "virtio_crypto_akcipher_data_flf_stateless",
  {
    sess_para: doc(virtio_crypto_akcipher_data_flf_stateless_sess_para, "Session parameters."),
    src_data_len: doc(le32, "Length of the source data."),
    dst_data_len: doc(le32, "Length of the destination data."),
  },
  { doc: "5.9.9.8: op_flf of a stateless AKCIPHER request." },
);

/** 5.9.9.8: variable-length parameters of a stateless AKCIPHER request. */
export const virtio_crypto_akcipher_data_vlf_stateless: StructType = struct(
  "virtio_crypto_akcipher_data_vlf_stateless",
  {
    akcipher_key: doc(array(u8, "key_len"), "The key (device-readable)."),
    src_data: doc(array(u8, "src_data_len"), "Source data (device-readable)."),
    dst_data: doc(array(u8, "dst_data_len"), "Result (device-writable)."),
  },
  { doc: "5.9.9.8: op_vlf of a stateless AKCIPHER request." },
);

// ---------------------------------------------------------------------------
// 5.9.9.9: IPsec service

/** 5.9.9.9.1.1: the VIRTIO_CRYPTO_IPSEC_RESOURCE_CAP capability data. */
export const virtio_crypto_ipsec_resource_cap: StructType = struct(
  "virtio_crypto_ipsec_resource_cap",
  {
    inb_sa_limit: doc(le32, "Maximum number of inbound SAs the device can create."),
    outb_sa_limit: doc(le32, "Maximum number of outbound SAs the device can create."),
  },
  { doc: "5.9.9.9.1.1: IPsec SA resource limits (cap_specific_data)." },
);

/** 5.9.9.9.1.2: IPsec modes. */
export const virtio_crypto_ipsec_mode: ConstantGroup = enumeration("virtio_crypto_ipsec_mode", {
  VIRTIO_CRYPTO_IPSEC_MODE_ESP_TUNNEL: { value: 0x1, doc: "ESP in tunnel mode." },
  VIRTIO_CRYPTO_IPSEC_MODE_ESP_TRANSPORT: { value: 0x2, doc: "ESP in transport mode." },
  VIRTIO_CRYPTO_IPSEC_MODE_AH_TUNNEL: { value: 0x3, doc: "AH in tunnel mode." },
  VIRTIO_CRYPTO_IPSEC_MODE_AH_TRANSPORT: { value: 0x4, doc: "AH in transport mode." },
}, { doc: "5.9.9.9.1.2: IPsec modes (0 is reserved)." });

/** 5.9.9.9.1.2: IPsec protocol options, as bit numbers. */
export const virtio_crypto_ipsec_options: ConstantGroup = featureBits(
  "virtio_crypto_ipsec_options",
  {
    VIRTIO_CRYPTO_IPSEC_ESN: { value: 0, doc: "Extended sequence numbers." },
    VIRTIO_CRYPTO_IPSEC_UDP_ENCAP: { value: 1, doc: "UDP encapsulation (ESP only)." },
    VIRTIO_CRYPTO_IPSEC_COPY_DSCP: { value: 2, doc: "Copy DSCP." },
    VIRTIO_CRYPTO_IPSEC_DEC_TTL: { value: 3, doc: "Decrement the time to live." },
    VIRTIO_CRYPTO_IPSEC_COPY_DF: { value: 4, doc: "Copy the Don't Fragment bit." },
    VIRTIO_CRYPTO_IPSEC_ECN: { value: 5, doc: "Copy Explicit Congestion Notification." },
    VIRTIO_CRYPTO_IPSEC_SA_LIFETIME: { value: 6, doc: "SA lifetimes." },
  },
  { doc: "5.9.9.9.1.2: bit numbers of IPsec options (mode cap `options`, SA `options`)." },
);

/** 5.9.9.9.1.2: capabilities of one IPsec mode. */
export const virtio_crypto_ipsec_mode_cap: StructType = struct("virtio_crypto_ipsec_mode_cap", {
  mode: doc(u8, "VIRTIO_CRYPTO_IPSEC_MODE_*."),
  reserved: doc(array(u8, 3), "Reserved."),
  max_replay_win_sz: doc(le32, "Maximum anti-replay window size (inbound only)."),
  options: doc(le32, "Supported options: bit VIRTIO_CRYPTO_IPSEC_* set for each."),
  reserved1: doc(le32, "Reserved."),
  cipher_algo: doc(le64, "CIPHER algorithm mask (bits VIRTIO_CRYPTO_CIPHER_*)."),
  hmac_algo: doc(le64, "HMAC algorithm mask (bits VIRTIO_CRYPTO_MAC_*)."),
  aead_algo: doc(le32, "AEAD algorithm mask (bits VIRTIO_CRYPTO_AEAD_*)."),
  max_cipher_key_len: doc(le32, "Maximum cipher key length."),
  max_auth_key_len: doc(le32, "Maximum authentication key length."),
}, { doc: "5.9.9.9.1.2: supported algorithms and options of one IPsec mode (44 bytes, packed)." });

/** 5.9.9.9.1.2: the VIRTIO_CRYPTO_IPSEC_SA_CAP capability data. */
export const virtio_crypto_ipsec_sa_cap_data: StructType = struct(
  "virtio_crypto_ipsec_sa_cap_data",
  {
    count: doc(u8, "Number of valid cap_mode entries."),
    reserved: doc(array(u8, 7), "Reserved."),
    cap_mode: doc(
      array(virtio_crypto_ipsec_mode_cap, "cap_mode_count"),
      "Supported IPsec modes.",
    ),
  },
  { doc: "5.9.9.9.1.2: IPsec SA capabilities (cap_specific_data)." },
);

/** 5.9.9.9.2.1: an IPv4 address. */
export const in_addr: StructType = struct("in_addr", {
  s_addr: doc(le32, "IPv4 address (le32 in the spec)."),
}, { doc: "5.9.9.9.2.1: IPv4 address of the IPsec tunnel parameters." });

/** 5.9.9.9.2.1: an IPv6 address. */
export const in6_addr: StructType = struct("in6_addr", {
  s6_u8: doc(array(u8, 16), "IPv6 address bytes."),
}, { doc: "5.9.9.9.2.1: IPv6 address of the IPsec tunnel parameters." });

/** 5.9.9.9.2.1: IPv4 tunnel header parameters. */
export const virtio_crypto_ipsec_tunnel_param_ipv4: StructType = struct(
  "virtio_crypto_ipsec_tunnel_param_ipv4",
  {
    src_ip: doc(in_addr, "Source address."),
    dst_ip: doc(in_addr, "Destination address."),
    dscp: doc(u8, "Differentiated Services Code Point."),
    df: doc(u8, "Don't Fragment bit."),
    ttl: doc(u8, "Time To Live."),
    reserved1: doc(u8, "Reserved."),
  },
  { doc: "5.9.9.9.2.1: ipv4 member of the tunnel parameters (anonymous in the spec)." },
);

/** 5.9.9.9.2.1: IPv6 tunnel header parameters. */
export const virtio_crypto_ipsec_tunnel_param_ipv6: StructType = struct(
  "virtio_crypto_ipsec_tunnel_param_ipv6",
  {
    src_addr: doc(in6_addr, "Source address."),
    dst_addr: doc(in6_addr, "Destination address."),
    flabel: doc(le32, "Flow label."),
    hlimit: doc(u8, "Hop limit."),
    dscp: doc(u8, "Differentiated Services Code Point."),
    reserved2: doc(array(u8, 2), "Reserved."),
  },
  { doc: "5.9.9.9.2.1: ipv6 member of the tunnel parameters (anonymous in the spec)." },
);

/** 5.9.9.9.2.1: the IPv4 or IPv6 tunnel header parameters. */
export const virtio_crypto_ipsec_tunnel_param_u: UnionType = union(
  "virtio_crypto_ipsec_tunnel_param_u",
  {
    ipv4: doc(virtio_crypto_ipsec_tunnel_param_ipv4, "IPv4 tunnel header parameters."),
    ipv6: doc(virtio_crypto_ipsec_tunnel_param_ipv6, "IPv6 tunnel header parameters."),
  },
  {
    doc: "5.9.9.9.2.1: the unnamed union of virtio_crypto_ipsec_tunnel_param; the spec " +
      "reaches its members directly (param.ipv4), here through the field `u`.",
  },
);

/** 5.9.9.9.2.1: IPsec tunnel parameters. */
export const virtio_crypto_ipsec_tunnel_param: StructType = struct(
  "virtio_crypto_ipsec_tunnel_param",
  {
    type: doc(u8, "Tunnel type: IPv4 or IPv6 (no values defined in the spec)."),
    reserved: doc(array(u8, 3), "Reserved."),
    u: doc(
      virtio_crypto_ipsec_tunnel_param_u,
      "IPv4 or IPv6 parameters; an unnamed union in the spec.",
    ),
  },
  { doc: "5.9.9.9.2.1: parameters of IPsec tunnel mode." },
);

/** 5.9.9.9.2.1: soft and hard lifetimes of an IPsec SA. */
export const virtio_crypto_ipsec_lifetime: StructType = struct("virtio_crypto_ipsec_lifetime", {
  packets_soft_limit: doc(le64, "Packets before a soft-expiry warning."),
  bytes_soft_limit: doc(le64, "Bytes before a soft-expiry warning."),
  packets_hard_limit: doc(le64, "Packets before operations fail."),
  bytes_hard_limit: doc(le64, "Bytes before operations fail."),
}, { doc: "5.9.9.9.2.1: IPsec SA lifetime limits." });

/** 5.9.9.9.2.1: IPsec SA directions. */
export const virtio_crypto_ipsec_direction: ConstantGroup = enumeration(
  "virtio_crypto_ipsec_direction",
  {
    VIRTIO_CRYPTO_IPSEC_DIR_OUTBOUND: { value: 0x1, doc: "Outbound." },
    VIRTIO_CRYPTO_IPSEC_DIR_INBOUND: { value: 0x2, doc: "Inbound." },
  },
  { doc: "5.9.9.9.2.1: IPsec SA directions (0 is reserved)." },
);

/** 5.9.9.9.2.1: the cipher key of an IPsec SA. */
export const virtio_crypto_resource_obj_ipsec_sa_256b_key_cipher_key: StructType = struct(
  "virtio_crypto_resource_obj_ipsec_sa_256b_key_cipher_key",
  {
    length: doc(le16, "Key length in bytes."),
    reserved1: doc(le16, "Reserved."),
    data: doc(array(u8, 32), "Key bytes."),
  },
  {
    doc: "5.9.9.9.2.1: cipher_key of virtio_crypto_resource_obj_ipsec_sa_256b_key " +
      "(anonymous in the spec).",
  },
);

/** 5.9.9.9.2.1: the authentication key of an IPsec SA. */
export const virtio_crypto_resource_obj_ipsec_sa_256b_key_auth_key: StructType = struct(
  "virtio_crypto_resource_obj_ipsec_sa_256b_key_auth_key",
  {
    length: doc(le16, "Key length in bytes."),
    reserved2: doc(le16, "Reserved."),
    data: doc(array(u8, 32), "Key bytes."),
  },
  {
    doc: "5.9.9.9.2.1: auth_key of virtio_crypto_resource_obj_ipsec_sa_256b_key " +
      "(anonymous in the spec).",
  },
);

/** 5.9.9.9.2.1: the IPsec SA resource object. */
export const virtio_crypto_resource_obj_ipsec_sa_256b_key: StructType = struct(
  "virtio_crypto_resource_obj_ipsec_sa_256b_key",
  {
    mode: doc(u8, "VIRTIO_CRYPTO_IPSEC_MODE_*."),
    direction: doc(u8, "VIRTIO_CRYPTO_IPSEC_DIR_*."),
    reserved: doc(array(u8, 2), "Reserved."),
    obj_id: doc(le32, "Object id, to retrieve driver-defined data of the SA."),
    spi: doc(le32, "Security Parameter Index."),
    salt: doc(le32, "32-bit salt for the cryptographic operations."),
    options: doc(le64, "SA options: bit VIRTIO_CRYPTO_IPSEC_* set for each."),
    param: doc(virtio_crypto_ipsec_tunnel_param, "Tunnel mode parameters (outbound only)."),
    udp_sport: doc(le16, "UDP encapsulation source port."),
    udp_dport: doc(le16, "UDP encapsulation destination port."),
    replay_win_sz: doc(le32, "Anti-replay window size; 0 disables replay checking."),
    cipher_algo: doc(le64, "Cipher algorithm (VIRTIO_CRYPTO_CIPHER_*)."),
    cipher_key: doc(virtio_crypto_resource_obj_ipsec_sa_256b_key_cipher_key, "Cipher key."),
    auth_algo: doc(le64, "Authentication algorithm."),
    auth_key: doc(virtio_crypto_resource_obj_ipsec_sa_256b_key_auth_key, "Authentication key."),
    life: doc(virtio_crypto_ipsec_lifetime, "Soft and hard lifetimes."),
  },
  {
    doc: "5.9.9.9.2.1: IPsec SA resource object data (resource_obj_specific_data), " +
      "inbound and outbound; 196 bytes, packed.",
  },
);

/** 5.9.9.9.3: fixed-length parameters of an IPsec data request. */
export const virtio_crypto_ipsec_data_flf: StructType = struct("virtio_crypto_ipsec_data_flf", {
  src_data_len: doc(le32, "Length of the source data: the full IP or IPsec packet."),
  dst_data_len: doc(le32, "Length of the destination data, including IPsec header and trailer."),
}, { doc: "5.9.9.9.3: op_flf of VIRTIO_CRYPTO_IPSEC_OUTBOUND and _INBOUND requests." });

/** 5.9.9.9.3: variable-length parameters of an IPsec data request. */
export const virtio_crypto_ipsec_data_vlf: StructType = struct("virtio_crypto_ipsec_data_vlf", {
  src_data: doc(array(u8, "src_data_len"), "Source packet (device-readable)."),
  dst_data: doc(array(u8, "dst_data_len"), "Result packet (device-writable)."),
}, { doc: "5.9.9.9.3: op_vlf of VIRTIO_CRYPTO_IPSEC_OUTBOUND and _INBOUND requests." });
