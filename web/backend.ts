/// <reference lib="dom" />
/**
 * TensorFlow.js in the page: the first backend that starts here — WebAssembly (its binaries served beside
 * the page), WebGL, plain JavaScript — or the one the address asks for (`?backend=webgl`); where none
 * starts, an error that says so in words a reader can act on. WebAssembly comes first: for models this
 * small it is ready in a fraction of WebGL's time (no shaders to compile), and it computes in 32-bit
 * floats everywhere, where WebGL on many phones has only 16.
 *
 * @module
 */
import { tf, tfWasm } from "../lib/deps_tfjs.ts";
import { WASM_PREFIX } from "../lib/explore/manifest.ts";

/** The backends tried, in order. */
export const BACKENDS: readonly string[] = ["wasm", "webgl", "cpu"];

/** Starts the first of `wanted` (or of {@link BACKENDS}) that works here and returns its name. */
export async function startBackend(wanted?: string): Promise<string> {
  tfWasm.setWasmPaths(new URL(WASM_PREFIX, location.href).href);
  const failures: string[] = [];
  for (const name of wanted ? [wanted] : BACKENDS) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      failures.push(`${name} did not start`);
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `This browser has no backend that can run the models (${failures.join("; ")}). ` +
      "Try a current Firefox, Chrome, Edge or Safari with JavaScript and WebAssembly allowed.",
  );
}
