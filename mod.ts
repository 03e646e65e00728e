/**
 * aelab: autoencoder experiments on MNIST, in Deno and TypeScript — the seed's convolutional autoencoder
 * on TensorFlow.js (WebGPU, WebAssembly or plain JavaScript) or on aelab's fused WebGPU engine, MNIST
 * cached and checksum-verified, the corruptions, the random search, the latent-space tools and the
 * figures of the study. The scripts under `scripts/` are built from these parts.
 *
 * @example
 * ```ts
 * import { Autoencoder, fit, loadMnist, setupBackend, TensorBatches, takeDigits } from "./mod.ts";
 *
 * await setupBackend(); // webgpu on a GPU, else wasm
 * const { train, test } = await loadMnist();
 * const model = Autoencoder.create({ hidden: 4, seed: 1 });
 * const batches = TensorBatches.fromDigits(takeDigits(train, 10_000), { batchSize: 256, seed: 1 });
 * const testBatches = TensorBatches.fromDigits(test, { batchSize: 1000, shuffle: false });
 * const { history } = await fit(model, { epochs: 3, train: batches, test: testBatches });
 * console.log(history.at(-1)?.testLoss);
 * await model.save("model.safetensors"); // PyTorch names and layouts
 * ```
 *
 * @module
 */

// Compute: the tfjs backend, the engines.
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendSetup,
  type Engine,
  ENGINE_CHOICES,
  type EngineChoice,
  requestAdapter,
  resolveEngine,
  setupBackend,
} from "./lib/gpu.ts";
export {
  type GpuDataset,
  type ModelSettings,
  Population,
  type PopulationOptions,
} from "./lib/gpu/population.ts";

// Data.
export { parseIdxImages, parseIdxLabels } from "./lib/data/idx.ts";
export {
  type Digits,
  loadMnist,
  type LoadMnistOptions,
  type Mnist,
  MNIST_FILES,
  mnistDataDir,
} from "./lib/data/mnist.ts";
export {
  type Batch,
  epochOrder,
  pickDigits,
  type Pixels,
  splitTrainValidation,
  takeDigits,
  TensorBatches,
  type TensorBatchesOptions,
} from "./lib/data/batches.ts";

// The model.
export {
  initialWeights,
  layerSpecs,
  parameterCount,
  parameterSpecs,
  type Weights,
} from "./lib/model/architecture.ts";
export { Autoencoder, type AutoencoderConfig, DEFAULT_CONFIG } from "./lib/model/autoencoder.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
} from "./lib/model/weights.ts";
export { describeEpoch, type EpochRecord, fit, fitPopulation, type FitResult } from "./lib/fit.ts";
export { bestAndWorst, perImageLoss, pickImages, reconstructPixels } from "./lib/predict.ts";

// The experiments' parts.
export {
  addGaussianNoise,
  corrupt,
  corruptedPairs,
  type Corruption,
  digitPixels,
  occlude,
} from "./lib/corrupt.ts";
export {
  generateParams,
  kFoldSplits,
  loadBestParams,
  rankTrials,
  SEED_BEST_PARAMS,
  TrialLog,
  type TrialParams,
  type TrialRecord,
} from "./lib/search.ts";
export {
  classCentroids,
  type Codes,
  interpolate,
  principalComponents,
  projectTo2d,
} from "./lib/latent.ts";
export { fitExponential } from "./lib/stats.ts";
export { createRng, permutation, type Rng } from "./lib/random.ts";

// Figures.
export { decodePng, digitGrid, encodeDigitGrid, encodeGrayPng } from "./lib/figures/png.ts";
export { decodeGif, encodeDigitGif, encodeGrayGif } from "./lib/figures/gif.ts";
export { lineChart, renderVegaLite, scatterChart, writeChart } from "./lib/figures/charts.ts";
