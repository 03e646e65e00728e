/**
 * The models of a results folder, as the study's steps leave them there: the trained model
 * (`train/model.safetensors`), the sweep's sizes (`sweep/model-d<d>.safetensors`) and the denoisers
 * (`denoise/denoiser-<kind>.safetensors`), each checked to be a safetensors file of the autoencoder before
 * the page is offered it; and the digit classifier (`classify/classifier.safetensors`), checked the same
 * way, where there is one.
 *
 * @module
 */
import { join } from "node:path";
import { UsageError } from "../cli.ts";
import { type ModelKind, type SpecOf, specOfFile, weightsOfFile } from "../model/spec.ts";
import { decodeSafetensors } from "../model/weights.ts";
import type { ModelEntry, ModelRole } from "./manifest.ts";
import { fileInside } from "./paths.ts";

/** Where `deno task classify` leaves the digit classifier in a results folder. */
const CLASSIFIER_FILE = "classify/classifier.safetensors";

/** Where each kind of model lies in a results folder: its step's folder and its file name. */
const LAYOUT: { role: ModelRole; folder: string; name: RegExp }[] = [
  { role: "trained", folder: "train", name: /^model\.safetensors$/ },
  { role: "sweep", folder: "sweep", name: /^model-d(\d+)\.safetensors$/ },
  { role: "denoiser", folder: "denoise", name: /^denoiser-([\w-]+)\.safetensors$/ },
];

/**
 * The models in the results folder `folder`, the trained one first, then the sweep's by d, then the
 * denoisers. A folder that is missing or holds no autoencoder to explore (a trained model or a sweep's),
 * and a model file that is not an autoencoder's
 * safetensors file (or not of the size its name says), are usage errors that say what to do or what is
 * wrong.
 */
export async function findModels(folder: string): Promise<ModelEntry[]> {
  const info = await Deno.stat(folder).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new UsageError(
      `no results folder at ${folder}: run \`deno task study\` first, or pass --results`,
    );
  }
  const models: ModelEntry[] = [];
  for (const { role, folder: step, name } of LAYOUT) {
    for (const entry of await listFolder(join(folder, step))) {
      const match = name.exec(entry);
      if (match) models.push(await checkModel(folder, `${step}/${entry}`, role, match[1]));
    }
  }
  if (!models.some(({ role }) => role !== "denoiser")) {
    throw new UsageError(
      `no models in ${folder} (a trained model or a sweep's): run \`deno task study\` (or train, ` +
        "or sweep) first",
    );
  }
  const order = (model: ModelEntry) => LAYOUT.findIndex(({ role }) => role === model.role);
  return models.sort((a, b) =>
    order(a) - order(b) || a.hidden - b.hidden || a.file.localeCompare(b.file)
  );
}

/** The names in `folder`, none where it is missing; one that is not a folder is a usage error. */
async function listFolder(folder: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) names.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotADirectory) {
      throw new UsageError(
        `${folder} is a file, where a step's result folder belongs: move it away`,
      );
    }
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names;
}

/**
 * The digit classifier's file in the results folder `folder` (relative to it), checked as the page will
 * load it; undefined where there is none. A file there that is not a classifier's is a usage error.
 */
export async function findClassifier(folder: string): Promise<string | undefined> {
  const info = await Deno.stat(join(folder, CLASSIFIER_FILE)).catch(() => undefined);
  if (!info) return undefined;
  await checkedSpec(folder, CLASSIFIER_FILE, "classifier");
  return CLASSIFIER_FILE;
}

/** The entry of the model file `file` of `folder`, after checking it as the page will load it. */
async function checkModel(
  folder: string,
  file: string,
  role: ModelRole,
  named?: string,
): Promise<ModelEntry> {
  const { hidden } = await checkedSpec(folder, file, "autoencoder");
  if (role === "sweep" && Number(named) !== hidden) {
    throw new UsageError(
      `${join(folder, file)}: a model with d = ${hidden}, not the d = ${named} of its name`,
    );
  }
  const label = role === "trained"
    ? `trained model, d = ${hidden}`
    : role === "sweep"
    ? `sweep, d = ${hidden}`
    : `${named} denoiser`;
  return { file, role, hidden, label, ...(role === "denoiser" ? { corruption: named } : {}) };
}

/**
 * The spec of the model of kind `kind` in the file `file` of `folder`, after checking that the server
 * can serve it and that it holds exactly that model's weights; anything else is a usage error naming it.
 */
async function checkedSpec<K extends ModelKind>(
  folder: string,
  file: string,
  kind: K,
): Promise<SpecOf<K>> {
  const source = join(folder, file);
  const path = await fileInside(folder, file.split("/").map(encodeURIComponent).join("/"));
  if (!path) throw new UsageError(`${source}: not a file inside ${folder}, so it cannot be served`);
  try {
    const contents = decodeSafetensors(await Deno.readFile(path), source);
    const spec = specOfFile(contents, source, kind);
    weightsOfFile(contents, spec, source);
    return spec;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
