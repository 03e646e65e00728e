// deno-lint-ignore-file no-import-prefix
/**
 * The core of TensorFlow.js, pinned: the one third-party import of the code that runs in a browser too
 * (the models in `model/` and the explorer page), so that it pulls in nothing that only Deno has.
 * `deps.ts` re-exports it with every other dependency.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs@4.22.0";

export { tf };
