/// <reference lib="dom" />
/**
 * The map of the latent space: every test digit at its point of the plane (the code itself for d = 2,
 * the first two principal components beyond), coloured by class. Any point of the plane decodes live
 * under the pointer or the keyboard's cursor; the nearest digit shows beside it with its reconstruction,
 * and a click (or Enter) selects it. A drawn digit's code shows as ◆.
 *
 * @module
 */
import { DigitView } from "./digit_view.ts";
import type { LatentSpace } from "./space.ts";
import { Latest } from "./work.ts";

/** The colour of each digit class (Tableau 10). */
export const CLASS_COLOURS: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#8c8c8c",
];

/** How near (in CSS pixels) a pointer must come to a dot to show its digit: mouse, touch. */
const NEAR = { mouse: 8, touch: 20 };

/** The part of the plane shown, in map coordinates. */
interface Extent {
  left: number;
  right: number;
  bottom: number;
  top: number;
}

/** The latent map panel. */
export class LatentMap {
  readonly #canvas = document.getElementById("map") as HTMLCanvasElement;
  readonly #decoded = new DigitView("map-decoded");
  readonly #digit = new DigitView("map-digit");
  readonly #reconstruction = new DigitView("map-reconstruction");
  readonly #decoding: Latest;
  readonly #reconstructing: Latest;
  readonly #onSelect: (index: number) => void;
  #space?: LatentSpace;
  #extent: Extent = { left: -1, right: 1, bottom: -1, top: 1 };
  /** Where each dot is drawn: the map's y, or for d = 1 (no y) a spread that keeps the dots apart. */
  #dotY: Float32Array = new Float32Array();
  #cursor: [number, number] | null = null;
  #selected: number | null = null;
  #marker: [number, number] | null = null;

  /** The panel; `onSelect` hears of each digit selected on the map, `onError` of failed decoding. */
  constructor(onSelect: (index: number) => void, onError: (error: unknown) => void) {
    this.#onSelect = onSelect;
    this.#decoding = new Latest(onError);
    this.#reconstructing = new Latest(onError);
    const legend = document.getElementById("legend")!;
    legend.replaceChildren(...CLASS_COLOURS.map((colour, digit) => {
      const item = document.createElement("li");
      item.style.setProperty("--swatch", colour);
      item.textContent = String(digit);
      return item;
    }));
    new ResizeObserver(() => this.#draw()).observe(this.#canvas);
    this.#canvas.addEventListener("pointermove", (event) => {
      if (event.pointerType === "mouse" || event.buttons) this.#pointAt(event, false);
    });
    this.#canvas.addEventListener("pointerdown", (event) => this.#pointAt(event, true));
    this.#canvas.addEventListener("keydown", (event) => this.#key(event));
  }

  /** Shows the test digits of `space`; the selection stays, the cursor goes. */
  setSpace(space: LatentSpace): void {
    this.#space = space;
    const { x, y } = space.points;
    const spread = space.hidden === 1;
    const width = range(x);
    // With d = 1 the map has one dimension: the dots are spread over a band for visibility.
    this.#dotY = spread ? x.map((_, i) => ((i * 0.618034) % 1 - 0.5) * width * 0.5) : y;
    const pad = (low: number, high: number) => {
      const margin = Math.max(high - low, 1e-6) * 0.05;
      return [low - margin, high + margin];
    };
    const [left, right] = pad(...extremes(x));
    const [bottom, top] = pad(...extremes(this.#dotY));
    this.#extent = { left, right, bottom, top };
    this.#cursor = null;
    document.getElementById("map-axes")!.textContent = space.hidden > 2
      ? `d = ${space.hidden}: across, the codes' first principal component; up, their second.`
      : space.hidden === 2
      ? "d = 2: across, z₁; up, z₂."
      : "d = 1: across, z₁ (dots spread upwards only to be seen).";
    this.#canvas.setAttribute(
      "aria-label",
      `Map of ${space.digits.count} test digits in the latent space of the ${space.entry.label}`,
    );
    this.#decoded.show(null);
    this.#showDigit(this.#selected);
    this.#draw();
  }

  /** Selects test digit `index`: ringed on the map, shown with its reconstruction. */
  #select(index: number): void {
    this.#selected = index;
    document.getElementById("selected")!.textContent = this.#space
      ? `test digit #${index}, a ${this.#space.digits.labels[index]}`
      : `test digit #${index}`;
    this.#showDigit(index);
    this.#draw();
    this.#onSelect(index);
  }

  /** Marks `code` (a drawn digit's) on the map as ◆; `null` removes the mark. */
  setMarker(code: Float32Array | null): void {
    this.#marker = code && this.#space ? this.#space.pointOf(code) : null;
    this.#draw();
  }

  /** Moves the cursor to the pointer of `event`; shows, or with `select` selects, the digit nearby. */
  #pointAt(event: PointerEvent, select: boolean): void {
    if (!this.#space) return;
    const box = this.#canvas.getBoundingClientRect();
    const [px, py] = [event.clientX - box.left, event.clientY - box.top];
    const { left, right, bottom, top } = this.#extent;
    this.#moveCursor([
      left + (px / box.width) * (right - left),
      top - (py / box.height) * (top - bottom),
    ]);
    const near = event.pointerType === "mouse" ? NEAR.mouse : NEAR.touch;
    const nearest = this.#nearest(px, py, box);
    if (nearest !== null && nearest.distance <= near) {
      if (select) this.#select(nearest.index);
      else this.#showDigit(nearest.index);
    } else this.#showDigit(this.#selected);
  }

  /** Arrows move the cursor (Shift: further), Enter or Space selects the digit nearest to it. */
  #key(event: KeyboardEvent): void {
    if (!this.#space) return;
    const { left, right, bottom, top } = this.#extent;
    const step = event.shiftKey ? 0.1 : 0.02;
    const [x, y] = this.#cursor ?? [(left + right) / 2, (bottom + top) / 2];
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [-step * (right - left), 0],
      ArrowRight: [step * (right - left), 0],
      ArrowUp: [0, step * (top - bottom)],
      ArrowDown: [0, -step * (top - bottom)],
    };
    if (event.key in moves) {
      const [dx, dy] = moves[event.key];
      this.#moveCursor([clamp(x + dx, left, right), clamp(y + dy, bottom, top)]);
    } else if (event.key === "Enter" || event.key === " ") {
      const box = this.#canvas.getBoundingClientRect();
      const nearest = this.#nearest(...this.#toPixels(x, y, box), box);
      if (nearest) this.#select(nearest.index);
    } else return;
    event.preventDefault();
  }

  /** Puts the cursor at `point` and decodes the code there. */
  #moveCursor(point: [number, number]): void {
    const space = this.#space!;
    this.#cursor = point;
    this.#draw();
    const [x, y] = point;
    // With d = 1 the map's height is only a spread: the code is the point's x.
    const code = space.codeAt(x, space.hidden === 1 ? 0 : y);
    document.getElementById("map-decoded-caption")!.textContent = space.hidden === 1
      ? `decoded at z₁ = ${x.toFixed(2)}`
      : `decoded at (${x.toFixed(2)}, ${y.toFixed(2)})`;
    this.#decoding.run(async () => {
      const [pixels] = await space.decode([code]);
      if (this.#space === space) this.#decoded.show(pixels);
    });
  }

  /** Shows test digit `index` (none: `null`) and its reconstruction. */
  #showDigit(index: number | null): void {
    const space = this.#space;
    const caption = document.getElementById("map-digit-caption")!;
    if (index === null || !space) {
      caption.textContent = "nearest digit";
      this.#digit.show(null);
      this.#reconstruction.show(null);
      return;
    }
    caption.textContent = `#${index}, a ${space.digits.labels[index]}`;
    const pixels = space.pixels(index);
    this.#digit.show(pixels);
    this.#reconstructing.run(async () => {
      const reconstruction = await space.reconstruct(pixels);
      if (this.#space === space) this.#reconstruction.show(reconstruction);
    });
  }

  /** The dot nearest to the canvas point (px, py), in CSS pixels, and how far it is. */
  #nearest(px: number, py: number, box: DOMRect): { index: number; distance: number } | null {
    const { x } = this.#space!.points;
    let best: { index: number; distance: number } | null = null;
    for (let i = 0; i < x.length; i++) {
      const [dx, dy] = this.#toPixels(x[i], this.#dotY[i], box);
      const distance = Math.hypot(dx - px, dy - py);
      if (!best || distance < best.distance) best = { index: i, distance };
    }
    return best;
  }

  /** The point (x, y) of the map in pixels of a canvas `box` in size. */
  #toPixels(x: number, y: number, box: { width: number; height: number }): [number, number] {
    const { left, right, bottom, top } = this.#extent;
    return [
      ((x - left) / (right - left)) * box.width,
      ((top - y) / (top - bottom)) * box.height,
    ];
  }

  /** Redraws the map at the canvas's size on screen. */
  #draw(): void {
    const canvas = this.#canvas;
    const scale = devicePixelRatio || 1;
    const size = { width: canvas.clientWidth * scale, height: canvas.clientHeight * scale };
    if (size.width === 0) return;
    [canvas.width, canvas.height] = [Math.round(size.width), Math.round(size.height)];
    const context = canvas.getContext("2d")!;
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    const space = this.#space;
    if (!space) return;
    const { x } = space.points;
    const labels = space.digits.labels;
    context.globalAlpha = 0.75;
    for (let i = 0; i < x.length; i++) {
      const [px, py] = this.#toPixels(x[i], this.#dotY[i], size);
      context.fillStyle = CLASS_COLOURS[labels[i]];
      context.beginPath();
      context.arc(px, py, 2.5 * scale, 0, 2 * Math.PI);
      context.fill();
    }
    context.globalAlpha = 1;
    context.strokeStyle = "#000";
    context.lineWidth = 2 * scale;
    if (this.#selected !== null) {
      const [px, py] = this.#toPixels(x[this.#selected], this.#dotY[this.#selected], size);
      context.beginPath();
      context.arc(px, py, 7 * scale, 0, 2 * Math.PI);
      context.stroke();
    }
    if (this.#marker) {
      const [px, py] = this.#toPixels(
        this.#marker[0],
        space.hidden === 1 ? 0 : this.#marker[1],
        size,
      );
      const r = 8 * scale;
      context.beginPath();
      context.moveTo(px, py - r);
      context.lineTo(px + r, py);
      context.lineTo(px, py + r);
      context.lineTo(px - r, py);
      context.closePath();
      context.fillStyle = "#000";
      context.fill();
      context.strokeStyle = "#fff";
      context.stroke();
    }
    if (this.#cursor) {
      const [px, py] = this.#toPixels(...this.#cursor, size);
      context.strokeStyle = "rgba(0, 0, 0, 0.6)";
      context.lineWidth = scale;
      context.beginPath();
      context.moveTo(px - 12 * scale, py);
      context.lineTo(px + 12 * scale, py);
      context.moveTo(px, py - 12 * scale);
      context.lineTo(px, py + 12 * scale);
      context.stroke();
    }
  }
}

/** The smallest and largest of `values`. */
function extremes(values: Float32Array): [number, number] {
  let [low, high] = [Infinity, -Infinity];
  for (const value of values) [low, high] = [Math.min(low, value), Math.max(high, value)];
  return [low, high];
}

/** How far `values` spread (at least a little, so that a map of equal values still has a width). */
function range(values: Float32Array): number {
  const [low, high] = extremes(values);
  return Math.max(high - low, 1e-6);
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
