/**
 * What a model is, as data: its kind and config ({@link ModelSpec}), the layers that follow from them,
 * and the checks a weights file passes before it becomes a model — the right kind, the exact tensors in
 * their shapes, every value finite — each failure one message that names the file and what is wrong.
 *
 * @module
 */
import { type LayerSpec, layerSpecs, parametersOf, type Weights } from "./architecture.ts";
import type { Safetensors } from "./weights.ts";

/** The study's autoencoder: latent size d and the dropout after its 64-wide layers. */
export interface AutoencoderSpec {
  kind: "autoencoder";
  hidden: number;
  dropout: number;
}

/** A model a trainer can build and train. */
export type ModelSpec = AutoencoderSpec;

/** The layers of the model `spec` describes, in forward order. */
export function modelLayers(spec: ModelSpec): LayerSpec[] {
  return layerSpecs(spec.hidden);
}

/**
 * Checks `spec`'s config, throwing a `RangeError` that says what is wrong.
 *
 * @example
 * ```ts
 * import { checkSpec } from "./spec.ts";
 * checkSpec({ kind: "autoencoder", hidden: 4, dropout: 0.1 }); // fine
 * ```
 */
export function checkSpec(spec: ModelSpec): ModelSpec {
  if (!Number.isInteger(spec.hidden) || spec.hidden < 1) {
    throw new RangeError(`hidden must be a positive integer, got ${spec.hidden}`);
  }
  if (!(spec.dropout >= 0 && spec.dropout < 1)) {
    throw new RangeError(`dropout must be in [0, 1), got ${spec.dropout}`);
  }
  return spec;
}

/** One line naming a model, e.g. `autoencoder d = 4`. */
export function describeSpec(spec: ModelSpec): string {
  return `autoencoder d = ${spec.hidden}`;
}

/** The metadata a weights file of `spec` carries (PyTorch's format tag, the kind and the config). */
export function specMetadata(spec: ModelSpec): Record<string, string> {
  return {
    format: "pt",
    kind: spec.kind,
    hidden: String(spec.hidden),
    dropout: String(spec.dropout),
  };
}

/**
 * The model a weights file holds, from its metadata (files written before the kind was recorded are
 * autoencoders); `source` names the file in errors.
 */
export function specOfFile(file: Safetensors, source: string): ModelSpec {
  const { kind = "autoencoder", hidden, dropout } = file.metadata;
  if (kind !== "autoencoder") {
    throw new Error(`${source}: a ${kind} file, not an autoencoder's weights`);
  }
  if (hidden === undefined || dropout === undefined) {
    throw new Error(
      `${source}: not a model's weights file (no kind, hidden or dropout in its metadata)`,
    );
  }
  try {
    return checkSpec({ kind, hidden: Number(hidden), dropout: Number(dropout) });
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
