/**
 * What a notebook's cells need beyond the other parts of aelab: training autoencoders in one call that
 * hands back the trained models, a cell that needs another's result saying in one line which to run
 * first, and figures shown inline by Deno's Jupyter kernel (`deno jupyter`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Autoencoder } from "./model/autoencoder.ts";
import { STUDY_BEST_PARAMS } from "./search_space.ts";
import { setupBackend } from "./tfjs.ts";
import { chooseEngine, createTrainer } from "./train/engine.ts";
import { fit } from "./train/fit.ts";
import type { Dataset, EpochRecord } from "./train/trainer.ts";

/** One autoencoder for {@link trainAutoencoders}: its latent size and what it learns from. */
export interface AutoencoderTraining {
  /** Latent size d. */
  hidden: number;
  /** Images it trains on (and the clean images it should output, for a denoiser). */
  train: Dataset;
  /** Images it is scored on after each epoch. */
  test: Dataset;
}

/** How {@link trainAutoencoders} trains: the study's best parameters unless given. */
export interface TrainOptions {
  epochs: number;
  lr?: number;
  l2?: number;
  dropout?: number;
  batchSize?: number;
  seed?: number;
  /** Prefix of the progress lines, e.g. `sweep`. */
  label?: string;
}

/** A trained autoencoder and the losses of its epochs. */
export interface TrainedAutoencoder {
  model: Autoencoder;
  history: EpochRecord[];
}

/**
 * Trains one autoencoder per entry of `trainings` as one population, on the engine this machine trains
 * fastest with, a line of progress per epoch; returns each trained model with its history, in order. A
 * model whose loss turned NaN or infinite is an error that says to lower the learning rate.
 *
 * @example
 * ```ts ignore
 * import { datasetOf, loadMnist, takeDigits, trainAutoencoders } from "../mod.ts";
 * const { train, test } = await loadMnist();
 * const [{ model, history }] = await trainAutoencoders([{
 *   hidden: 4,
 *   train: datasetOf(takeDigits(train, 2_000)),
 *   test: datasetOf(takeDigits(test, 500)),
 * }], { epochs: 2 });
 * console.log(history.at(-1)?.testLoss, model.config.hidden);
 * ```
 */
export async function trainAutoencoders(
  trainings: AutoencoderTraining[],
  options: TrainOptions,
): Promise<TrainedAutoencoder[]> {
  const { lr, l2, dropout } = { ...STUDY_BEST_PARAMS, ...definedOf(options) };
  const engine = await chooseEngine("auto", { backend: await setupBackend(), quiet: true });
  const jobs = trainings.map(({ hidden, train, test }) => ({
    name: `d = ${hidden}`,
    model: { kind: "autoencoder", hidden, dropout } as const,
    lr,
    l2,
    seed: options.seed ?? 0,
    train,
    test,
  }));
  const trainer = await createTrainer(engine, jobs, { batchSize: options.batchSize ?? 256 });
  try {
    const results = await fit(trainer, { epochs: options.epochs, label: options.label });
    return await Promise.all(results.map(async ({ history, diverged }, i) => {
      if (diverged) {
        throw new Error(`${jobs[i].name} diverged (a loss turned NaN or infinite): lower lr`);
      }
      const { weights } = await trainer.getState(i);
      const model = Autoencoder.fromWeights({ hidden: trainings[i].hidden, dropout }, weights);
      return { model, history };
    }));
  } finally {
    await trainer.dispose();
  }
}

/** The options given, without those left undefined. */
function definedOf(options: TrainOptions): Partial<TrainOptions> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** A cell run before the cell whose result it needs: one line, no stack trace. */
export class CellOrderError extends Error {
  constructor(cell: string) {
    super(`run the cell '${cell}' first`);
    this.name = "CellOrderError";
    // Jupyter shows an error's stack: this one's is its line.
    this.stack = this.message;
  }
}

/**
 * `value`, the result of the notebook cell titled `cell`; a {@link CellOrderError} naming that cell
 * where it has not run yet (the value is undefined).
 *
 * @example
 * ```ts
 * import { ranFirst } from "./notebook.ts";
 * let model: string | undefined;
 * try {
 *   ranFirst(model, "Train the d = 4 model");
 * } catch (error) {
 *   console.log((error as Error).message); // run the cell 'Train the d = 4 model' first
 * }
 * ```
 */
export function ranFirst<T>(value: T | undefined, cell: string): T {
  if (value === undefined) throw new CellOrderError(cell);
  return value;
}

/** An animated GIF as a Jupyter display: pass it to `Deno.jupyter.display(…, { raw: true })`. */
export function gifDisplay(gif: Uint8Array): { "image/gif": string } {
  return { "image/gif": Buffer.from(gif).toString("base64") };
}
