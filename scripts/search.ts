/**
 * `deno task search`: the seed's random search of training parameters. Draws `--trials` combinations of
 * dropout, learning rate and L2 weight decay, trains each on the training split and scores it on the
 * validation split (never the test set), or by k-fold cross-validation over the training split. Each
 * finished trial is saved as it ends (on the fused engine, where the trials train as one population, the
 * population is checkpointed after each epoch), so an interrupted search resumes where it stopped.
 * Writes the ranked table, a figure of the validation loss against lr and L2, and the best combination,
 * which `train`, `sweep` and `denoise` then use by default.
 *
 *     deno task search --trials 30 --epochs 10
 *     deno task search --folds 5 --lr-range 1e-4,1e-2 --fresh
 *
 * @module
 */
import { basename, join } from "node:path";
import { check, parseFlags, runMain, writeFileAtomic, writeJsonAtomic } from "../lib/cli.ts";
import { type Digits } from "../lib/data/mnist.ts";
import { pickDigits, TensorBatches } from "../lib/data/batches.ts";
import {
  checkInteger,
  commonFlags,
  populationOrFallback,
  setupExperiment,
} from "../lib/experiment.ts";
import { fit, fitPopulation } from "../lib/fit.ts";
import { scatterChart, writeChart } from "../lib/figures/charts.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { csvTable, markdownTable, publishSection } from "../lib/report.ts";
import {
  BEST_PARAMS_FILE,
  describeParams,
  generateParams,
  kFoldSplits,
  LR_RANGE,
  rankTrials,
  TrialLog,
  type TrialParams,
  type TrialRecord,
} from "../lib/search.ts";

/** How the table shows each kind of number. */
const FORMATS = {
  dropout: (value: number) => value.toFixed(4),
  rate: (value: number) => value.toExponential(2),
  loss: (value: number) => value.toFixed(5),
  seconds: (value: number) => value.toFixed(1),
};

/** Training images and the images a trial is scored on. */
interface Split {
  train: Digits;
  validation: Digits;
}

/** How every trial trains. */
interface TrialOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  /** Prefix of the progress bars. */
  label: string;
}

await runMain(async () => {
  // Flags.
  const flags = parseFlags(Deno.args, {
    trials: { type: "number", default: 30, help: "parameter combinations to try" },
    hidden: { type: "number", default: 4, help: "latent size d, fixed for all trials" },
    epochs: { type: "number", default: 10, help: "passes over the training images per trial" },
    "batch-size": { type: "number", default: 256, help: "images per step" },
    folds: {
      type: "number",
      default: 1,
      help: "k-fold cross-validation over the training split (1: score on the validation split)",
    },
    "lr-range": {
      type: "string",
      default: LR_RANGE.join(","),
      help: "learning rates drawn log-uniformly between min,max",
    },
    fresh: { type: "boolean", default: false, help: "start over instead of resuming trials.json" },
    ...commonFlags("search"),
  }, "search");
  checkInteger("trials", flags.trials, 1);
  checkInteger("hidden", flags.hidden, 1);
  checkInteger("epochs", flags.epochs, 1);
  checkInteger("batch-size", flags["batch-size"], 1);
  checkInteger("folds", flags.folds, 1);
  const lrRange = parseRange("lr-range", flags["lr-range"]);

  // Data: the plain train/validation split, or k folds of the training split.
  const { data, backend, engine, out } = await setupExperiment(flags);
  check(
    flags.folds <= data.train.count,
    `--folds ${flags.folds} exceeds the ${data.train.count} training images`,
  );
  const splits: Split[] = flags.folds === 1
    ? [{ train: data.train, validation: data.validation }]
    : kFoldSplits(data.train.count, flags.folds, flags.seed).map(({ train, validation }) => ({
      train: pickDigits(data.train, train),
      validation: pickDigits(data.train, validation),
    }));

  // The trial log: finished trials kept from an interrupted search with the same settings.
  const logPath = join(out, "trials.json");
  const settings = {
    hidden: flags.hidden,
    epochs: flags.epochs,
    batchSize: flags["batch-size"],
    folds: flags.folds,
    lrRange,
    seed: flags.seed,
    limit: flags.limit,
    backend: engine === "fused" ? "fused" : backend.backend,
  };
  const log = await TrialLog.open(logPath, settings, flags.fresh);
  const combinations = generateParams(flags.trials, flags.seed, flags.hidden, lrRange);
  const kept = combinations.filter((_, index) => log.has(index)).length;
  if (kept > 0) {
    console.error(`resuming: ${kept} of ${flags.trials} trials already finished in ${logPath}`);
  }
  console.error(
    `searching ${flags.trials} combinations, ${flags.epochs} epochs each on ${
      splits[0].train.count
    } images, scored on ${
      flags.folds === 1 ? `${data.validation.count} validation images` : `${flags.folds} folds`
    }`,
  );

  // Loop: the trials not finished yet, one at a time on tfjs, each saved as it ends; or all at once as one
  // population on the fused engine, saved together (on tfjs after all where auto's population does not
  // fit the GPU).
  const pending = [...combinations.entries()].filter(([index]) => !log.has(index));
  const options = { epochs: flags.epochs, batchSize: flags["batch-size"], seed: flags.seed };
  // The population's checkpoint of each fold, kept until every trial is in the log.
  const checkpoints = splits.map((_, fold) =>
    join(out, `trials-fold${fold + 1}.checkpoint.safetensors`)
  );
  const results = engine === "fused" && pending.length > 0
    ? await populationOrFallback(
      flags.engine,
      () =>
        runTrialsTogether(pending.map(([, params]) => params), splits, {
          ...options,
          checkpoints,
          settings,
          fresh: flags.fresh,
        }),
    ) ?? []
    : [];
  for (const [i, [index, params]] of pending.entries()) {
    const label = `trial ${index + 1}/${flags.trials}`;
    const result = results[i] ?? await runTrial(params, splits, { ...options, label });
    const trial = { index, params, ...result };
    await log.record(trial);
    console.error(`${label}: ${describeParams(params)} → ${describeLoss(trial)}`);
  }
  for (const path of checkpoints) await Deno.remove(path).catch(() => {});
  const ranked = rankTrials(log.trials.filter((trial) => trial.index < flags.trials));
  const finished = ranked.filter((trial) => !trial.diverged);

  // Figures and files: the ranked table, the loss against lr and L2, the best combination.
  const foldHeaders = flags.folds === 1
    ? []
    : Array.from({ length: flags.folds }, (_, f) => `fold ${f + 1}`);
  const headers = [
    "rank",
    "trial",
    "dropout",
    "lr",
    "L2",
    "validation loss",
    ...foldHeaders,
    "seconds",
  ];
  const tableRows = (show: (value: number | null, kind: keyof typeof FORMATS) => string | number) =>
    ranked.map((trial, rank) => [
      rank + 1,
      trial.index + 1,
      show(trial.params.dropout, "dropout"),
      show(trial.params.lr, "rate"),
      show(trial.params.l2, "rate"),
      show(trial.validationLoss, "loss"),
      ...(flags.folds === 1 ? [] : trial.foldLosses.map((loss) => show(loss, "loss"))),
      show(trial.seconds, "seconds"),
    ]);
  const shownRows = tableRows((value, kind) => value === null ? "diverged" : FORMATS[kind](value));
  const csv = csvTable(headers, tableRows((value) => value ?? "diverged"));
  await writeFileAtomic(join(out, "trials.csv"), csv);
  console.log(markdownTable(headers, shownRows));

  const figure = "loss_vs_params";
  if (finished.length > 0) {
    await writeChart(
      join(out, figure),
      await scatterChart({
        title: `Validation loss after ${flags.epochs} epochs, ${finished.length} of ` +
          `${ranked.length} trials`,
        x: [
          { title: "learning rate", values: finished.map((t) => t.params.lr), log: true },
          { title: "L2 weight decay", values: finished.map((t) => t.params.l2), log: true },
        ],
        y: {
          title: "validation loss (MSE per pixel)",
          values: finished.map((t) => t.validationLoss!),
          log: true,
        },
        color: { title: "dropout", values: finished.map((t) => t.params.dropout) },
        width: 360,
      }),
    );
  } else {
    // no stale figure of an earlier search beside these trials
    for (const extension of ["svg", "png"]) {
      await Deno.remove(join(out, `${figure}.${extension}`)).catch(() => {});
    }
  }

  const bestPath = join(out, basename(BEST_PARAMS_FILE));
  const best = finished[0];
  if (best) {
    await writeJsonAtomic(bestPath, {
      dropout: best.params.dropout,
      lr: best.params.lr,
      l2: best.params.l2,
      hidden: best.params.hidden,
      validationLoss: best.validationLoss,
      trial: best.index + 1,
      trials: ranked.length,
      epochs: flags.epochs,
      folds: flags.folds,
      trainImages: splits[0].train.count,
      seed: flags.seed,
      backend: backend.backend,
    });
  } else await Deno.remove(bestPath).catch(() => {}); // no stale recommendation beside these trials

  const diverged = ranked.length - finished.length;
  const exponent = (value: number) => String(+Math.log10(value).toFixed(2)).replace("-", "−");
  const drawn = `dropout U[0, 0.5], lr 10^U(${lrRange.map(exponent).join(", ")}), L2 10^U(−6, −2)`;
  const scoring = flags.folds === 1
    ? `scored on ${data.validation.count} held-out training images (never the test set)`
    : `scored by ${flags.folds}-fold cross-validation over the training split`;
  const outcome = best
    ? `Best: trial ${best.index + 1}, ${describeParams(best.params)}, validation loss ` +
      `${FORMATS.loss(best.validationLoss!)}; train, sweep and denoise now use it by default.`
    : "No trial converged, so no parameters are recommended.";
  await publishSection(out, {
    title: `Random search: d = ${flags.hidden}`,
    items: [
      {
        kind: "text",
        text: `${ranked.length} combinations drawn as the seed does (${drawn}), each trained ` +
          `${flags.epochs} epochs on ${splits[0].train.count} images and ${scoring}; ${diverged} ` +
          `diverged. ${outcome}`,
      },
      ...(finished.length > 0
        ? [{
          kind: "figure" as const,
          file: `${figure}.png`,
          caption: "Validation loss of each converged trial against its learning rate (left) and " +
            "L2 weight decay (right), coloured by dropout.",
        }]
        : []),
      {
        kind: "table",
        caption: "All trials, best first; diverged ones last.",
        headers,
        rows: shownRows,
      },
    ],
  });
  if (!best) throw new Error(`all ${ranked.length} trials diverged; narrow --lr-range`);
  console.error(`best: trial ${best.index + 1}, ${describeParams(best.params)}; wrote ${out}/`);
});

/**
 * Trains one combination on each split (the validation split, or each fold) and scores it by the
 * validation loss after the last epoch, averaged over the splits. A split whose loss turns NaN/infinite
 * ends the trial as diverged. The one place a trial is trained: a population engine that trains all
 * trials at once replaces this.
 */
async function runTrial(
  params: TrialParams,
  splits: Split[],
  options: TrialOptions,
): Promise<TrialResult> {
  const { epochs, batchSize, seed, label } = options;
  const started = performance.now();
  const foldLosses: (number | null)[] = [];
  for (const [fold, split] of splits.entries()) {
    const train = TensorBatches.fromDigits(split.train, { batchSize, seed });
    const validation = TensorBatches.fromDigits(split.validation, {
      batchSize: 1000,
      shuffle: false,
    });
    const model = Autoencoder.create({ ...params, seed });
    try {
      const { history, diverged } = await fit(model, {
        epochs,
        train,
        validation,
        label: splits.length === 1 ? label : `${label} fold ${fold + 1}/${splits.length}`,
      });
      foldLosses.push(diverged ? null : history[history.length - 1].validationLoss);
    } finally {
      model.dispose();
      train.dispose();
      validation.dispose();
    }
    if (foldLosses[fold] === null) break;
  }
  return trialResult(foldLosses, (performance.now() - started) / 1000);
}

/** How {@link runTrialsTogether} keeps each fold's population checkpoint. */
interface FoldCheckpoints {
  /** One checkpoint path per split. */
  checkpoints: string[];
  /** The search's settings, which a resume must share. */
  settings: unknown;
  /** Whether to ignore checkpoints left by an earlier run. */
  fresh: boolean;
}

/**
 * Trains every combination of `params` at once on the fused engine, fold by fold, each fold one population
 * checkpointed after each epoch (an interrupted search resumes inside its fold); the results in the order
 * of `params`. A combination whose loss diverges in a fold is scored as diverged.
 */
async function runTrialsTogether(
  params: TrialParams[],
  splits: Split[],
  options: Omit<TrialOptions, "label"> & FoldCheckpoints,
): Promise<TrialResult[]> {
  const started = performance.now();
  const foldLosses: (number | null)[][] = params.map(() => []);
  for (const [fold, split] of splits.entries()) {
    const { models, results } = await fitPopulation(
      params.map((trial) => ({ ...trial, seed: options.seed })),
      {
        epochs: options.epochs,
        batchSize: options.batchSize,
        train: split.train,
        validation: split.validation,
        label: splits.length === 1 ? "trials" : `trials, fold ${fold + 1}/${splits.length}`,
        checkpoint: {
          path: options.checkpoints[fold],
          settings: { search: options.settings, fold },
          fresh: options.fresh,
        },
      },
    );
    models.forEach((model) => model.dispose());
    results.forEach(({ history, diverged }, i) =>
      foldLosses[i].push(diverged ? null : history[history.length - 1].validationLoss)
    );
  }
  const seconds = (performance.now() - started) / 1000;
  return foldLosses.map((losses) => trialResult(losses, seconds));
}

/** What a trial's record holds beyond its index and parameters. */
type TrialResult = Omit<TrialRecord, "index" | "params">;

/** A trial's result from its fold losses (null for a diverged fold) and the seconds it took. */
function trialResult(foldLosses: (number | null)[], seconds: number): TrialResult {
  const diverged = foldLosses.includes(null);
  const losses = foldLosses as number[];
  return {
    validationLoss: diverged ? null : losses.reduce((sum, loss) => sum + loss, 0) / losses.length,
    foldLosses,
    diverged,
    seconds,
  };
}

function describeLoss(trial: TrialRecord): string {
  const loss = trial.diverged
    ? "diverged"
    : `validation loss ${FORMATS.loss(trial.validationLoss!)}`;
  return `${loss} (${trial.seconds.toFixed(1)} s)`;
}

/** Parses `min,max` with 0 < min ≤ max; anything else is a usage error naming `--name`. */
function parseRange(name: string, text: string): [number, number] {
  const values = text.split(",").map((part) => part.trim() === "" ? NaN : Number(part));
  check(
    values.length === 2 && values.every(Number.isFinite) && values[0] > 0 &&
      values[0] <= values[1],
    `--${name} must be min,max with 0 < min ≤ max, got "${text}"`,
  );
  return [values[0], values[1]];
}
