/**
 * The one training loop, over any {@link Trainer}: epochs of the whole population with a progress bar
 * (steps, samples/s), each model's validation and test loss after each epoch, a model dropped as
 * diverged once a loss turns NaN or infinite, and a call after each epoch where the caller keeps its
 * progress (each training's checkpoint, `trainings.ts`).
 *
 * @module
 */
import { ProgressBar } from "../cli.ts";
import type { EpochRecord, FitResult, Trainer } from "./trainer.ts";

/** How {@link fit} trains. */
export interface FitOptions {
  /** Epochs each model trains in all, those of a resumed checkpoint included. */
  epochs: number;
  /** Prefix of the progress bars, e.g. the experiment. */
  label?: string;
  /**
   * What the models trained before, when they start from saved states rather than from their seeds: each
   * model's history, all of the same length.
   */
  from?: FitResult[];
  /**
   * Called after each epoch with the epoch and every model's results so far: where a caller keeps its
   * progress, such as each training's checkpoint.
   */
  afterEpoch?: (epoch: number, results: FitResult[]) => Promise<void>;
}

/**
 * Trains every model of `trainer` for `options.epochs` epochs, evaluating its validation and test images
 * after each; returns each model's history, in the trainer's order. A model whose loss turns NaN or
 * infinite is marked diverged and trains no further, while the others go on.
 *
 * @example
 * ```ts
 * import { fit } from "./fit.ts";
 * import { TfjsTrainer } from "./tfjs.ts";
 * import { setupBackend } from "../tfjs.ts";
 * const { backend } = await setupBackend("wasm", { quiet: true });
 * const images = new Uint8Array(64 * 784).fill(128);
 * const trainer = new TfjsTrainer([{
 *   name: "d = 2",
 *   model: { kind: "autoencoder", hidden: 2, dropout: 0 },
 *   lr: 1e-3,
 *   l2: 0,
 *   seed: 1,
 *   train: { inputs: images, count: 64 },
 * }], { batchSize: 32, backend });
 * const [result] = await fit(trainer, { epochs: 2 });
 * console.log(result.history.length); // 2
 * await trainer.dispose();
 * ```
 */
export async function fit(trainer: Trainer, options: FitOptions): Promise<FitResult[]> {
  const { epochs, label = "train" } = options;
  const results: FitResult[] = options.from?.map(({ history, diverged }) => ({
    history: [...history],
    diverged,
  })) ?? trainer.jobs.map(() => ({ history: [], diverged: false }));
  const done = results[0]?.history.length ?? 0;
  const images = trainer.jobs.map((job) => job.train.count);
  for (let epoch = done + 1; epoch <= epochs; epoch++) {
    const active = results.map((result) => !result.diverged);
    if (!active.includes(true)) break;
    const bar = new ProgressBar(`${label} epoch ${epoch}/${epochs}`, 1);
    const trainLosses = await trainer.trainEpoch({
      active,
      onProgress: (steps, total) => {
        bar.total = total;
        const samples = (steps / total) * sum(images.filter((_, i) => active[i]));
        bar.update(steps, `${formatRate(samples / Math.max(bar.elapsedSeconds, 1e-3))} samples/s`);
      },
    });
    const seconds = bar.elapsedSeconds;
    const validation = await trainer.evaluate("validation", active);
    const test = await trainer.evaluate("test", active);
    const records: EpochRecord[] = [];
    results.forEach((result, i) => {
      if (!active[i]) return;
      const record = {
        epoch,
        trainLoss: trainLosses[i],
        validationLoss: validation[i],
        testLoss: test[i],
        seconds,
        samplesPerSecond: images[i] / seconds,
      };
      records.push(record);
      result.history.push(record);
      const losses = [record.trainLoss, record.validationLoss, record.testLoss];
      result.diverged = !losses.every((loss) => loss === null || Number.isFinite(loss));
    });
    const total = formatRate(sum(images.filter((_, i) => active[i])) / Math.max(seconds, 1e-3));
    bar.finish(
      records.length === 1
        ? describeEpoch(records[0])
        : `${records.length} models (${results.filter((r) => !r.diverged).length} converging) · ` +
          `${total} samples/s in total`,
    );
    await options.afterEpoch?.(epoch, results);
  }
  return results;
}

/** One line of an epoch's losses and speed, as the progress bar ends with. */
export function describeEpoch(record: EpochRecord): string {
  const parts = [`loss ${record.trainLoss.toFixed(5)}`];
  if (record.validationLoss !== null) parts.push(`val ${record.validationLoss.toFixed(5)}`);
  if (record.testLoss !== null) parts.push(`test ${record.testLoss.toFixed(5)}`);
  parts.push(`${formatRate(record.samplesPerSecond)} samples/s`);
  return parts.join(" · ");
}

/**
 * The training images per second over the epochs of `history` (those this run trained and those it
 * resumed alike): what the records themselves measured.
 */
export function overallRate(history: readonly EpochRecord[], images: number): number {
  const seconds = sum(history.map((record) => record.seconds));
  return seconds > 0 ? (images * history.length) / seconds : 0;
}

/**
 * A rate in samples (images) per second as every log, table and report shows it: whole, with thousands
 * separated by commas.
 *
 * @example
 * ```ts
 * import { formatRate } from "./fit.ts";
 * console.log(formatRate(12345.6)); // 12,346
 * ```
 */
export function formatRate(samplesPerSecond: number): string {
  return Math.round(samplesPerSecond).toLocaleString("en-US");
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
