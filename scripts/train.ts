/**
 * `deno task train`: trains one autoencoder on MNIST and writes its weights, its loss history, a loss
 * curve and a grid of test digits beside their reconstructions.
 *
 *     deno task train --hidden 4 --epochs 150
 *     deno run -A https://…/scripts/train.ts --epochs 1
 *
 * @module
 */
import { join } from "node:path";
import { parseFlags, runMain, writeFileAtomic, writeJsonAtomic } from "../lib/cli.ts";
import { takeDigits, TensorBatches } from "../lib/data/batches.ts";
import {
  checkInteger,
  commonFlags,
  setupExperiment,
  trainingFlags,
  trainingParams,
} from "../lib/experiment.ts";
import { fit } from "../lib/fit.ts";
import { lineChart, writeChart } from "../lib/figures/charts.ts";
import { encodeDigitGrid } from "../lib/figures/png.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { publishSection, type ReportItem } from "../lib/report.ts";
import { describeParams } from "../lib/search.ts";
import { pickImages, reconstructPixels } from "../lib/predict.ts";

/** Test digits shown beside their reconstructions. */
const PREVIEW_DIGITS = 10;

await runMain(async () => {
  // Flags: the seed's best parameters (or the last search's) unless given.
  const flags = parseFlags(Deno.args, {
    hidden: { type: "number", default: 4, help: "latent size d" },
    ...trainingFlags(150),
    fresh: { type: "boolean", default: false, help: "start over instead of resuming a checkpoint" },
    ...commonFlags("train"),
  }, "train");
  checkInteger("hidden", flags.hidden, 1);
  const { epochs, batchSize, lr, l2, dropout, source } = await trainingParams(flags);
  console.error(`parameters: ${source}`);

  // Data: training and validation split of the 60k, the test set for final numbers, all in backend memory.
  const { data, backend, engine, out } = await setupExperiment(flags);
  const train = TensorBatches.fromDigits(data.train, { batchSize, seed: flags.seed });
  const validation = TensorBatches.fromDigits(data.validation, { batchSize: 1000, shuffle: false });
  const test = TensorBatches.fromDigits(data.test, { batchSize: 1000, shuffle: false });

  // Model and loop.
  const config = { hidden: flags.hidden, dropout, lr, l2, seed: flags.seed };
  const model = Autoencoder.create(config);
  await model.useEngine(engine);
  console.error(
    `training d=${flags.hidden} (${model.parameterCount.toLocaleString("en-US")} parameters) on ` +
      `${data.train.count} images for ${epochs} epochs, ${describeParams({ dropout, lr, l2 })}`,
  );
  // A run interrupted with the same settings, on the same engine, resumes from its last epoch's checkpoint.
  const checkpoint = join(out, "checkpoint.safetensors");
  const settings = {
    config,
    batchSize,
    trainImages: data.train.count,
    engine,
    backend: backend.backend,
  };
  const started = performance.now();
  const { history, diverged } = await fit(model, {
    epochs,
    train,
    validation,
    test,
    checkpoint: { path: checkpoint, settings, fresh: flags.fresh },
  });
  const seconds = (performance.now() - started) / 1000;
  const final = history[history.length - 1];

  // Files: weights, history, loss curve, reconstructions, report section.
  const weightsPath = join(out, "model.safetensors");
  await model.save(weightsPath);
  await writeJsonAtomic(join(out, "history.json"), {
    config,
    engine,
    backend: backend.backend,
    adapter: backend.adapter,
    trainImages: data.train.count,
    batchSize,
    diverged,
    seconds,
    samplesPerSecond: (data.train.count * history.length) /
      history.reduce((sum, record) => sum + record.seconds, 0),
    finalTestLoss: final.testLoss,
    epochs: history,
  });
  // A run that diverged from its first epoch has no finite loss to draw.
  const drawable = history.some((record) => Number.isFinite(record.trainLoss));
  if (drawable) {
    const epochNumbers = history.map((record) => record.epoch);
    await writeChart(
      join(out, "loss"),
      await lineChart({
        title: `Loss per epoch, d = ${flags.hidden}`,
        x: { title: "epoch" },
        y: { title: "mean squared error per pixel", log: true },
        legend: "split",
        series: [
          { name: "train", x: epochNumbers, y: history.map((r) => r.trainLoss) },
          { name: "validation", x: epochNumbers, y: history.map((r) => r.validationLoss ?? NaN) },
          { name: "test", x: epochNumbers, y: history.map((r) => r.testLoss ?? NaN) },
        ],
      }),
    );
  }
  const preview = takeDigits(data.test, PREVIEW_DIGITS).images;
  const reconstructed = await reconstructPixels(model, preview);
  const indices = [...Array(PREVIEW_DIGITS).keys()];
  const rows = [pickImages(preview, indices), pickImages(reconstructed, indices)];
  await writeFileAtomic(join(out, "reconstructions.png"), encodeDigitGrid(rows));
  const overall = Math.round((data.train.count * history.length) / seconds);
  const summary =
    `${history.length} epochs on ${data.train.count} images (${
      engine === "fused" ? "fused WebGPU engine" : backend.backend
    }, ` +
    `${overall} samples/s overall); final test loss ${final.testLoss?.toFixed(5)}` +
    `${diverged ? ", diverged" : ""} (the seed reports 0.02995 for d = 4 after 150 epochs).`;
  await publishSection(out, {
    title: `Training: d = ${flags.hidden}`,
    items: [
      { kind: "text", text: summary },
      ...(drawable
        ? [{
          kind: "figure",
          file: "loss.png",
          caption: "Train, validation and test loss per epoch.",
        }]
        : []) as ReportItem[],
      {
        kind: "figure",
        file: "reconstructions.png",
        caption: "The first ten test digits (top) and their reconstructions (bottom).",
      },
    ],
  });
  await Deno.remove(checkpoint).catch(() => {});
  model.dispose();
  [train, validation, test].forEach((batches) => batches.dispose());
  console.error(
    `${diverged ? "diverged; " : ""}final test loss ${final.testLoss?.toFixed(5)}; wrote ${out}/`,
  );
});
