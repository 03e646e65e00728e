/**
 * Every third-party import of aelab, once, as a full pinned specifier, so that the scripts also run by
 * URL where no `deno.json` applies. The rest of the code imports from here.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

export { tf };
