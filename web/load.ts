/// <reference lib="dom" />
/**
 * What the page fetches from beside itself: the manifest, the test digits and the models, each checked as
 * it arrives; a failure is an error that names the file and what is wrong with it.
 *
 * @module
 */
import type { Digits } from "../lib/data/mnist.ts";
import { decodeDigitsFile } from "../lib/explore/digits.ts";
import {
  DIGITS_FILE,
  type ExplorerManifest,
  MANIFEST_FILE,
  type ModelEntry,
  RESULTS_PREFIX,
} from "../lib/explore/manifest.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { Classifier } from "../lib/model/classifier_model.ts";

/** The bytes of the file at `path`, beside the page. */
async function fetchBytes(path: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(path);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new Error(`${path}: ${response.status} ${response.statusText}`.trim());
  return new Uint8Array(await response.arrayBuffer());
}

/** The manifest of the results folder's models. */
export async function loadManifest(): Promise<ExplorerManifest> {
  const text = new TextDecoder().decode(await fetchBytes(MANIFEST_FILE));
  try {
    return JSON.parse(text) as ExplorerManifest;
  } catch {
    throw new Error(`${MANIFEST_FILE}: not valid JSON`);
  }
}

/** The test digits of the map. */
export async function loadDigits(): Promise<Digits> {
  return decodeDigitsFile(await fetchBytes(DIGITS_FILE), DIGITS_FILE);
}

/** The model of `entry`, on the current backend; a file that is no such model is an error naming it. */
export async function loadModel(entry: ModelEntry): Promise<Autoencoder> {
  const path = RESULTS_PREFIX + entry.file;
  return Autoencoder.fromSafetensors(await fetchBytes(path), path, { hidden: entry.hidden });
}

/** The digit classifier in the results folder's file `file`; a file that is no classifier is an error naming it. */
export async function loadClassifier(file: string): Promise<Classifier> {
  const path = RESULTS_PREFIX + file;
  return Classifier.fromSafetensors(await fetchBytes(path), path);
}
