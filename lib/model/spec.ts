/**
 * What a model is, as data: its kind and config ({@link ModelSpec}), the layers that follow from them,
 * and the checks a weights file passes before it becomes a model — the right kind, the exact tensors in
 * their shapes, every value finite — each failure one message that names the file and what is wrong.
 *
 * @module
 */
import { type LayerSpec, layerSpecs, parametersOf, type Weights } from "./architecture.ts";
import { classifierLayers } from "./classifier.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type Safetensors,
  type TensorData,
} from "./weights.ts";

/** The study's autoencoder: latent size d and the dropout after its 64-wide layers. */
export interface AutoencoderSpec {
  kind: "autoencoder";
  hidden: number;
  dropout: number;
}

/** The digit classifier (`classifier.ts`): the dropout after its hidden linear layer. */
export interface ClassifierSpec {
  kind: "classifier";
  dropout: number;
}

/** A model a trainer can build and train. */
export type ModelSpec = AutoencoderSpec | ClassifierSpec;

/** What a model is: an autoencoder or a digit classifier. */
export type ModelKind = ModelSpec["kind"];

/** The spec of a model of kind `K`. */
export type SpecOf<K extends ModelKind> = Extract<ModelSpec, { kind: K }>;

/** What each kind of model is called in messages. */
const KIND_NAMES: Record<ModelKind, string> = {
  autoencoder: "an autoencoder",
  classifier: "a digit classifier",
};

/** The numbers each kind of model is built with, as its weights files' metadata names them. */
const CONFIG_KEYS: Record<ModelKind, readonly string[]> = {
  autoencoder: ["hidden", "dropout"],
  classifier: ["dropout"],
};

/** The layers of the model `spec` describes, in forward order. */
export function modelLayers(spec: ModelSpec): LayerSpec[] {
  return spec.kind === "autoencoder" ? layerSpecs(spec.hidden) : classifierLayers();
}

/**
 * Checks `spec`'s config, throwing a `RangeError` that says what is wrong.
 *
 * @example
 * ```ts
 * import { checkSpec } from "./spec.ts";
 * checkSpec({ kind: "autoencoder", hidden: 4, dropout: 0.1 }); // fine
 * checkSpec({ kind: "classifier", dropout: 0.25 }); // fine
 * ```
 */
export function checkSpec<S extends ModelSpec>(spec: S): S {
  if (spec.kind === "autoencoder" && !(Number.isInteger(spec.hidden) && spec.hidden >= 1)) {
    throw new RangeError(`hidden must be a positive integer, got ${spec.hidden}`);
  }
  if (!(spec.dropout >= 0 && spec.dropout < 1)) {
    throw new RangeError(`dropout must be in [0, 1), got ${spec.dropout}`);
  }
  return spec;
}

/** One line naming a model, e.g. `autoencoder d = 4` or `digit classifier`. */
export function describeSpec(spec: ModelSpec): string {
  return spec.kind === "autoencoder" ? `autoencoder d = ${spec.hidden}` : "digit classifier";
}

/** The metadata a weights file of `spec` carries (PyTorch's format tag, the kind and the config). */
export function specMetadata(spec: ModelSpec): Record<string, string> {
  const config = CONFIG_KEYS[spec.kind].map((key) => [key, String(spec[key as keyof ModelSpec])]);
  return { format: "pt", kind: spec.kind, ...Object.fromEntries(config) };
}

/**
 * The model of kind `kind` a weights file holds, from its metadata (files written before the kind was
 * recorded are autoencoders); a file of another kind is an error that says what it holds. `source`
 * names the file in errors.
 *
 * @example
 * ```ts
 * import { specMetadata, specOfFile } from "./spec.ts";
 * const file = { tensors: {}, metadata: specMetadata({ kind: "classifier", dropout: 0.25 }) };
 * console.log(specOfFile(file, "memory", "classifier")); // { kind: "classifier", dropout: 0.25 }
 * ```
 */
export function specOfFile<K extends ModelKind>(
  file: Safetensors,
  source: string,
  kind: K,
): SpecOf<K> {
  const { kind: saved = "autoencoder" } = file.metadata;
  if (saved !== kind) {
    const what = KIND_NAMES[saved as ModelKind] ?? `a model of kind "${saved}"`;
    throw new Error(`${source} holds ${what}, not ${KIND_NAMES[kind]}`);
  }
  const keys = CONFIG_KEYS[kind];
  const absent = keys.filter((key) => file.metadata[key] === undefined);
  if (absent.length > 0) {
    throw new Error(
      `${source}: not a model's weights file (no ${absent.join(" or ")} in its metadata)`,
    );
  }
  const numbers = keys.map((key) => [key, Number(file.metadata[key])]);
  try {
    return checkSpec({ kind, ...Object.fromEntries(numbers) } as SpecOf<K>);
  } catch (error) {
    throw new Error(`${source}: metadata ${(error as Error).message}`);
  }
}

/**
 * The weights of the model `spec` out of `file`: exactly its tensors, in its shapes, every value finite;
 * anything else is an error that names `source` and the tensor.
 */
export function weightsOfFile(file: Safetensors, spec: ModelSpec, source: string): Weights {
  const params = parametersOf(modelLayers(spec));
  const expected = new Set(params.map((param) => param.name));
  const extra = Object.keys(file.tensors).filter((name) => !expected.has(name));
  if (extra.length > 0) throw new Error(`${source}: unexpected tensors ${extra.join(", ")}`);
  const weights: Weights = {};
  for (const param of params) {
    const tensor = file.tensors[param.name];
    if (!tensor) throw new Error(`${source}: missing tensor ${param.name}`);
    if (tensor.shape.join() !== param.shape.join()) {
      throw new Error(
        `${source}: ${param.name} has shape [${tensor.shape}], expected [${param.shape}] for the ${
          describeSpec(spec)
        }`,
      );
    }
    weights[param.name] = tensor.data;
  }
  checkFinite(weights, source);
  return weights;
}

/**
 * The model of kind `kind` in the bytes of a safetensors file, checked: a file of that kind, with exactly
 * the model's tensors in their shapes, every value finite; anything else is an error naming `source`.
 *
 * @example
 * ```ts
 * import { modelFile, readModelFile } from "./spec.ts";
 * import { classifierLayers } from "./classifier.ts";
 * import { initialWeightsOf } from "./architecture.ts";
 * import { createRng } from "../random.ts";
 * const spec = { kind: "classifier", dropout: 0 } as const;
 * const bytes = modelFile(spec, initialWeightsOf(classifierLayers(), createRng(1)));
 * console.log(readModelFile(bytes, "memory", "classifier").spec); // { kind: "classifier", dropout: 0 }
 * ```
 */
export function readModelFile<K extends ModelKind>(
  bytes: Uint8Array,
  source: string,
  kind: K,
): { spec: SpecOf<K>; weights: Weights } {
  const file = decodeSafetensors(bytes, source);
  const spec = specOfFile(file, source, kind);
  return { spec, weights: weightsOfFile(file, spec, source) };
}

/**
 * The weights of the model `spec` as a safetensors file: PyTorch's names and layouts, the kind and config
 * in the metadata. Weights that are not all finite — a diverged training — are refused, naming the tensor.
 */
export function modelFile(spec: ModelSpec, weights: Weights): Uint8Array {
  checkFinite(weights, `the ${describeSpec(spec)}`);
  const tensors: Record<string, TensorData> = {};
  for (const { name, shape } of parametersOf(modelLayers(spec))) {
    tensors[name] = { shape, data: weights[name] };
  }
  return encodeSafetensors(tensors, specMetadata(spec));
}

/**
 * Throws unless every value of `weights` is finite; the error names `source`, the first tensor with a
 * NaN or infinite value and how many it holds.
 *
 * @example
 * ```ts
 * import { checkFinite } from "./spec.ts";
 * checkFinite({ bias: new Float32Array([0, 1]) }, "memory"); // fine
 * ```
 */
export function checkFinite(weights: Weights, source: string): void {
  for (const [name, values] of Object.entries(weights)) {
    let bad = 0;
    for (const value of values) if (!Number.isFinite(value)) bad++;
    if (bad > 0) {
      throw new Error(
        `${source}: ${name} holds ${bad} of ${values.length} values that are NaN or infinite`,
      );
    }
  }
}
