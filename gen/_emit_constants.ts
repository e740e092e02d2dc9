/**
 * Emits a constant group: each constant on its own (unless the group says not to) and the
 * group as a frozen object.
 *
 * @module
 */
import type { VariableStatementStructure } from "ts-morph";
import { tsMorph } from "./_ts_morph.ts";
import { type ConstantGroup, pascal } from "../schema/dsl.ts";
import { jsdoc } from "./_emit_code.ts";

const { StructureKind, VariableDeclarationKind } = tsMorph;

export function emitConstants(g: ConstantGroup): VariableStatementStructure[] {
  const out: VariableStatementStructure[] = [];
  const kindText = g.constantKind === "bits"
    ? "Bit numbers"
    : g.constantKind === "flags"
    ? "Bit masks"
    : "Values";
  if (g.exportMembers) {
    for (const c of g.constants) {
      out.push({
        kind: StructureKind.VariableStatement,
        isExported: true,
        declarationKind: VariableDeclarationKind.Const,
        docs: [
          jsdoc(
            [c.doc, `\`${g.name}\`: ${c.value}${g.constantKind === "bits" ? " (bit number)" : ""}.`]
              .filter(Boolean).join("\n\n"),
          ),
        ],
        declarations: [{ name: c.name, type: "number", initializer: String(c.value) }],
      });
    }
  }
  const type = `{ ${g.constants.map((c) => `readonly ${c.name}: number;`).join(" ")} }`;
  out.push({
    kind: StructureKind.VariableStatement,
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: [jsdoc([g.doc, `${kindText} of the \`${g.name}\` group.`].filter(Boolean).join("\n\n"))],
    declarations: [{
      name: pascal(g.name),
      type,
      initializer: `Object.freeze({ ${
        g.constants.map((c) => `${c.name}: ${c.value}`).join(", ")
      } })`,
    }],
  });
  return out;
}
