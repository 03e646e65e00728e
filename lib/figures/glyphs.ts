/**
 * Digits written as text inside a digit grid: a digit's 5 × 7 glyph drawn into a cell of the grid's size,
 * so that a row of them under a row of images says what each image was read as (the classifier's reading
 * of every frame of a morph) without a font or a chart.
 *
 * @module
 */
import { IMAGE_SIDE } from "../data/geometry.ts";

/** The 5 × 7 glyphs of the digits 0–9, row by row, `#` for ink. */
const GLYPHS: readonly string[][] = [
  [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
  ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
  [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
  ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "],
  ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
  ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
  ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
  ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
  [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
  [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
];

/** Each glyph pixel becomes a block of this many cell pixels a side. */
const GLYPH_SCALE = 3;

/**
 * A grid cell (`side × side` bytes, row-major, white ink on black) showing the digit `digit` as text,
 * centred: a cell for a row of {@link encodeDigitGrid} under the images it names.
 *
 * @example
 * ```ts
 * import { digitGlyph } from "./glyphs.ts";
 * import { encodeDigitGrid } from "./png.ts";
 * const image = new Float32Array(784).fill(0.5);
 * const png = encodeDigitGrid([[image], [digitGlyph(7)]], { separateAfter: [0] });
 * console.log(digitGlyph(7).length); // 784
 * ```
 */
export function digitGlyph(digit: number, side = IMAGE_SIDE): Uint8Array {
  const glyph = GLYPHS[digit];
  if (!glyph) throw new RangeError(`no glyph for ${digit}: digits are 0–9`);
  const [width, height] = [glyph[0].length * GLYPH_SCALE, glyph.length * GLYPH_SCALE];
  if (width > side || height > side) {
    throw new RangeError(`a glyph needs a cell of ${height} pixels`);
  }
  const [left, top] = [Math.floor((side - width) / 2), Math.floor((side - height) / 2)];
  const cell = new Uint8Array(side * side);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (glyph[Math.floor(y / GLYPH_SCALE)][Math.floor(x / GLYPH_SCALE)] === "#") {
        cell[(top + y) * side + left + x] = 255;
      }
    }
  }
  return cell;
}
