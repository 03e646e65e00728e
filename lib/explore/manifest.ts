/**
 * What the explorer page is told about a results folder — its models and its test digits — as the one
 * file `explore.json` beside the page, and where each of them lies relative to the page. Written by
 * `deno task explore` (served or built), read by the page; it imports nothing, so both can use it.
 *
 * @module
 */

/** The manifest's name, beside the page. */
export const MANIFEST_FILE = "explore.json";

/** The test digits' file (see `digits.ts`), beside the page. */
export const DIGITS_FILE = "digits.bin";

/** The folder, beside the page, under which the results folder's files are found. */
export const RESULTS_PREFIX = "results/";

/** The folder, beside the page, of the wasm backend's binaries. */
export const WASM_PREFIX = "wasm/";

/** What a model is to the page: a standard autoencoder (trained, or one of the sweep's sizes) or a denoiser. */
export type ModelRole = "trained" | "sweep" | "denoiser";

/** One model of the results folder. */
export interface ModelEntry {
  /** Its file's path in the results folder, e.g. `sweep/model-d3.safetensors`. */
  file: string;
  role: ModelRole;
  /** Latent size d. */
  hidden: number;
  /** What a denoiser undoes, e.g. `noise` (denoisers only). */
  corruption?: string;
  /** How the page names it, e.g. `sweep, d = 3`. */
  label: string;
}

/** The contents of {@link MANIFEST_FILE}. */
export interface ExplorerManifest {
  /** The models, the trained one first, then the sweep's by d, then the denoisers. */
  models: ModelEntry[];
  /** How many test digits {@link DIGITS_FILE} holds. */
  digits: number;
  /**
   * The digit classifier's file in the results folder, where `deno task classify` left one: the page
   * reads the corrupted digits and their reconstructions with it.
   */
  classifier?: string;
}
