import assert from "node:assert/strict";
import { inkToDigit } from "../web/ink.ts";

/** A `side × side` pad with the rectangle [left, right) × [top, bottom) inked. */
function pad(side: number, left: number, top: number, right: number, bottom: number) {
  const ink = new Float32Array(side * side);
  for (let y = top; y < bottom; y++) ink.fill(1, y * side + left, y * side + right);
  return ink;
}

/** The inked pixels' bounding box [left, top, right, bottom) and centre of mass. */
function describe(digit: Float32Array) {
  let [left, top, right, bottom, mass, x, y] = [28, 28, 0, 0, 0, 0, 0];
  digit.forEach((value, i) => {
    if (value === 0) return;
    const [column, row] = [i % 28, Math.floor(i / 28)];
    [left, top] = [Math.min(left, column), Math.min(top, row)];
    [right, bottom] = [Math.max(right, column + 1), Math.max(bottom, row + 1)];
    [mass, x, y] = [mass + value, x + value * (column + 0.5), y + value * (row + 0.5)];
  });
  return { box: [left, top, right, bottom], centre: [x / mass, y / mass] };
}

Deno.test("an empty pad is no digit", () => {
  assert.equal(inkToDigit(new Float32Array(280 * 280), 280, 280), null);
  assert.equal(inkToDigit(new Float32Array(280 * 280).fill(0.01), 280, 280), null);
});

Deno.test("a drawing is scaled into a 20-pixel box, aspect kept, centred by its mass", () => {
  // A 40 × 200 bar in the top-left corner of a 280 × 280 pad: 4 × 20 pixels at the centre.
  const digit = inkToDigit(pad(280, 10, 5, 50, 205), 280, 280)!;
  const { box, centre } = describe(digit);
  assert.deepEqual([box[2] - box[0], box[3] - box[1]], [4, 20]);
  assert.deepEqual(centre, [14, 14]);
  assert.equal(Math.max(...digit), 1);
  assert.ok(digit.every((value) => value === 0 || value === 1), "a solid bar stays solid");
});

Deno.test("the same drawing at any size and place gives the same digit", () => {
  const small = inkToDigit(pad(100, 60, 30, 70, 80), 100, 100)!;
  const large = inkToDigit(pad(400, 20, 100, 60, 300), 400, 400)!;
  assert.deepEqual(small, large);
});

Deno.test("a drawing smaller than the box is scaled up without gaps", () => {
  const digit = inkToDigit(pad(280, 100, 100, 105, 105), 280, 280)!;
  const { box } = describe(digit);
  assert.deepEqual([box[2] - box[0], box[3] - box[1]], [20, 20]);
  assert.equal(digit.filter((value) => value === 1).length, 400);
});

Deno.test("partial ink is the mean of what each pixel covers, scaled so the darkest is 1", () => {
  const ink = pad(40, 0, 0, 40, 40).map((value, i) => (i % 40 < 20 ? value * 0.5 : value * 0.25));
  const digit = inkToDigit(ink, 40, 40)!;
  const values = [...new Set(digit.filter((value) => value > 0))].sort();
  assert.deepEqual(values, [0.5, 1]);
});
