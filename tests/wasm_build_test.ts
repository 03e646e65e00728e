/**
 * The committed kernel binaries of the wasm engine are what the pinned AssemblyScript compiler makes of
 * their sources: rebuilt into a temporary folder, byte for byte.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import { buildKernels, KERNEL_BUILDS } from "../lib/wasm/build.ts";
import { inTempDir } from "./_fixtures.ts";

Deno.test("lib/wasm/*.wasm are what `deno task build-wasm` builds from lib/wasm/assembly/", async () => {
  await inTempDir(async (dir) => {
    const paths = await buildKernels(dir);
    assert.deepEqual(paths.map((path) => basename(path)), Object.keys(KERNEL_BUILDS));
    for (const path of paths) {
      const built = await Deno.readFile(path);
      const committed = await Deno.readFile(
        new URL(`../lib/wasm/${basename(path)}`, import.meta.url),
      );
      assert.ok(
        built.length === committed.length && built.every((byte, i) => byte === committed[i]),
        `lib/wasm/${basename(path)} differs from what its sources build: run deno task build-wasm`,
      );
    }
  });
});
