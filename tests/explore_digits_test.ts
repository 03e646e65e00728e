import assert from "node:assert/strict";
import { takeDigits } from "../lib/data/batches.ts";
import { decodeDigitsFile, encodeDigitsFile } from "../lib/explore/digits.ts";
import { testDigits } from "./_fixtures.ts";

Deno.test("a digits file gives back the digits it was made of", async () => {
  const digits = await testDigits(300);
  const bytes = encodeDigitsFile(digits);
  assert.equal(bytes.length, 12 + 300 * 785);
  assert.deepEqual(decodeDigitsFile(bytes, "memory"), digits);
  // Only the first `count` digits of a larger set.
  assert.deepEqual(decodeDigitsFile(encodeDigitsFile(takeDigits(digits, 7)), "memory").count, 7);
});

Deno.test("anything but a whole digits file is an error naming it", async () => {
  const bytes = encodeDigitsFile(await testDigits(3));
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("<!doctype html><p>not found</p>"), /^page: not a digits file$/],
    [bytes.slice(0, 5), /^page: not a digits file$/],
    [bytes.slice(0, -1), /^page: 2366 bytes, expected 2367 for 3 digits$/],
    [Uint8Array.from([...bytes.slice(0, 12), 10, ...bytes.slice(13)]), /not a digit 0–9/],
  ];
  for (const [broken, message] of cases) {
    assert.throws(() => decodeDigitsFile(broken, "page"), { message });
  }
});
