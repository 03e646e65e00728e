import assert from "node:assert/strict";
import { digitGlyph } from "../lib/figures/glyphs.ts";

Deno.test("each digit's glyph is a centred cell of white ink on black, unlike every other digit's", () => {
  const glyphs = Array.from({ length: 10 }, (_, digit) => digitGlyph(digit));
  for (const [digit, glyph] of glyphs.entries()) {
    assert.equal(glyph.length, 784);
    assert.ok(glyph.every((value) => value === 0 || value === 255), `${digit}`);
    // ink inside the 15 × 21 box centred in the 28 × 28 cell, none outside it
    glyph.forEach((value, i) => {
      const [y, x] = [Math.floor(i / 28), i % 28];
      if (value > 0) assert.ok(y >= 3 && y < 24 && x >= 6 && x < 21, `${digit} at ${x}, ${y}`);
    });
    assert.ok(glyph.some((value) => value > 0), `${digit} has ink`);
  }
  assert.equal(new Set(glyphs.map((glyph) => glyph.join())).size, 10);
  // a 1 is narrower than an 8
  const ink = (glyph: Uint8Array) => glyph.filter((value) => value > 0).length;
  assert.ok(ink(glyphs[1]) < ink(glyphs[8]));
  assert.throws(() => digitGlyph(10), /no glyph for 10/);
  assert.throws(() => digitGlyph(7, 14), /a glyph needs a cell of 21 pixels/);
});
