// deno-lint-ignore-file no-import-prefix
/**
 * TensorFlow.js and its WebAssembly backend, pinned: the only third-party imports of the code that runs in
 * a browser too (the models in `model/` and the explorer page), so that it pulls in nothing that only Deno
 * has. `deps.ts` re-exports them with every other dependency.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import * as tfWasm from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

export { tf, tfWasm };
