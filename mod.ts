/**
 * aelab: autoencoder experiments on MNIST, in Deno and TypeScript — the study's convolutional autoencoder
 * on TensorFlow.js (WebGPU, WebAssembly or plain JavaScript), trained through one interface by tfjs in
 * this thread, a pool of workers (one per core), aelab's fused WebGPU engine or its own WebAssembly SIMD
 * engine; MNIST cached and checksum-verified, the corruptions, the searches, the latent-space tools and
 * the figures of the study. The scripts under `scripts/` are built from these parts.
 *
 * @example
 * ```ts
 * import {
 *   Autoencoder,
 *   chooseEngine,
 *   createTrainer,
 *   datasetOf,
 *   fit,
 *   loadMnist,
 *   setupBackend,
 *   takeDigits,
 * } from "./mod.ts";
 *
 * const backend = await setupBackend(); // webgpu on a GPU, else wasm
 * const engine = await chooseEngine("auto", { backend }); // fused, workers, wasm or tfjs
 * const { train, test } = await loadMnist();
 * const model = { kind: "autoencoder", hidden: 4, dropout: 0.1 } as const;
 * const trainer = await createTrainer(engine, [{
 *   name: "d = 4",
 *   model,
 *   lr: 1e-3,
 *   l2: 0,
 *   seed: 1,
 *   train: datasetOf(takeDigits(train, 10_000)),
 *   test: datasetOf(test),
 * }], { batchSize: 256 });
 * const [{ history }] = await fit(trainer, { epochs: 3 });
 * console.log(history.at(-1)?.testLoss);
 * const trained = Autoencoder.fromWeights(model, (await trainer.getState(0)).weights);
 * await trainer.dispose();
 * await trained.save("model.safetensors"); // PyTorch names and layouts
 * ```
 *
 * @module
 */

// Compute: the tfjs backend, the engines and the one trainer interface.
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendSetup,
  setupBackend,
} from "./lib/tfjs.ts";
export { type GpuAdapter, requestAdapter } from "./lib/gpu/adapter.ts";
export {
  chooseEngine,
  createInference,
  createTrainer,
  type Engine,
  ENGINE_CHOICES,
  type EngineChoice,
  type EnginePlan,
} from "./lib/train/engine.ts";
export {
  type Dataset,
  datasetOf,
  type EpochRecord,
  type FitResult,
  type ModelState,
  type Trainer,
  type TrainingJob,
} from "./lib/train/trainer.ts";
export { TfjsTrainer } from "./lib/train/tfjs.ts";
export { type WorkerEngine, WorkerPool, type WorkerPoolOptions } from "./lib/train/workers.ts";
export { FusedTrainer } from "./lib/train/fused.ts";
export { WasmTrainer } from "./lib/train/wasm.ts";
export { type Inference, TFJS_INFERENCE } from "./lib/train/inference.ts";
export { WasmInference } from "./lib/wasm/inference.ts";
export { type Kernels, loadKernels } from "./lib/wasm/kernels.ts";
export { describeEpoch, fit, type FitOptions, formatRate } from "./lib/train/fit.ts";
export { checkSameSettings, settingsDifference } from "./lib/train/checkpoint.ts";
export { halvingRungs, type Rung, successiveHalving } from "./lib/train/halving.ts";
export {
  gatherTrainings,
  runTrainings,
  type Training,
  type TrainingRecord,
} from "./lib/train/trainings.ts";
export { owns, parseShard, type Shard, shardOfEnvironment, type StepRun } from "./lib/shards.ts";
export { Population, type PopulationOptions } from "./lib/gpu/population.ts";

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
  epochOrder,
  pickDigits,
  type Pixels,
  splitTrainValidation,
  takeDigits,
  unitPixels,
} from "./lib/data/batches.ts";
export { IMAGE_PIXELS, IMAGE_SIDE } from "./lib/data/geometry.ts";

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
  classifierLayers,
  classifierParameterCount,
  DIGIT_CLASSES,
} from "./lib/model/classifier.ts";
export { Classifier } from "./lib/model/classifier_model.ts";
export { type ClassifierSpec, type ModelSpec } from "./lib/model/spec.ts";
export { Network } from "./lib/model/network.ts";
export { SavedModel } from "./lib/model/saved_model.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
} from "./lib/model/weights.ts";
export {
  bestAndWorst,
  meanLoss,
  perImageLoss,
  pickImages,
  reconstructionLosses,
  reconstructPixels,
} from "./lib/predict.ts";

// The experiments' parts.
export {
  addGaussianNoise,
  blankSquare,
  corrupt,
  type CorruptedPairs,
  corruptedPairs,
  type Corruption,
  digitPixels,
  occlude,
  type Square,
} from "./lib/corrupt.ts";
export {
  generateParams,
  kFoldSplits,
  loadBestParams,
  rankTrials,
  STUDY_BEST_PARAMS,
  type TrialParams,
  type TrialRecord,
} from "./lib/search_space.ts";
export {
  classCentroids,
  codeAt,
  type Codes,
  interpolate,
  type LatentPlane,
  latentPlane,
  planeCoordinates,
  principalComponents,
  projectTo2d,
} from "./lib/latent.ts";
export {
  confusionMatrix,
  type IdentityResults,
  identityShare,
  lossCurves,
  measureIdentity,
} from "./lib/experiments/identity.ts";
export { type PathSmoothness, pathSmoothness } from "./lib/experiments/morph.ts";
export { fitExponential, median, spearman } from "./lib/stats.ts";
export { createRng, permutation, type Rng } from "./lib/random.ts";

// Figures.
export { decodePng, digitGrid, encodeDigitGrid, encodeGrayPng } from "./lib/figures/png.ts";
export { decodeGif, encodeDigitGif, encodeGrayGif } from "./lib/figures/gif.ts";
export {
  heatmapChart,
  lineChart,
  renderVegaLite,
  scatterChart,
  writeChart,
} from "./lib/figures/charts.ts";
export { digitGlyph } from "./lib/figures/glyphs.ts";
export { markdownTable } from "./lib/report.ts";

// Notebooks: training in one call, cells run out of order, GIFs inline.
export {
  type AutoencoderTraining,
  CellOrderError,
  gifDisplay,
  ranFirst,
  trainAutoencoders,
  type TrainedAutoencoder,
  type TrainOptions,
} from "./lib/notebook.ts";
