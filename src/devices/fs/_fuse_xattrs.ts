/**
 * The FUSE operations on extended attributes: `GETXATTR`, `LISTXATTR`
 * (a size of 0 asks for the length only; a buffer too small is ERANGE),
 * `SETXATTR` (values of at most 64 KiB) and `REMOVEXATTR`. Each returns
 * its reply's payload length.
 *
 * @module
 */

import { FuseGetxattrIn, FuseGetxattrOut, FuseSetxattrIn } from "../../generated/devices/fs.ts";
import { fsError } from "./filesystem.ts";
import type { FuseSession } from "./_fuse_session.ts";
import { OUT } from "./_fuse_wire.ts";

const encoder = new TextEncoder();

/** GETXATTR of the request's name, or LISTXATTR (`list`): the value, or its length. */
export function getxattr(s: FuseSession, nodeid: number, list: boolean): number {
  const size = s.req.in.getxattr.at(s.req.args(FuseGetxattrIn.SIZE)).bufferSize;
  const path = s.nodes.path(nodeid);
  let value: Uint8Array;
  if (!list) {
    value = s.fs.getxattr(path, s.req.string());
  } else {
    const names = s.fs.listxattr(path);
    value = encoder.encode(names.map((n) => n + "\0").join(""));
  }
  if (size === 0) {
    s.reply.ensure(FuseGetxattrOut.SIZE);
    const o = s.reply.o.xattr.at(OUT);
    o.valueSize = value.length;
    o.padding = 0;
    return FuseGetxattrOut.SIZE;
  }
  if (value.length > size) throw fsError("ERANGE", "attribute larger than the buffer");
  s.reply.ensure(value.length);
  s.reply.bytes.set(value, OUT);
  return value.length;
}

/** SETXATTR: the request's name and value. */
export function setxattr(s: FuseSession, nodeid: number): number {
  const req = s.req;
  const a = req.in.setxattr.at(req.args(FuseSetxattrIn.SIZE));
  const size = a.valueSize;
  const flags = a.flags;
  const path = s.nodes.path(nodeid);
  const name = req.string();
  if (size > req.len - req.pos || size > 65536) throw fsError("E2BIG", "attribute value");
  s.fs.setxattr(path, name, req.bytes.slice(req.pos, req.pos + size), flags);
  return 0;
}

/** REMOVEXATTR: the request's name. */
export function removexattr(s: FuseSession, nodeid: number): number {
  const path = s.nodes.path(nodeid);
  s.fs.removexattr(path, s.req.string());
  return 0;
}
