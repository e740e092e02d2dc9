/**
 * The inspector's DOM: an overview row per queue of every device (indices,
 * event suppression, notifications, interrupts, a rate plot) and a detail
 * view of the selected queue (a picture of its rings, the descriptor table,
 * chains waiting for the device, the rate plot). Everything shown comes
 * from {@link QueueInspector.snapshot} of the moment it is drawn.
 *
 * @module
 */

import type { QueueInspector, QueueSnapshot, RatePoint } from "./inspector.ts";
import {
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_USED,
  VIRTQ_DESC_F_WRITE,
} from "../src/generated/virtqueue.ts";

const hex = (n: number): string => "0x" + n.toString(16);

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** Sets `e`'s text only when it changed (no layout work otherwise). */
const setText = (e: Element, text: string): void => {
  if (e.textContent !== text) e.textContent = text;
};

/** Descriptor flags as letters: N(ext) W(rite) I(ndirect), packed A(vail) U(sed). */
export function flagText(flags: number, packed: boolean): string {
  let s = "";
  if (flags & VIRTQ_DESC_F_NEXT) s += "N";
  if (flags & VIRTQ_DESC_F_WRITE) s += "W";
  if (flags & VIRTQ_DESC_F_INDIRECT) s += "I";
  if (packed) {
    s += flags & VIRTQ_DESC_F_AVAIL ? "A" : "a";
    s += flags & VIRTQ_DESC_F_USED ? "U" : "u";
  }
  return s || "-";
}

const COLORS = { avail: "#e0a800", used: "#2e9d5b", kicks: "#4a7bd0", interrupts: "#c0392b" };
const SERIES = ["avail", "used", "kicks", "interrupts"] as const;

/** Draws a rate history on `canvas`, every series scaled to the largest value. */
function plot(canvas: HTMLCanvasElement, h: readonly RatePoint[], capacity: number): void {
  const g = canvas.getContext("2d");
  if (g === null) return;
  const w = canvas.width, ht = canvas.height;
  g.clearRect(0, 0, w, ht);
  let max = 1;
  for (const p of h) for (const s of SERIES) max = Math.max(max, p[s]);
  // Wider lines first, so that series that coincide (a blk queue's four) all stay visible.
  SERIES.forEach((s, k) => {
    g.strokeStyle = COLORS[s];
    g.lineWidth = 2 * (SERIES.length - k) - 1;
    g.beginPath();
    h.forEach((p, i) => {
      const x = w - (h.length - i) * (w / capacity);
      const y = ht - 1 - (p[s] / max) * (ht - 2);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  });
}

interface Row {
  readonly inspector: QueueInspector;
  readonly queue: number;
  readonly cells: Record<string, HTMLTableCellElement>;
  readonly canvas: HTMLCanvasElement;
  /** What the canvases last showed: redrawn only when it changes (painting is the dear part). */
  plotted: unknown;
}

const FIELDS = [
  "layout",
  "size",
  "avail-idx",
  "device-at",
  "used-idx",
  "in-flight",
  "pending",
  "no-notify",
  "no-interrupt",
  "events",
  "kicks",
  "interrupts",
] as const;

/** The inspector panel over `inspectors`, drawn into `root`. */
export class InspectorView {
  readonly #rows: Row[] = [];
  readonly #detail: HTMLElement;
  readonly #detailTitle: HTMLElement;
  readonly #ring: HTMLCanvasElement;
  readonly #bigPlot: HTMLCanvasElement;
  readonly #facts: HTMLElement;
  readonly #chains: HTMLElement;
  readonly #descBody: HTMLTableSectionElement;
  #selected: Row | undefined;
  #ringKey = "";
  #ringRow: Row | undefined;
  #bigPlotted: unknown;

  /** Builds the panel. */
  constructor(root: HTMLElement, inspectors: readonly QueueInspector[]) {
    const head = el("tr", {}, el("th", {}, "queue"));
    for (
      const t of [
        "ring",
        "size",
        "avail idx",
        "device at",
        "used idx",
        "in flight",
        "waiting",
        "no notify",
        "no intr",
        "events",
        "kicks",
        "irqs",
        "rates, 60 s",
      ]
    ) head.append(el("th", {}, t));
    const body = el("tbody");
    for (const inspector of inspectors) {
      for (let q = 0; q < inspector.queueCount; q++) {
        const id = `${inspector.name}/${q}`;
        const tr = el("tr", { "data-queue": id, tabindex: "0" }, el("td", {}, id));
        const cells: Record<string, HTMLTableCellElement> = {};
        for (const f of FIELDS) {
          cells[f] = el("td", { "data-field": f });
          tr.append(cells[f]);
        }
        const canvas = el("canvas", { width: "100", height: "20" });
        tr.append(el("td", {}, canvas));
        const row: Row = { inspector, queue: q, cells, canvas, plotted: undefined };
        tr.addEventListener("click", () => this.select(row));
        this.#rows.push(row);
        body.append(tr);
      }
    }
    const legend = el("p", { class: "legend" });
    for (const s of SERIES) {
      legend.append(el("span", { style: `color:${COLORS[s]}` }, `■ ${s}/s `));
    }
    this.#detailTitle = el("h3");
    this.#ring = el("canvas", { width: "640", height: "130", class: "ring" });
    this.#bigPlot = el("canvas", { width: "640", height: "90" });
    this.#facts = el("pre", { class: "facts" });
    this.#chains = el("pre", { class: "chains" });
    this.#descBody = el("tbody");
    this.#detail = el(
      "div",
      { class: "detail" },
      this.#detailTitle,
      this.#ring,
      this.#facts,
      el("h4", {}, "rates"),
      this.#bigPlot,
      legend,
      el("h4", {}, "chains waiting for the device"),
      this.#chains,
      el("h4", {}, "descriptors"),
      el(
        "div",
        { class: "descs" },
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", {}, "#"),
              el("th", {}, "addr"),
              el("th", {}, "len"),
              el("th", {}, "flags"),
              el("th", {}, "next / id"),
            ),
          ),
          this.#descBody,
        ),
      ),
    );
    root.append(el("table", { class: "queues" }, el("thead", {}, head), body), this.#detail);
    const first = this.#rows[0];
    if (first !== undefined) this.select(first);
  }

  /** Shows `row`'s queue in the detail view. */
  select(row: Row): void {
    this.#selected = row;
    this.#ringKey = "";
    this.#bigPlotted = undefined;
    for (const r of this.#rows) {
      r.cells.layout.parentElement?.classList.toggle("selected", r === row);
    }
    this.#descBody.replaceChildren();
  }

  /** Selects the queue named `device/q` (for the page's API). */
  selectByName(id: string): boolean {
    const row = this.#rows.find((r) => `${r.inspector.name}/${r.queue}` === id);
    if (row !== undefined) this.select(row);
    return row !== undefined;
  }

  /** Redraws every row and the detail view from fresh snapshots. */
  render(): void {
    for (const row of this.#rows) {
      // Only the selected queue is read whole; the other rows need its indices.
      const s = row.inspector.snapshot(row.queue, row === this.#selected);
      const c = row.cells;
      setText(c.layout, s.ready ? s.layout : "off");
      setText(c.size, String(s.size));
      setText(c["avail-idx"], s.avail ? String(s.avail.idx) : "—");
      setText(
        c["device-at"],
        s.position
          ? (s.layout === "packed"
            ? `${s.position.availIdx}/w${s.position.availWrap}`
            : String(s.position.availIdx))
          : "—",
      );
      setText(
        c["used-idx"],
        s.used ? String(s.used.idx) : s.position ? String(s.position.usedIdx) : "—",
      );
      setText(c["in-flight"], s.position ? String(s.position.inFlight) : "—");
      setText(c.pending, String(s.waiting));
      setText(c["no-notify"], s.suppression.deviceNoNotify ? "set" : "");
      setText(c["no-interrupt"], s.suppression.driverNoInterrupt ? "set" : "");
      const sup = s.suppression;
      const wrap = (w: number | undefined) => w === undefined ? "" : `/w${w}`;
      setText(
        c.events,
        sup.driverEvent === undefined
          ? ""
          : `${sup.driverEvent}${wrap(sup.driverEventWrap)} / ${sup.deviceEvent}${
            wrap(sup.deviceEventWrap)
          }`,
      );
      setText(c.kicks, String(s.kicks));
      setText(c.interrupts, String(s.interrupts));
      // The history gains a point once a second: redraw the plot then, not at every render.
      const h = row.inspector.history(row.queue);
      if (row.plotted !== h.at(-1)) {
        row.plotted = h.at(-1);
        plot(row.canvas, h.slice(-60), 60);
      }
      if (row === this.#selected) this.#renderDetail(row, s);
    }
  }

  #renderDetail(row: Row, s: QueueSnapshot): void {
    setText(
      this.#detailTitle,
      `${s.device} queue ${s.queue}: ${s.layout} ring of ${s.size}` +
        (s.eventIdx ? ", EVENT_IDX" : "") + (s.ready ? "" : " (not enabled)"),
    );
    const ringKey = s.layout === "split"
      ? `${s.ready} ${s.avail?.idx} ${s.used?.idx} ${s.position?.availIdx}`
      : `${s.ready} ${s.position?.availIdx} ${s.position?.availWrap} ${s.waiting}`;
    if (ringKey !== this.#ringKey || row !== this.#ringRow) {
      this.#ringKey = ringKey;
      this.#ringRow = row;
      drawRings(this.#ring, s);
    }
    const sup = s.suppression;
    const lines = [
      `descriptor area ${hex(s.desc)}  driver area ${hex(s.driver)}  device area ${
        hex(s.deviceArea)
      }`,
      s.layout === "split"
        ? `driver: avail.idx ${s.avail?.idx ?? "—"}, flags ${s.avail?.flags ?? "—"}` +
          (sup.driverEvent !== undefined ? `, used_event ${sup.driverEvent}` : "")
        : `driver event suppression: flags ${sup.driverFlags}, desc ${sup.driverEvent ?? "—"}` +
          (sup.driverEventWrap !== undefined ? ` wrap ${sup.driverEventWrap}` : ""),
      s.layout === "split"
        ? `device: used.idx ${s.used?.idx ?? "—"}, flags ${s.used?.flags ?? "—"}` +
          (sup.deviceEvent !== undefined ? `, avail_event ${sup.deviceEvent}` : "")
        : `device event suppression: flags ${sup.deviceFlags}, desc ${sup.deviceEvent ?? "—"}` +
          (sup.deviceEventWrap !== undefined ? ` wrap ${sup.deviceEventWrap}` : ""),
      s.position
        ? `device side: next avail ${s.position.availIdx}` +
          (s.layout === "packed" ? ` (wrap ${s.position.availWrap})` : "") +
          `, next used ${s.position.usedIdx}` +
          (s.layout === "packed" ? ` (wrap ${s.position.usedWrap})` : "") +
          `, ${s.position.inFlight} chain(s) in flight`
        : "device side: not active",
      `notifications (driver → device): ${s.kicks}   interrupts (device → driver): ${s.interrupts}`,
    ];
    if (s.error) lines.push(`error: ${s.error}`);
    setText(this.#facts, lines.join("\n"));
    const h = row.inspector.history(row.queue);
    if (h.at(-1) !== this.#bigPlotted || row !== this.#ringRow) {
      this.#bigPlotted = h.at(-1);
      plot(this.#bigPlot, h, 120);
    }
    const chainLines = s.pending.slice(0, 12).map((c) =>
      `slot ${c.slot}: head ${c.head} → [${
        c.descs.join(" → ")
      }] out ${c.outBytes} B, in ${c.inBytes} B` +
      (c.indirect ? ", indirect" : "") + (c.broken ? ", BROKEN" : "")
    );
    if (s.pending.length > 12) chainLines.push(`… ${s.pending.length - 12} more`);
    if (s.used && s.used.idx !== undefined) {
      chainLines.push("last used:");
      for (let k = 1; k <= Math.min(4, s.size); k++) {
        const e = s.used.ring[(s.used.idx - k + 0x10000) % s.size];
        chainLines.push(`  used[${(s.used.idx - k + 0x10000) % s.size}] id ${e.id} len ${e.len}`);
      }
    }
    setText(this.#chains, chainLines.join("\n") || "(none)");
    const body = this.#descBody;
    const packed = s.layout === "packed";
    for (let i = 0; i < s.descs.length; i++) {
      let tr = body.rows[i];
      if (tr === undefined) {
        tr = body.insertRow();
        for (let k = 0; k < 5; k++) tr.insertCell();
        setText(tr.cells[0], String(i));
      }
      const d = s.descs[i];
      setText(tr.cells[1], hex(d.addr));
      setText(tr.cells[2], String(d.len));
      setText(tr.cells[3], flagText(d.flags, packed));
      setText(tr.cells[4], String(d.nextOrId));
    }
    while (body.rows.length > s.descs.length) body.deleteRow(-1);
  }
}

/**
 * The picture of a queue's rings. Split: the available ring and the used
 * ring as rows of slots, marked where the driver's `avail.idx`, the device's
 * next read and `used.idx` stand; slots waiting for the device in amber,
 * slots the device took and has not returned in orange. Packed: the one
 * descriptor ring, each slot coloured by its AVAIL/USED bits against the
 * device's wrap counter, the device's position marked.
 */
function drawRings(canvas: HTMLCanvasElement, s: QueueSnapshot): void {
  const g = canvas.getContext("2d");
  if (g === null) return;
  const w = canvas.width;
  g.clearRect(0, 0, w, canvas.height);
  g.font = "11px monospace";
  const n = s.size;
  if (!s.ready || n === 0) {
    g.fillStyle = "#888";
    g.fillText("queue not enabled", 8, 20);
    return;
  }
  const perRow = Math.min(n, 64);
  const cell = Math.floor((w - 90) / perRow);
  const rows = Math.ceil(n / perRow);
  const strip = (
    y: number,
    label: string,
    color: (i: number) => string,
    marks: { at: number; label: string; color: string }[],
  ): number => {
    g.fillStyle = "#333";
    g.fillText(label, 2, y + 10);
    for (let i = 0; i < n; i++) {
      const x = 88 + (i % perRow) * cell, yy = y + Math.floor(i / perRow) * (cell + 1);
      g.fillStyle = color(i);
      g.fillRect(x, yy, cell - 1, cell);
    }
    for (const m of marks) {
      const i = ((m.at % n) + n) % n;
      const x = 88 + (i % perRow) * cell, yy = y + Math.floor(i / perRow) * (cell + 1);
      g.strokeStyle = m.color;
      g.lineWidth = 2;
      g.strokeRect(x - 1, yy - 1, cell + 1, cell + 2);
      g.fillStyle = m.color;
      g.fillText(m.label, x, yy + cell + 10);
    }
    return y + rows * (cell + 1) + 16;
  };
  const pos = s.position;
  if (s.layout === "split" && s.avail && s.used) {
    const availIdx = s.avail.idx, usedIdx = s.used.idx;
    const devAt = pos?.availIdx ?? usedIdx;
    // Slot i lies in [from, to) of free-running 16-bit indices (at most n entries apart).
    const within = (i: number, from: number, to: number) =>
      (i - (from % n) + n) % n < Math.min((to - from) & 0xffff, n);
    let y = 4;
    y = strip(
      y,
      "avail ring",
      (i) =>
        within(i, devAt, availIdx) ? "#e0a800" : within(i, usedIdx, devAt) ? "#e67e22" : "#d5d8dc",
      [
        { at: availIdx, label: "idx", color: "#b7950b" },
        { at: devAt, label: "dev", color: "#1f618d" },
      ],
    );
    strip(
      y,
      "used ring",
      (i) => within(i, (usedIdx - Math.min(8, n)) & 0xffff, usedIdx) ? "#82e0aa" : "#d5d8dc",
      [{ at: usedIdx, label: "idx", color: "#1e8449" }],
    );
  } else {
    const wrap = pos?.availWrap ?? 1;
    // 2.8.1: AVAIL != USED is a descriptor made available and not yet used.
    strip(4, "desc ring", (i) => {
      const f = s.descs[i]?.flags ?? 0;
      const a = f & VIRTQ_DESC_F_AVAIL ? 1 : 0, u = f & VIRTQ_DESC_F_USED ? 1 : 0;
      return a !== u ? "#e0a800" : "#d5d8dc";
    }, pos ? [{ at: pos.availIdx, label: `dev w${wrap}`, color: "#1f618d" }] : []);
  }
}
