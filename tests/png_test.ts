import assert from "node:assert/strict";
import { decodePng, digitGrid, encodeDigitGrid, encodeGrayPng } from "../lib/figures/png.ts";
import { writeFileAtomic } from "../lib/files/atomic.ts";

const SIDE = 28;

/** A digit whose every pixel differs from its neighbours and from the same pixel of other digits. */
function patterned(seed: number): Float32Array {
  return Float32Array.from({ length: SIDE * SIDE }, (_, i) => ((i * 37 + seed * 101) % 256) / 255);
}

/** The gray level of pixel (x, y) of a decoded RGBA frame. */
function grayAt(frame: Uint8Array, width: number, x: number, y: number): number {
  const i = 4 * (y * width + x);
  assert.deepEqual([frame[i + 1], frame[i + 2], frame[i + 3]], [frame[i], frame[i], 255]);
  return frame[i];
}

Deno.test("a 2×10 grid at scale 3 has the exact size, and every digit pixel lands in its block", async () => {
  const rows = [0, 1].map((r) => Array.from({ length: 10 }, (_, c) => patterned(10 * r + c)));
  const scale = 3, gap = 2;
  const path = await Deno.makeTempFile({ suffix: ".png" });
  try {
    await writeFileAtomic(path, encodeDigitGrid(rows, { scale, gap }));
    const { width, height, frames } = decodePng(await Deno.readFile(path));
    assert.deepEqual([width, height, frames.length], [2 + 10 * (84 + 2), 2 + 2 * (84 + 2), 1]);
    const cell = SIDE * scale + gap;
    rows.forEach((row, r) =>
      row.forEach((digit, c) => {
        for (let y = 0; y < SIDE; y++) {
          for (let x = 0; x < SIDE; x++) {
            const expected = Math.round(255 * digit[y * SIDE + x]);
            const left = gap + c * cell + x * scale, top = gap + r * cell + y * scale;
            assert.deepEqual(grayAt(frames[0], width, left, top), expected);
            assert.deepEqual(grayAt(frames[0], width, left + scale - 1, top + scale - 1), expected);
          }
        }
      })
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("gaps, the margin and the cells a short row leaves empty take the background level", () => {
  const digit = new Float32Array(SIDE * SIDE).fill(1);
  const grid = digitGrid([[digit, digit, digit], [digit]], { scale: 1, gap: 3, background: 77 });
  assert.deepEqual([grid.width, grid.height], [3 + 3 * 31, 3 + 2 * 31]);
  const at = (x: number, y: number) => grid.pixels[y * grid.width + x];
  const gapsAndMargin = [at(0, 0), at(32, 10), at(10, 32), at(grid.width - 1, grid.height - 1)];
  assert.deepEqual(gapsAndMargin, [77, 77, 77, 77]);
  assert.deepEqual([at(3, 3), at(34, 3), at(3, 34)], [255, 255, 255]);
  assert.deepEqual(at(34, 34), 77); // row 1 has one digit: its column 1 stays empty
});

Deno.test("a separator after the originals adds a white line with a gap on each side", () => {
  const rows = Array.from({ length: 11 }, () => [new Float32Array(SIDE * SIDE)]);
  const gap = 2, scale = 2;
  const grid = digitGrid(rows, { scale, gap, separateAfter: [0, 10, 42] });
  const cell = SIDE * scale + gap;
  assert.deepEqual(grid.height, gap + 11 * cell + 2 * gap); // only the separator inside the grid counts
  const rowOf = (y: number) =>
    Array.from(grid.pixels.subarray(y * grid.width, (y + 1) * grid.width));
  const lineTop = gap + cell;
  assert.deepEqual(new Set([...rowOf(lineTop), ...rowOf(lineTop + gap - 1)]), new Set([255]));
  assert.deepEqual(new Set(rowOf(lineTop - 1)), new Set([128]));
  assert.deepEqual(new Set(rowOf(lineTop + gap)), new Set([128]));
  assert.deepEqual(grid.pixels[(lineTop + 2 * gap) * grid.width + gap], 0); // the second row starts below
});

Deno.test("bytes are taken as levels, floats are clamped to [0, 1]", () => {
  const bytes = new Uint8Array(SIDE * SIDE).fill(200);
  const floats = new Float32Array(SIDE * SIDE);
  floats[0] = -0.5;
  floats[1] = 1.5;
  floats[2] = 0.5;
  const grid = digitGrid([[bytes, floats]], { scale: 1, gap: 0 });
  assert.deepEqual(grid.pixels[0], 200);
  assert.deepEqual(Array.from(grid.pixels.subarray(SIDE, SIDE + 3)), [0, 255, 128]);
});

Deno.test("gray PNGs round-trip exactly", () => {
  const pixels = Uint8Array.from({ length: 256 * 3 }, (_, i) => (i * 7) % 256);
  const { width, height, frames } = decodePng(encodeGrayPng({ width: 256, height: 3, pixels }));
  assert.deepEqual([width, height], [256, 3]);
  assert.deepEqual(Array.from(frames[0].filter((_, i) => i % 4 === 0)), Array.from(pixels));
});

Deno.test("bad grids and images are refused", () => {
  const digit = new Float32Array(SIDE * SIDE);
  assert.throws(() => digitGrid([]), RangeError);
  assert.throws(() => digitGrid([[new Float32Array(700)]]), RangeError);
  assert.throws(() => digitGrid([[digit, new Float32Array(SIDE * SIDE - 1)]]), RangeError);
  assert.throws(() => digitGrid([[digit]], { scale: 1.5 }), RangeError);
  assert.throws(
    () => encodeGrayPng({ width: 2, height: 2, pixels: new Uint8Array(3) }),
    RangeError,
  );
});
