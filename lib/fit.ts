/**
 * The training loops every script shares: epochs of {@link Autoencoder.trainEpoch} with a progress bar that
 * shows the loss and samples/s, the validation and test loss after each epoch, and a stop when the loss
 * turns NaN or infinite (a diverged run); and the same for a whole population of models trained at once
 * on the fused WebGPU engine ({@link fitPopulation}).
 *
 * @module
 */
import { ProgressBar } from "./cli.ts";
import type { TensorBatches } from "./data/batches.ts";
import type { Digits } from "./data/mnist.ts";
import { IMAGE_PIXELS } from "./model/architecture.ts";
import { Population } from "./gpu/population.ts";
import { Autoencoder, type AutoencoderConfig } from "./model/autoencoder.ts";
import {
  resumeCheckpoint,
  resumePopulationCheckpoint,
  saveCheckpoint,
  savePopulationCheckpoint,
} from "./model/checkpoint.ts";

/** The losses of one epoch and how fast it trained. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  validationLoss: number | null;
  testLoss: number | null;
  seconds: number;
  samplesPerSecond: number;
}

/**
 * Where to keep a checkpoint after each epoch, and the settings a resume must share: a run interrupted
 * with the same resumes after its last finished epoch, unless `fresh`, and ends as an uninterrupted one
 * would have. The caller removes the file when it has kept the results.
 */
export interface CheckpointOptions {
  path: string;
  settings: unknown;
  fresh?: boolean;
}

/** What {@link fit} trains on and reports. */
export interface FitOptions {
  epochs: number;
  train: TensorBatches;
  validation?: TensorBatches;
  test?: TensorBatches;
  /** Prefix of the progress bar, e.g. the trial or model it trains. */
  label?: string;
  /** A checkpoint of the model (weights, Adam's moments, history) after each epoch. */
  checkpoint?: CheckpointOptions;
}

/** The epochs trained and whether training stopped because the loss diverged. */
export interface FitResult {
  history: EpochRecord[];
  diverged: boolean;
}

/**
 * Trains `model` for `options.epochs` epochs, drawing a progress bar per epoch, and evaluates the
 * validation and test sets after each. Stops early, with `diverged` set, when a loss turns NaN/infinite.
 */
export async function fit(model: Autoencoder, options: FitOptions): Promise<FitResult> {
  const { epochs, train, validation, test, label = "train", checkpoint } = options;
  const history: EpochRecord[] = [];
  if (checkpoint && !checkpoint.fresh) {
    const resumed = await resumeCheckpoint(checkpoint.path, model, checkpoint.settings);
    if (resumed) {
      history.push(...resumed);
      train.seek(resumed.length);
      console.error(`${label}: resuming after epoch ${resumed.length} from ${checkpoint.path}`);
    }
  }
  for (let epoch = history.length + 1; epoch <= epochs; epoch++) {
    const bar = new ProgressBar(`${label} epoch ${epoch}/${epochs}`, train.batchCount);
    const trainLoss = await model.trainEpoch(train, {
      onStep: (done) =>
        bar.update(done, `${rate(Math.min(done * train.batchSize, train.count), bar)} samples/s`),
    });
    const seconds = bar.elapsedSeconds;
    const validationLoss = validation ? await model.testEpoch(validation) : null;
    const testLoss = test ? await model.testEpoch(test) : null;
    const record: EpochRecord = {
      epoch,
      trainLoss,
      validationLoss,
      testLoss,
      seconds,
      samplesPerSecond: train.count / seconds,
    };
    history.push(record);
    bar.finish(describeEpoch(record));
    if (checkpoint) await saveCheckpoint(checkpoint.path, model, checkpoint.settings, history);
    const losses = [trainLoss, validationLoss, testLoss].filter((loss) => loss !== null);
    if (!losses.every(Number.isFinite)) return { history, diverged: true };
  }
  return { history, diverged: false };
}

function rate(samples: number, bar: ProgressBar): string {
  return Math.round(samples / Math.max(bar.elapsedSeconds, 1e-3)).toLocaleString("en-US");
}

/** One line of an epoch's losses and speed, as the progress bar ends with. */
export function describeEpoch(record: EpochRecord): string {
  const parts = [`loss ${record.trainLoss.toFixed(5)}`];
  if (record.validationLoss !== null) parts.push(`val ${record.validationLoss.toFixed(5)}`);
  if (record.testLoss !== null) parts.push(`test ${record.testLoss.toFixed(5)}`);
  parts.push(`${Math.round(record.samplesPerSecond).toLocaleString("en-US")} samples/s`);
  return parts.join(" · ");
}

/** What {@link fitPopulation} trains on: MNIST digits, uploaded once to the GPU. */
export interface PopulationFitOptions {
  epochs: number;
  batchSize: number;
  train: Digits;
  validation?: Digits;
  test?: Digits;
  /** Prefix of the progress bar. */
  label?: string;
  /**
   * A checkpoint of the whole population after each epoch; besides its settings, a resume must share the
   * models, the batch size, the epochs and the training images.
   */
  checkpoint?: CheckpointOptions;
}

/**
 * Trains every model of `configs` at once on the fused WebGPU engine — one population, the same
 * dispatches — for `options.epochs` epochs, evaluating the validation and test sets after each. Returns
 * each model as an {@link Autoencoder} holding its final weights, with its history; a model whose loss
 * turns NaN/infinite is marked diverged and its history stops there, while the others go on.
 */
export async function fitPopulation(
  configs: AutoencoderConfig[],
  options: PopulationFitOptions,
): Promise<{ models: Autoencoder[]; results: FitResult[] }> {
  const { epochs, batchSize, train, validation, test, label = "population", checkpoint } = options;
  const population = await Population.create({
    batchSize,
    models: configs.map(({ hidden, dropout, lr, l2, seed }) => ({
      hidden,
      dropout,
      learningRate: lr,
      weightDecay: l2,
      seed,
    })),
  });
  try {
    const upload = (digits?: Digits) =>
      digits && population.upload(digits.images.subarray(0, digits.count * IMAGE_PIXELS));
    const [trainData, validationData, testData] = await Promise.all([
      upload(train),
      upload(validation),
      upload(test),
    ]);
    const settings = {
      run: checkpoint?.settings,
      configs,
      batchSize,
      epochs,
      trainImages: train.count,
    };
    let resumed: FitResult[] | undefined;
    if (checkpoint && !checkpoint.fresh) {
      resumed = await resumePopulationCheckpoint(checkpoint.path, population, settings);
      if (resumed) {
        console.error(
          `${label}: resuming after epoch ${population.epochs} from ${checkpoint.path}`,
        );
      }
    }
    const results = resumed ?? configs.map(() => ({ history: [], diverged: false }));
    for (let epoch = population.epochs + 1; epoch <= epochs; epoch++) {
      const bar = new ProgressBar(`${label} epoch ${epoch}/${epochs}`, 1);
      const trainLosses = await population.trainEpoch(trainData!);
      const seconds = bar.elapsedSeconds;
      const validationLosses = validationData && await population.evaluate(validationData);
      const testLosses = testData && await population.evaluate(testData);
      results.forEach((result, i) => {
        if (result.diverged) return;
        const record: EpochRecord = {
          epoch,
          trainLoss: trainLosses[i],
          validationLoss: validationLosses?.[i] ?? null,
          testLoss: testLosses?.[i] ?? null,
          seconds,
          samplesPerSecond: train.count / seconds,
        };
        result.history.push(record);
        const losses = [record.trainLoss, record.validationLoss, record.testLoss];
        result.diverged = !losses.filter((loss) => loss !== null).every(Number.isFinite);
      });
      const total = Math.round((configs.length * train.count) / seconds).toLocaleString("en-US");
      const alive = results.filter((result) => !result.diverged).length;
      bar.finish(`${configs.length} models (${alive} converging) · ${total} samples/s in total`);
      if (checkpoint) {
        await savePopulationCheckpoint(checkpoint.path, population, settings, results);
      }
    }
    const models = [];
    for (const [i, config] of configs.entries()) {
      const model = Autoencoder.create(config);
      model.setWeights(await population.getWeights(i));
      models.push(model);
    }
    return { models, results };
  } finally {
    population.destroy(); // the device, and every buffer on it
  }
}
