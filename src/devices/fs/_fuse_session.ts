/**
 * What the FUSE server's operations share ({@link FuseSession}): the tree,
 * the request and reply of the moment, the node ids and the open handles.
 * The operations, one module per group, are functions of a session:
 * `_fuse_names.ts` (lookups and the names of the tree), `_fuse_attrs.ts`,
 * `_fuse_files.ts` (handles and file I/O), `_fuse_readdir.ts`,
 * `_fuse_xattrs.ts`.
 *
 * @module
 */

import { FuseEntryOut } from "../../generated/devices/fs.ts";
import type { FileSystem } from "./filesystem.ts";
import { guestChild } from "./_guest_path.ts";
import { FuseHandles } from "./_fuse_handles.ts";
import { FuseNodes } from "./_fuse_nodes.ts";
import { FuseReply, FuseRequest, OUT } from "./_fuse_wire.ts";

/** The state of one FUSE session (the server's; reset at INIT, DESTROY and device reset). */
export class FuseSession {
  /** The tree served. */
  readonly fs: FileSystem;
  /** The request being served. */
  readonly req: FuseRequest = new FuseRequest();
  /** Its reply. */
  readonly reply: FuseReply;
  /** The node ids handed out. */
  readonly nodes: FuseNodes;
  /** The open handles. */
  readonly handles: FuseHandles;

  /** A session over `fs` with the server's limits. */
  constructor(fs: FileSystem, maxHandles: number, maxNodes: number, cacheSeconds: number) {
    this.fs = fs;
    this.reply = new FuseReply(cacheSeconds);
    this.nodes = new FuseNodes(maxNodes);
    this.handles = new FuseHandles(maxHandles);
  }

  /**
   * The path of the request's next name inside directory node `dir`: every
   * operation that takes a name from the guest gets its path here.
   */
  child(dir: number): string {
    const path = this.nodes.path(dir);
    return guestChild(path, this.req.string());
  }

  /** A LOOKUP-like reply: stats `path`, takes a reference, fills fuse_entry_out; returns its size. */
  entry(path: string): number {
    this.reply.ensure(FuseEntryOut.SIZE);
    const st = this.fs.stat(path);
    this.reply.fillEntry(OUT, this.nodes.ref(path, st).id, st);
    return FuseEntryOut.SIZE;
  }
}
