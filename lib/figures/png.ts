/**
 * Digit grids as PNG: MNIST digits laid out in rows (test digits beside their reconstructions, original /
 * corrupted / reconstructed, one row per hidden size, a strip of morph frames), scaled up by an integer
 * factor with a small gap between cells and an optional separator between groups of rows.
 *
 * @module
 */
import { UPNG } from "../deps.ts";

/** An 8-bit grayscale raster, row-major, one byte per pixel (0 black, 255 white). */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/**
 * One square digit, row-major: floats in [0, 1] (clamped), or bytes in [0, 255] when given as a
 * `Uint8Array` or `Uint8ClampedArray`. Its side is the square root of its length (28 for MNIST).
 */
export type Digit = ArrayLike<number>;

/** How {@link digitGrid} lays out its cells. */
export interface GridOptions {
  /** Each digit pixel becomes a `scale` × `scale` block (default 3). */
  scale?: number;
  /** Output pixels between cells and around the grid (default 2). */
  gap?: number;
  /** Gray level of the gaps and of cells that a short row leaves empty (default 128). */
  background?: number;
  /**
   * Row indices after which a separator is drawn: a white line `gap` thick with a `gap` on each side,
   * in place of the plain gap. `[0]` sets a first row of originals apart from the rows below it.
   */
  separateAfter?: number[];
}

/**
 * Lays out `rows` of digits as a grid, each row left-aligned; the width is that of the longest row.
 * A grid of R rows and C columns of side-S digits is `gap + C·(S·scale + gap)` wide and
 * `gap + R·(S·scale + gap) + 2·gap·separators` high.
 *
 * @example
 * ```ts
 * import { digitGrid } from "./png.ts";
 * const digit = new Float32Array(28 * 28).fill(1);
 * const grid = digitGrid([[digit, digit], [digit]], { scale: 2, gap: 1 });
 * console.log(grid.width, grid.height); // 115 115
 * ```
 */
export function digitGrid(rows: Digit[][], options: GridOptions = {}): GrayImage {
  const { scale = 3, gap = 2, background = 128, separateAfter = [] } = options;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`scale must be a positive integer`);
  }
  if (!Number.isInteger(gap) || gap < 0) throw new RangeError(`gap must be a whole number`);
  const first = rows.find((row) => row.length > 0)?.[0];
  if (first === undefined) throw new RangeError("digitGrid needs at least one digit");
  const side = Math.sqrt(first.length);
  if (!Number.isInteger(side)) {
    throw new RangeError(`a digit of ${first.length} values is not square`);
  }
  const cell = side * scale;
  const columns = Math.max(...rows.map((row) => row.length));
  const separators = new Set(
    separateAfter.filter((index) => index >= 0 && index < rows.length - 1),
  );
  const width = gap + columns * (cell + gap);
  const height = gap + rows.length * (cell + gap) + 2 * gap * separators.size;
  const pixels = new Uint8Array(width * height).fill(background);
  let top = gap;
  rows.forEach((row, r) => {
    row.forEach((digit, c) => {
      if (digit.length !== side * side) {
        throw new RangeError(
          `row ${r}, column ${c}: ${digit.length} values, expected ${side * side}`,
        );
      }
      drawDigit(pixels, width, gap + c * (cell + gap), top, digit, side, scale);
    });
    top += cell + gap;
    if (separators.has(r)) {
      pixels.fill(255, top * width, (top + gap) * width);
      top += 2 * gap;
    }
  });
  return { width, height, pixels };
}

function drawDigit(
  pixels: Uint8Array,
  width: number,
  left: number,
  top: number,
  digit: Digit,
  side: number,
  scale: number,
): void {
  const bytes = digit instanceof Uint8Array || digit instanceof Uint8ClampedArray;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const value = digit[y * side + x];
      const level = bytes ? value : Math.round(255 * Math.min(1, Math.max(0, value)));
      for (let dy = 0; dy < scale; dy++) {
        const start = (top + y * scale + dy) * width + left + x * scale;
        pixels.fill(level, start, start + scale);
      }
    }
  }
}

/**
 * Encodes a grayscale image as a PNG (lossless; written with a palette when it has at most 256 levels,
 * which a grayscale image always has).
 *
 * @example
 * ```ts
 * import { encodeGrayPng } from "./png.ts";
 * const png = encodeGrayPng({ width: 2, height: 1, pixels: new Uint8Array([0, 255]) });
 * console.log(png.subarray(1, 4)); // "PNG" in ASCII
 * ```
 */
export function encodeGrayPng(image: GrayImage): Uint8Array {
  const { width, height, pixels } = image;
  if (pixels.length !== width * height) {
    throw new RangeError(`${pixels.length} pixels for a ${width}×${height} image`);
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < pixels.length; i++) {
    rgba.fill(pixels[i], 4 * i, 4 * i + 3);
    rgba[4 * i + 3] = 255;
  }
  return new Uint8Array(UPNG.encode([rgba.buffer], width, height, 0));
}

/**
 * Lays out `rows` of digits with {@link digitGrid} and encodes the grid as a PNG.
 *
 * @example
 * ```ts
 * import { encodeDigitGrid } from "./png.ts";
 * const originals = [new Float32Array(784), new Float32Array(784).fill(0.5)];
 * const reconstructions = [new Float32Array(784), new Float32Array(784).fill(0.4)];
 * const png = encodeDigitGrid([originals, reconstructions], { separateAfter: [0] });
 * ```
 */
export function encodeDigitGrid(rows: Digit[][], options: GridOptions = {}): Uint8Array {
  return encodeGrayPng(digitGrid(rows, options));
}

/** A decoded PNG: its size and each frame as RGBA bytes (one frame unless it is an animated PNG). */
export interface DecodedPng {
  width: number;
  height: number;
  frames: Uint8Array[];
}

/**
 * Decodes a PNG of any colour type to RGBA frames, to check what was written.
 *
 * @example
 * ```ts
 * import { decodePng, encodeGrayPng } from "./png.ts";
 * const png = encodeGrayPng({ width: 1, height: 1, pixels: new Uint8Array([200]) });
 * console.log(decodePng(png).frames[0]); // Uint8Array [200, 200, 200, 255]
 * ```
 */
export function decodePng(bytes: Uint8Array): DecodedPng {
  const decoded = UPNG.decode(bytes.slice().buffer);
  const frames = UPNG.toRGBA8(decoded).map((frame) => new Uint8Array(frame));
  return { width: decoded.width, height: decoded.height, frames };
}
