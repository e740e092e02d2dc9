// The node: built-ins that modules of the npm package import, declared as
// narrowly as those modules use them. scripts/build_npm.ts type-checks the
// package against Deno's types only (no @types/node); this file gives the
// checker these few signatures, matching Node's own.

declare module "node:crypto" {
  /** The AES-GCM cipher names. */
  export type CipherGCMTypes = "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm";
  interface CipherBase {
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    setAutoPadding(on?: boolean): this;
    setAAD(data: Uint8Array): this;
  }
  /** A cipher (`createCipheriv`). */
  export interface Cipher extends CipherBase {
    getAuthTag(): Uint8Array;
  }
  /** A decipher (`createDecipheriv`). */
  export interface Decipher extends CipherBase {
    setAuthTag(tag: Uint8Array): this;
  }
  /** A hash or HMAC. */
  export interface Hash {
    update(data: Uint8Array | string): Hash;
    digest(): Uint8Array;
  }
  export function createCipheriv(
    algorithm: string,
    key: Uint8Array,
    iv: Uint8Array | null,
    options?: { authTagLength?: number },
  ): Cipher;
  export function createDecipheriv(
    algorithm: string,
    key: Uint8Array,
    iv: Uint8Array | null,
    options?: { authTagLength?: number },
  ): Decipher;
  export function createHash(algorithm: string): Hash;
  export function createHmac(algorithm: string, key: Uint8Array): Hash;
}

declare module "node:zlib" {
  export function deflateSync(data: Uint8Array, options?: { level?: number }): Uint8Array;
}
