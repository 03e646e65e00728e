import assert from "node:assert/strict";
import { decodeGif, encodeDigitGif, encodeGrayGif } from "../lib/figures/gif.ts";
import { writeFileAtomic } from "../lib/files/atomic.ts";

const SIDE = 28;

Deno.test("a morph of 12 frames decodes to 12 scaled frames with their delay, looping", async () => {
  const frames = Array.from(
    { length: 12 },
    (_, t) => Float32Array.from({ length: SIDE * SIDE }, (_, i) => ((i + 20 * t) % 256) / 255),
  );
  const path = await Deno.makeTempFile({ suffix: ".gif" });
  try {
    await writeFileAtomic(path, encodeDigitGif(frames, { scale: 3, delayMs: 80 }));
    const gif = decodeGif(await Deno.readFile(path));
    assert.deepEqual([gif.width, gif.height, gif.frames.length], [84, 84, 12]);
    assert.deepEqual(gif.delaysMs, Array(12).fill(80));
    assert.deepEqual(gif.loopCount, 0);
    frames.forEach((digit, t) => {
      for (const [x, y] of [[0, 0], [5, 9], [27, 27], [13, 20]]) {
        const expected = Math.round(255 * digit[y * SIDE + x]);
        const i = 4 * ((3 * y + 2) * 84 + 3 * x + 1);
        assert.deepEqual(Array.from(gif.frames[t].subarray(i, i + 4)), [
          expected,
          expected,
          expected,
          255,
        ]);
      }
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("every gray level survives, and an animation can play once", () => {
  const frame = (shift: number) => ({
    width: 16,
    height: 16,
    pixels: Uint8Array.from({ length: 256 }, (_, i) => (i + shift) % 256),
  });
  const gif = decodeGif(encodeGrayGif([frame(0), frame(1)], { loop: false }));
  assert.deepEqual(gif.loopCount, null);
  assert.deepEqual(gif.delaysMs, [100, 100]);
  gif.frames.forEach((rgba, t) =>
    assert.deepEqual(Array.from(rgba.filter((_, i) => i % 4 === 0)), Array.from(frame(t).pixels))
  );
});

Deno.test("frames of different sizes, or none, are refused", () => {
  const frame = (side: number) => ({
    width: side,
    height: side,
    pixels: new Uint8Array(side * side),
  });
  assert.throws(() => encodeGrayGif([]), RangeError);
  assert.throws(() => encodeGrayGif([frame(4), frame(5)]), RangeError);
});
