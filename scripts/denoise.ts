/**
 * `deno task denoise`: denoising autoencoders. Trains one model per corruption — Gaussian noise, as the
 * seed did, and occlusion, its proposed future work — on (corrupted, clean) pairs, so that the loss is taken
 * between the output for the corrupted image and the clean one. Compares each denoiser with the trained
 * standard model on the same corrupted test images: a table, the loss curves over noise levels and
 * occlusion sizes, and the seed's Figure 6 (a corrupted digit, the standard model's output, the
 * denoiser's) with its occlusion counterpart. A denoiser already trained with the same settings is
 * loaded, not trained again, unless `--fresh`; one interrupted resumes from its last epoch.
 *
 *     deno task train && deno task denoise
 *     deno task denoise --kinds noise --epochs 20 --noise 0.5
 *
 * @module
 */
import { join } from "node:path";
import {
  check,
  exists,
  parseFlags,
  readJsonIfExists,
  runMain,
  writeFileAtomic,
  writeJsonAtomic,
} from "../lib/cli.ts";
import { corrupt, corruptedPairs, describeCorruption, digitPixels } from "../lib/corrupt.ts";
import { IMAGE_PIXELS } from "../lib/model/architecture.ts";
import { TensorBatches, type TensorBatchesOptions } from "../lib/data/batches.ts";
import type { Digits } from "../lib/data/mnist.ts";
import {
  checkInteger,
  commonFlags,
  loadTrainedModel,
  setupExperiment,
  trainingFlags,
  trainingParams,
} from "../lib/experiment.ts";
import { type EpochRecord, fit } from "../lib/fit.ts";
import { encodeDigitGrid } from "../lib/figures/png.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { pickImages, reconstructPixels } from "../lib/predict.ts";
import { csvTable, publishSection, type ReportItem } from "../lib/report.ts";
import {
  CORRUPTION_KINDS,
  type CorruptionCurve,
  corruptionCurve,
  curveTable,
  type NamedModel,
  parseKinds,
  parseRobustnessFlags,
  robustnessFlags,
  testLosses,
  writeCurve,
} from "../lib/robustness.ts";
import { describeParams } from "../lib/search.ts";

/** The seed's test loss of its noise denoiser (std 0.2) after 100 epochs, quoted beside ours. */
const SEED_DENOISER_LOSS = 0.030541;

/**
 * Offsets from `--seed` of the seeds that corrupt the training and the validation images; the test images
 * are corrupted with `--seed` itself, as `deno task corrupt` corrupts them.
 */
const CORRUPTION_SEED_OFFSETS = { train: 1_000_003, validation: 2_000_003 };

/** What is saved beside a denoiser's weights: the settings it was trained with and how training went. */
interface DenoiserRecord {
  settings: unknown;
  history: EpochRecord[];
  diverged: boolean;
}

await runMain(async () => {
  // Flags: which denoisers, how to train them (best parameters unless given), what to compare.
  const flags = parseFlags(Deno.args, {
    kinds: {
      type: "string",
      default: CORRUPTION_KINDS.join(","),
      help: "corruptions to train a denoiser on, comma-separated",
    },
    ...trainingFlags(100),
    ...robustnessFlags(),
    digits: { type: "number", default: 10, help: "test digits in each denoising figure" },
    fresh: {
      type: "boolean",
      default: false,
      help: "train again even where weights of the same settings exist",
    },
    ...commonFlags("denoise"),
  }, "denoise");
  const settings = parseRobustnessFlags(flags);
  const kinds = parseKinds("kinds", flags.kinds);
  const params = await trainingParams(flags);
  checkInteger("digits", flags.digits, 1);
  if (params.source !== "flags") console.error(`parameters: ${params.source}`);

  // Data and the standard model: the denoisers share its latent size.
  const { data, backend, engine, out } = await setupExperiment(flags);
  check(
    flags.digits <= data.test.count,
    `--digits ${flags.digits} exceeds the ${data.test.count} test images`,
  );
  const standard = await loadTrainedModel(settings.model);
  const hidden = standard.config.hidden;
  const clean = digitPixels(data.test);

  // Loop: each denoiser trained on its (corrupted, clean) pairs, or loaded when trained before alike.
  const denoisers = [];
  for (const kind of kinds) {
    const corruption = settings.corruptions[kind];
    const weights = `denoiser-${kind}.safetensors`;
    const record = join(out, `denoiser-${kind}.json`);
    const config = {
      hidden,
      dropout: params.dropout,
      lr: params.lr,
      l2: params.l2,
      seed: flags.seed,
    };
    const trainingSettings = {
      corruption,
      ...config,
      epochs: params.epochs,
      batchSize: params.batchSize,
      trainImages: data.train.count,
      validationImages: data.validation.count,
    };
    const previous = flags.fresh ? undefined : await readJsonIfExists<DenoiserRecord>(record);
    let model: Autoencoder;
    let history: EpochRecord[];
    let diverged: boolean;
    let trained: boolean;
    if (
      previous && JSON.stringify(previous.settings) === JSON.stringify(trainingSettings) &&
      await exists(join(out, weights))
    ) {
      console.error(`${kind} denoiser: ${weights} has these settings; not trained again`);
      model = await Autoencoder.load(join(out, weights), config);
      ({ history, diverged } = previous);
      trained = false;
    } else {
      // Each set's (corrupted, clean) pairs live in backend memory only, once uploaded.
      const pairBatches = (digits: Digits, seed: number, options: TensorBatchesOptions) => {
        const pairs = corruptedPairs(digits, corruption, seed);
        return new TensorBatches(pairs.corrupted, { ...options, targets: pairs.clean });
      };
      const train = pairBatches(data.train, flags.seed + CORRUPTION_SEED_OFFSETS.train, {
        batchSize: params.batchSize,
        seed: flags.seed,
      });
      const evaluation = { batchSize: 1000, shuffle: false };
      const validation = pairBatches(
        data.validation,
        flags.seed + CORRUPTION_SEED_OFFSETS.validation,
        evaluation,
      );
      const test = pairBatches(data.test, flags.seed, evaluation);
      model = Autoencoder.create(config);
      await model.useEngine(engine);
      console.error(
        `training the ${kind} denoiser (${describeCorruption(corruption)}) on ` +
          `${data.train.count} images for ${params.epochs} epochs, ${describeParams(params)}`,
      );
      const started = performance.now();
      // A denoiser interrupted with the same settings resumes from its last epoch's checkpoint.
      const checkpoint = join(out, `denoiser-${kind}.checkpoint.safetensors`);
      const result = await fit(model, {
        epochs: params.epochs,
        train,
        validation,
        test,
        label: `${kind} denoiser`,
        checkpoint: {
          path: checkpoint,
          settings: { ...trainingSettings, engine, backend: backend.backend },
          fresh: flags.fresh,
        },
      });
      [train, validation, test].forEach((batches) => batches.dispose());
      ({ history, diverged } = result);
      trained = true;
      await model.save(join(out, weights));
      await writeJsonAtomic(record, {
        settings: trainingSettings,
        engine,
        backend: backend.backend,
        adapter: backend.adapter,
        diverged,
        seconds: (performance.now() - started) / 1000,
        history,
      });
      await Deno.remove(checkpoint);
    }
    denoisers.push({ kind, corruption, model, weights, trained, diverged, epochs: history.length });
  }

  // Comparison: every model on the same clean, noisy and occluded test images, then on the curves.
  const models: NamedModel[] = [
    { name: "standard", model: standard },
    ...denoisers.map(({ kind, model }) => ({ name: `${kind} denoiser`, model })),
  ];
  const columns = [null, ...CORRUPTION_KINDS.map((kind) => settings.corruptions[kind])];
  const losses: number[][] = [];
  for (const corruption of columns) {
    losses.push(await testLosses(models, clean, corruption, flags.seed));
  }
  const lossOf = (model: number, column: number) => losses[column][model];
  const comparison = {
    headers: ["model", ...columns.map((c) => c ? describeCorruption(c) : "clean")],
    rows: models.map(({ name }, m) => [name, ...columns.map((_, c) => lossOf(m, c))]),
  };
  const curves: CorruptionCurve[] = [];
  const charts: string[] = [];
  for (const kind of CORRUPTION_KINDS) {
    const curve = await corruptionCurve(models, clean, kind, settings.levels[kind], flags.seed);
    curves.push(curve);
    charts.push(await writeCurve(out, curve));
  }

  // Figures: the first test digits, corrupted as in the comparison, through both models (Figure 6).
  const indices = [...Array(flags.digits).keys()];
  const preview = clean.subarray(0, flags.digits * IMAGE_PIXELS);
  const figures: Record<string, string> = {};
  for (const { kind, corruption, model } of denoisers) {
    const corrupted = corrupt(preview, corruption, flags.seed);
    const outputs = [
      await reconstructPixels(standard, corrupted),
      await reconstructPixels(model, corrupted),
    ];
    const rows = [preview, corrupted, ...outputs].map((pixels) => pickImages(pixels, indices));
    figures[kind] = `denoised-${kind}.png`;
    await writeFileAtomic(
      join(out, figures[kind]),
      encodeDigitGrid(rows, { separateAfter: [1] }),
    );
  }

  // Files: comparison table (JSON, CSV), the report section.
  await writeFileAtomic(join(out, "comparison.csv"), csvTable(comparison.headers, comparison.rows));
  await writeJsonAtomic(join(out, "denoise.json"), {
    standardModel: settings.model,
    hidden,
    engine,
    backend: backend.backend,
    adapter: backend.adapter,
    seed: flags.seed,
    params,
    trainImages: data.train.count,
    testImages: data.test.count,
    denoisers: denoisers.map(({ model: _, ...denoiser }) => denoiser),
    comparison,
    curves,
  });
  const summaries = denoisers.map(({ kind, corruption, epochs, diverged }, i) => {
    const column = 1 + CORRUPTION_KINDS.indexOf(kind);
    const [ours, standards] = [lossOf(1 + i, column), lossOf(0, column)].map((l) => l.toFixed(6));
    const seeds = kind === "noise"
      ? `the seed reports ${SEED_DENOISER_LOSS} after 100 epochs`
      : "the seed proposed it as future work";
    return `The ${kind} denoiser (${epochs} epochs${diverged ? ", diverged" : ""}) reaches ` +
      `${ours} on test images under ${describeCorruption(corruption)}, against the clean ones ` +
      `(${seeds}); the standard model reaches ${standards}.`;
  });
  const items: ReportItem[] = [
    {
      kind: "text",
      text: `Denoisers of d = ${hidden} trained on ${data.train.count} images ` +
        `(${describeParams(params)}; ${params.source}; ${backend.backend}), ` +
        `evaluated on ${data.test.count} test images. ${summaries.join(" ")}`,
    },
    {
      kind: "table",
      caption: "Test loss against the clean image, per model and input (MSE per pixel).",
      headers: comparison.headers,
      rows: comparison.rows.map(([name, ...values]) => [
        name,
        ...values.map((v) => (v as number).toFixed(6)),
      ]),
    },
    ...curves.map((curve, i): ReportItem => ({
      kind: "figure",
      file: charts[i],
      caption: `Test loss of the standard model and the denoisers as the ${
        curve.kind === "noise" ? "noise" : "occluding square"
      } grows.`,
    })),
    ...curves.map((curve): ReportItem => ({
      kind: "table",
      caption: `The ${curve.kind} curves' values.`,
      ...curveTable(curve, 5),
    })),
    ...denoisers.map(({ kind, corruption }): ReportItem => ({
      kind: "figure",
      file: figures[kind],
      caption: `The first ${flags.digits} test digits under ${
        describeCorruption(corruption)
      }: original, corrupted, the standard model's output, the ${kind} denoiser's output (rows).`,
    })),
  ];
  await publishSection(out, { title: "Denoising autoencoders", items });
  [standard, ...denoisers.map(({ model }) => model)].forEach((model) => model.dispose());
  console.error(summaries.join("\n"));
  console.error(`wrote ${out}/`);
});

/** The settings and history a denoiser was trained with, or undefined when none were saved. */
