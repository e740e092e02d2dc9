/**
 * Reads a schema module's source text with ts-morph, before and after it
 * runs: what evaluating the module cannot tell.
 *
 * - Object literals with the same key twice: JavaScript keeps the later
 *   value silently, so `{ capacity: le32, capacity: le16 }` would lose a
 *   field. They are a {@link SchemaError}.
 * - The order of the exports: a module namespace lists its exports
 *   alphabetically, but generated code follows the schema (the spec's order).
 * - Where a schema or a field is written, to put `file:line:col` in errors
 *   thrown while the module runs (`le61 is not defined`, an overlap).
 *
 * @module
 */
import type { CallExpression, Node as TsNode, ObjectLiteralExpression, SourceFile } from "ts-morph";
import { SchemaError } from "../src/errors.ts";
import { tsMorph } from "./_ts_morph.ts";

const { Node, Project, SyntaxKind } = tsMorph;
type Node = TsNode;

/** What {@link analyseSchemaSource} found in a schema module's text. */
export interface SchemaSource {
  /** The label used in messages (the path as given). */
  readonly label: string;
  /** Exported names in the order they are written. */
  readonly exportOrder: readonly string[];
  /** `label:line:col` of a schema (the call that names it) or one of its fields. */
  locate(schema: string, field?: string): string | undefined;
  /** Where an undefined name is first used: its schema and field, and `label:line:col`. */
  locateName(
    name: string,
  ): { schema: string | undefined; field: string | undefined; at: string } | undefined;
}

let project: InstanceType<typeof Project> | undefined;

function propertyName(p: Node): string | undefined {
  if (
    Node.isPropertyAssignment(p) || Node.isShorthandPropertyAssignment(p) ||
    Node.isMethodDeclaration(p) || Node.isGetAccessorDeclaration(p) ||
    Node.isSetAccessorDeclaration(p)
  ) {
    const n = p.getNameNode();
    if (Node.isIdentifier(n) || Node.isPrivateIdentifier(n)) return n.getText();
    if (Node.isStringLiteral(n) || Node.isNoSubstitutionTemplateLiteral(n)) {
      return n.getLiteralText();
    }
    if (Node.isNumericLiteral(n)) return String(n.getLiteralValue());
  }
  return undefined; // computed names and spreads: not knowable here
}

/** The call that names a schema: `struct("name", ...)`, `flags("name", ...)`. */
function schemaCall(node: Node): { call: CallExpression; name: string } | undefined {
  for (let n: Node | undefined = node; n !== undefined; n = n.getParent()) {
    if (Node.isCallExpression(n)) {
      const first = n.getArguments()[0];
      if (first && (Node.isStringLiteral(first) || Node.isNoSubstitutionTemplateLiteral(first))) {
        return { call: n, name: first.getLiteralText() };
      }
    }
  }
  return undefined;
}

/**
 * Whether a property names a field (or a bitfield or a constant): its object literal is passed
 * straight to a schema call (`struct("x", { ... })`) or to `bits(word, { ... })`. Properties
 * of option objects (`field(le32, { offset: 4 })`, `{ width: 3, doc }`) name no field.
 */
function namesField(p: Node): boolean {
  const lit = p.getParent();
  const call = lit?.getParent();
  if (!lit || !call || !Node.isCallExpression(call) || !call.getArguments().includes(lit)) {
    return false;
  }
  const first = call.getArguments()[0];
  if (first && (Node.isStringLiteral(first) || Node.isNoSubstitutionTemplateLiteral(first))) {
    return true;
  }
  return call.getExpression().getText() === "bits";
}

/** The dotted field path of a node inside a schema call's field map (`desc.desc_event_off`). */
function fieldPath(node: Node, stop: Node | undefined): string | undefined {
  const names: string[] = [];
  for (let n: Node | undefined = node; n !== undefined && n !== stop; n = n.getParent()) {
    if ((Node.isPropertyAssignment(n) || Node.isShorthandPropertyAssignment(n)) && namesField(n)) {
      const name = propertyName(n);
      if (name !== undefined) names.unshift(name);
    }
  }
  return names.length ? names.join(".") : undefined;
}

function where(label: string, file: SourceFile, pos: number): string {
  const { line, column } = file.getLineAndColumnAtPos(pos);
  return `${label}:${line}:${column}`;
}

function checkDuplicates(label: string, file: SourceFile): void {
  for (const lit of file.getDescendantsOfKind(SyntaxKind.ObjectLiteralExpression)) {
    const seen = new Map<string, Node>();
    for (const p of (lit as ObjectLiteralExpression).getProperties()) {
      const name = propertyName(p);
      if (name === undefined) continue;
      const first = seen.get(name);
      if (first === undefined) {
        seen.set(name, p);
        continue;
      }
      const owner = schemaCall(lit);
      const outer = fieldPath(lit, owner?.call);
      const firstLine = file.getLineAndColumnAtPos(first.getStart()).line;
      throw new SchemaError(
        owner?.name ?? label,
        outer === undefined ? name : `${outer}.${name}`,
        `given twice, at line ${firstLine} and at ${where(label, file, p.getStart())}; ` +
          "the later would silently replace the earlier",
        { code: "ERR_VIRTIO_SCHEMA_DUPLICATE" },
      );
    }
  }
}

function exportOrder(file: SourceFile): string[] {
  const names: string[] = [];
  for (const st of file.getStatements()) {
    if (Node.isVariableStatement(st) && st.isExported()) {
      for (const d of st.getDeclarations()) names.push(d.getName());
    } else if (Node.isExportDeclaration(st)) {
      for (const e of st.getNamedExports()) names.push(e.getAliasNode()?.getText() ?? e.getName());
    }
  }
  return names;
}

/**
 * Parses a schema module's text: throws {@link SchemaError} (code
 * `ERR_VIRTIO_SCHEMA_DUPLICATE`) for an object literal with a key given twice,
 * and returns the export order and a locator for later errors.
 */
export function analyseSchemaSource(text: string, label: string): SchemaSource {
  project ??= new Project({ useInMemoryFileSystem: true });
  const file = project.createSourceFile("schema.ts", text, { overwrite: true });
  try {
    checkDuplicates(label, file);
    const order = exportOrder(file);
    const calls = new Map<string, CallExpression>();
    for (const call of file.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      const first = call.getArguments()[0];
      if (first && Node.isStringLiteral(first) && !calls.has(first.getLiteralText())) {
        calls.set(first.getLiteralText(), call);
      }
    }
    const fieldPos = new Map<string, string>();
    for (const [schema, call] of calls) {
      fieldPos.set(schema, where(label, file, call.getStart()));
      for (const lit of call.getDescendantsOfKind(SyntaxKind.ObjectLiteralExpression)) {
        for (const p of lit.getProperties()) {
          const path = fieldPath(p, call);
          if (path === undefined) continue;
          const key = `${schema}\u0000${path}`;
          if (!fieldPos.has(key)) fieldPos.set(key, where(label, file, p.getStart()));
        }
      }
    }
    const uses = new Map<string, { schema?: string; field?: string; at: string }>();
    for (const id of file.getDescendantsOfKind(SyntaxKind.Identifier)) {
      const parent = id.getParent();
      const isValue = (Node.isPropertyAssignment(parent) && parent.getInitializer() === id) ||
        Node.isShorthandPropertyAssignment(parent) ||
        (Node.isCallExpression(parent) && parent.getArguments().includes(id)) ||
        Node.isArrayLiteralExpression(parent);
      if (!isValue || uses.has(id.getText())) continue;
      const owner = schemaCall(id);
      uses.set(id.getText(), {
        schema: owner?.name,
        field: fieldPath(id, owner?.call),
        at: where(label, file, id.getStart()),
      });
    }
    return {
      label,
      exportOrder: order,
      locate(schema, field) {
        const exact = field === undefined ? undefined : fieldPos.get(`${schema}\u0000${field}`);
        return exact ?? fieldPos.get(schema);
      },
      locateName(name) {
        const u = uses.get(name);
        return u && { schema: u.schema, field: u.field, at: u.at };
      },
    };
  } finally {
    project.removeSourceFile(file);
  }
}
