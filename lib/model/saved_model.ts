/**
 * What every model of aelab shares — the autoencoder and the digit classifier: a network of layers on the
 * current tfjs backend, its weights in PyTorch's names and layouts, and a safetensors file of its kind.
 *
 * @module
 */
import { writeFileAtomic } from "../files/atomic.ts";
import type { LayerSpec, Weights } from "./architecture.ts";
import { Network } from "./network.ts";
import { modelFile, type ModelSpec } from "./spec.ts";

/** A model of spec `S` on a {@link Network}: its weights, its file, and freeing it. */
export abstract class SavedModel<S extends ModelSpec> {
  /** The layers and their weights. */
  protected readonly network: Network;

  /** A model of `layers` holding `weights`. */
  protected constructor(layers: LayerSpec[], weights: Weights) {
    this.network = new Network(layers, weights);
  }

  /** What the model is, as trainers and files describe it. */
  abstract get spec(): S;

  /** Number of scalar parameters. */
  get parameterCount(): number {
    return this.network.parameterCount;
  }

  /** The weights by PyTorch name, in PyTorch's layouts (read asynchronously, as WebGPU requires). */
  getWeights(): Promise<Weights> {
    return this.network.getWeights();
  }

  /**
   * The weights as a safetensors file (PyTorch names and layouts, the kind and config in the metadata).
   * Weights that are not all finite — a diverged training — are refused, naming the tensor.
   */
  async toSafetensors(): Promise<Uint8Array> {
    return modelFile(this.spec, await this.getWeights());
  }

  /** Saves the weights as a safetensors file at `path`, atomically (see {@link SavedModel.toSafetensors}). */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, await this.toSafetensors());
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.network.dispose();
  }
}
