/**
 * Builds the WebAssembly engine's kernels (`lib/wasm/assembly/`) into `lib/wasm/*.wasm`, which are
 * committed: run it after changing the kernel sources. The binaries are built aside and moved into place
 * only when all of them built.
 *
 *   deno task build-wasm
 *
 * @module
 */
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { runMain } from "../lib/cli.ts";
import { buildKernels } from "../lib/wasm/build.ts";

await runMain(async () => {
  const folder = fileURLToPath(new URL("../lib/wasm/", import.meta.url));
  const aside = await Deno.makeTempDir({ dir: folder, prefix: ".build-" });
  try {
    for (const path of await buildKernels(aside)) {
      await Deno.rename(path, `${folder}${basename(path)}`);
      console.log(`wrote lib/wasm/${basename(path)}`);
    }
  } finally {
    await Deno.remove(aside, { recursive: true });
  }
});
