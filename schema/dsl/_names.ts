/**
 * The names the generator gives a schema's fields and types: an accessor's camelCase name, a
 * class's PascalCase name. Re-exported by `schema/dsl.ts`.
 *
 * @module
 */

import type { FieldDef } from "./_types.ts";

/** The name of a field's accessor: its `accessor` option, or the camelCase of its name. */
export function accessorName(f: FieldDef): string {
  return f.accessor ?? camel(f.name);
}

/** `size_max` -> `sizeMax`, `QueueDescLow` -> `queueDescLow`. */
export function camel(name: string): string {
  const parts = name.split("_").filter((p) => p.length > 0);
  if (parts.length === 0) return name;
  const first = parts[0];
  const head = first === first.toUpperCase() && first.length > 1
    ? first.toLowerCase()
    : first[0].toLowerCase() + first.slice(1);
  return head +
    parts.slice(1).map((p) =>
      p === p.toUpperCase() ? p[0] + p.slice(1).toLowerCase() : p[0].toUpperCase() + p.slice(1)
    ).join("");
}

/** `virtio_blk_config` -> `VirtioBlkConfig`. */
export function pascal(name: string): string {
  const c = camel(name);
  return c[0].toUpperCase() + c.slice(1);
}
