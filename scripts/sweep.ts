/**
 * `deno task sweep`: the seed's Figure 1. Trains one autoencoder per latent size d (1…10 by default) with
 * the same parameters, reports each final test loss, fits an exponential to loss against d, and shows the
 * same test digits reconstructed by every size. Each size's weights and result are saved as it ends (on the
 * fused engine, where the sizes train as one population, the population is checkpointed after each epoch),
 * so an interrupted sweep resumes where it stopped (and a sweep given more sizes trains only the new ones).
 *
 *     deno task sweep --sizes 1-10 --epochs 80
 *     deno task sweep --sizes 1,2,4,8 --lr 1e-3
 *
 * @module
 */
import { join } from "node:path";
import {
  check,
  exists,
  parseFlags,
  runMain,
  writeFileAtomic,
  writeJsonAtomic,
} from "../lib/cli.ts";
import { takeDigits, TensorBatches } from "../lib/data/batches.ts";
import {
  commonFlags,
  type ExperimentData,
  populationOrFallback,
  setupExperiment,
  trainingFlags,
  type TrainingParams,
  trainingParams,
} from "../lib/experiment.ts";
import { type EpochRecord, fit, fitPopulation, type FitResult } from "../lib/fit.ts";
import { scatterChart, writeChart } from "../lib/figures/charts.ts";
import { encodeDigitGrid } from "../lib/figures/png.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { pickImages, reconstructPixels } from "../lib/predict.ts";
import { csvTable, markdownTable, publishSection } from "../lib/report.ts";
import { describeParams, TrialLog } from "../lib/search.ts";
import { fitExponential } from "../lib/stats.ts";

/** Test digits shown reconstructed by every size. */
const PREVIEW_DIGITS = 10;

/** The largest latent size a sweep takes: a code as long as the image it encodes. */
const MAX_HIDDEN = 28 * 28;

/** The result of one latent size, as the sweep's log keeps it (`index` is the size). */
interface SizeRecord {
  index: number;
  hidden: number;
  diverged: boolean;
  finalTrainLoss: number | null;
  finalValidationLoss: number | null;
  finalTestLoss: number | null;
  seconds: number;
  epochs: EpochRecord[];
}

await runMain(async () => {
  // Flags: the search's best parameters (or the seed's) unless given.
  const flags = parseFlags(Deno.args, {
    sizes: {
      type: "string",
      default: "1-10",
      help: "latent sizes d: a range 1-10, a list 1,2,4,8",
    },
    ...trainingFlags(80),
    fresh: { type: "boolean", default: false, help: "start over instead of resuming sizes done" },
    ...commonFlags("sweep"),
  }, "sweep");
  const sizes = parseSizes(flags.sizes);
  const params = await trainingParams(flags);
  if (params.source !== "flags") console.error(`parameters: ${params.source}`);

  // Data, and the log of the sizes finished by an earlier run with the same settings.
  const { data, backend, engine, out } = await setupExperiment(flags);
  const logPath = join(out, "sweep_log.json");
  const settings = {
    params: { dropout: params.dropout, lr: params.lr, l2: params.l2 },
    epochs: params.epochs,
    batchSize: params.batchSize,
    seed: flags.seed,
    limit: flags.limit,
    testLimit: flags["test-limit"],
    backend: engine === "fused" ? "fused" : backend.backend,
  };
  const log = await TrialLog.open<SizeRecord>(logPath, settings, flags.fresh);
  const weightsPath = (hidden: number) => join(out, `model-d${hidden}.safetensors`);
  const { lr, l2, dropout } = params;
  console.error(
    `sweeping d = ${sizes.join(", ")}: ${params.epochs} epochs each on ${data.train.count} ` +
      `images, ${describeParams(params)}`,
  );

  // Loop: the sizes not done yet, one at a time on tfjs or all at once as one population on the fused
  // engine (on tfjs after all where auto's population does not fit the GPU); each size's weights and
  // result saved as it ends.
  const pending: number[] = [];
  for (const hidden of sizes) {
    if (log.has(hidden) && await exists(weightsPath(hidden))) {
      console.error(`d=${hidden}: kept from ${logPath}`);
    } else pending.push(hidden);
  }
  const save = async (model: Autoencoder, record: SizeRecord) => {
    await model.save(weightsPath(record.hidden));
    model.dispose();
    await log.record(record);
  };
  // The population's checkpoint after each epoch: an interrupted sweep resumes inside its epochs.
  const checkpoint = join(out, "sweep.checkpoint.safetensors");
  const started = performance.now();
  const together = engine === "fused" && pending.length > 0
    ? await populationOrFallback(flags.engine, () =>
      fitPopulation(
        pending.map((hidden) => ({ ...params, hidden, seed: flags.seed })),
        {
          ...data,
          epochs: params.epochs,
          batchSize: params.batchSize,
          label: "sweep",
          checkpoint: { path: checkpoint, settings, fresh: flags.fresh },
        },
      ))
    : undefined;
  if (together) {
    const seconds = (performance.now() - started) / 1000;
    for (const [i, hidden] of pending.entries()) {
      await save(together.models[i], sizeRecord(hidden, together.results[i], seconds));
    }
    await Deno.remove(checkpoint);
  } else {
    for (const [i, hidden] of pending.entries()) {
      const label = `d=${hidden} (${i + 1}/${pending.length})`;
      const { model, record } = await trainSize(hidden, params, data, { seed: flags.seed, label });
      await save(model, record);
    }
  }
  const records = sizes.map((hidden) => log.trials.find((record) => record.index === hidden)!);

  // The exponential fit of the final test loss against d, over the sizes that converged.
  const converged = records.filter((record) => record.finalTestLoss !== null);
  const trend = converged.length >= 2
    ? fitExponential(converged.map((r) => r.hidden), converged.map((r) => r.finalTestLoss!))
    : null;

  // Figures: loss against d with the fit; the same test digits reconstructed by each size.
  const lossFigure = "loss_vs_hidden";
  if (converged.length > 0) {
    await writeChart(
      join(out, lossFigure),
      await scatterChart({
        title: trend
          ? `Final test loss against hidden size (×${trend.factorPerUnit.toFixed(3)} per unit of d)`
          : "Final test loss against hidden size",
        x: { title: "hidden size d", values: converged.map((r) => r.hidden) },
        y: {
          title: "final test loss (MSE per pixel)",
          values: converged.map((r) => r.finalTestLoss!),
          log: true,
        },
        trend: trend ? "exponential" : undefined,
      }),
    );
  } else {
    // no stale figure of an earlier sweep beside these results
    for (const extension of ["svg", "png"]) {
      await Deno.remove(join(out, `${lossFigure}.${extension}`)).catch(() => {});
    }
  }
  const previewDigits = takeDigits(data.test, PREVIEW_DIGITS);
  const preview = previewDigits.images;
  const columns = [...Array(previewDigits.count).keys()];
  const rows = [pickImages(preview, columns)];
  for (const hidden of sizes) {
    const model = await Autoencoder.load(weightsPath(hidden), { hidden });
    rows.push(pickImages(await reconstructPixels(model, preview), columns));
    model.dispose();
  }
  await writeFileAtomic(
    join(out, "reconstructions_by_hidden.png"),
    encodeDigitGrid(rows, { separateAfter: [0] }),
  );

  // Files: the table (JSON, CSV, report), with the fitted loss beside each measured one.
  const fitted = (hidden: number) => trend ? trend.scale * Math.exp(trend.rate * hidden) : null;
  const headers = [
    "d",
    "final train loss",
    "final validation loss",
    "final test loss",
    "fitted test loss",
    "seconds",
  ];
  const tableRows = (show: (value: number | null) => string | number) =>
    records.map((r) => [
      r.hidden,
      ...[r.finalTrainLoss, r.finalValidationLoss, r.finalTestLoss, fitted(r.hidden)].map(show),
      r.seconds.toFixed(1),
    ]);
  await writeJsonAtomic(join(out, "sweep.json"), {
    params: { dropout, lr, l2, source: params.source },
    epochs: params.epochs,
    batchSize: params.batchSize,
    seed: flags.seed,
    backend: backend.backend,
    adapter: backend.adapter,
    trainImages: data.train.count,
    testImages: data.test.count,
    fit: trend,
    sizes: records,
  });
  await writeFileAtomic(
    join(out, "sweep.csv"),
    csvTable(headers, tableRows((value) => value ?? "diverged")),
  );
  const shownRows = tableRows((value) => value === null ? "diverged" : value.toFixed(5));
  console.log(markdownTable(headers, shownRows));
  const diverged = records.filter((r) => r.diverged).map((r) => `d = ${r.hidden}`);
  const trained = `One model per latent size d = ${sizes.join(", ")}, each trained ` +
    `${params.epochs} epochs on ${data.train.count} images with ${describeParams(params)} ` +
    `(${params.source}); losses on ` +
    `${data.test.count} test images.`;
  const fitText = trend
    ? ` The final test loss changes by a factor of ${trend.factorPerUnit.toFixed(3)} per unit of ` +
      `d: ln(loss) = ${Math.log(trend.scale).toFixed(3)} ${trend.rate < 0 ? "−" : "+"} ` +
      `${Math.abs(trend.rate).toFixed(4)}·d (least squares, R² = ${trend.r2.toFixed(3)}).`
    : "";
  await publishSection(out, {
    title: "Hidden-layer size",
    items: [
      {
        kind: "text",
        text: trained + (diverged.length > 0 ? ` Diverged: ${diverged.join(", ")}.` : "") +
          fitText,
      },
      ...(converged.length > 0
        ? [{
          kind: "figure" as const,
          file: `${lossFigure}.png`,
          caption:
            "Final test loss of each size on a log scale, with an exponential fitted to it " +
            "(drawn by Vega-Lite's regression; the table's fit is least squares on ln(loss)): a " +
            "straight line means each unit of d cuts the loss by the same factor.",
        }]
        : []),
      {
        kind: "figure",
        file: "reconstructions_by_hidden.png",
        caption: `The first ${PREVIEW_DIGITS} test digits (top, set apart by a white line) and ` +
          `their reconstructions by d = ${sizes.join(", ")}, one row each, top to bottom.`,
      },
      {
        kind: "table",
        caption: "Final losses per size, and the fitted test loss.",
        headers,
        rows: shownRows,
      },
    ],
  });
  if (converged.length === 0) throw new Error(`every size diverged; wrote ${out}/`);
  console.error(`wrote ${out}/`);
});

/**
 * Trains a model of latent size `hidden` with `params`, evaluating the validation and test sets after
 * each epoch; returns the model (for its weights to be saved) and its result. The one place a size is
 * trained: a population engine that trains all sizes at once replaces this.
 */
async function trainSize(
  hidden: number,
  params: TrainingParams,
  data: ExperimentData,
  options: { seed: number; label: string },
): Promise<{ model: Autoencoder; record: SizeRecord }> {
  const train = TensorBatches.fromDigits(data.train, {
    batchSize: params.batchSize,
    seed: options.seed,
  });
  const validation = TensorBatches.fromDigits(data.validation, { batchSize: 1000, shuffle: false });
  const test = TensorBatches.fromDigits(data.test, { batchSize: 1000, shuffle: false });
  const model = Autoencoder.create({ ...params, hidden, seed: options.seed });
  try {
    const started = performance.now();
    const { history, diverged } = await fit(model, {
      epochs: params.epochs,
      train,
      validation,
      test,
      label: options.label,
    });
    const seconds = (performance.now() - started) / 1000;
    const record = sizeRecord(hidden, { history, diverged }, seconds);
    return { model, record };
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    [train, validation, test].forEach((batches) => batches.dispose());
  }
}

/** The result of a size: its final losses (null where diverged) and its history. */
function sizeRecord(hidden: number, { history, diverged }: FitResult, seconds: number): SizeRecord {
  const final = history[history.length - 1];
  return {
    index: hidden,
    hidden,
    diverged,
    finalTrainLoss: finite(final.trainLoss),
    finalValidationLoss: finite(final.validationLoss),
    finalTestLoss: finite(final.testLoss),
    seconds,
    epochs: history,
  };
}

/** A loss as the table keeps it: null when it is not a finite number (a diverged run). */
function finite(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

/**
 * Parses `--sizes`: comma-separated sizes and ranges (`1-10`, `1,2,4,8`, `1-4,8`) of integers ≥ 1, into
 * sorted distinct sizes; anything else is a usage error.
 */
function parseSizes(text: string): number[] {
  const sizes = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const [first, last] = match ? [Number(match[1]), Number(match[2] ?? match[1])] : [0, 0];
    check(
      first >= 1 && first <= last && last <= MAX_HIDDEN,
      `--sizes must list sizes in 1…${MAX_HIDDEN} and ranges low-high, like 1-10 or 1,2,4,8; ` +
        `got "${text}"`,
    );
    for (let hidden = first; hidden <= last; hidden++) sizes.add(hidden);
  }
  return [...sizes].sort((a, b) => a - b);
}
