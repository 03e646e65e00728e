/**
 * Which search finds parameters that train best in the long run: for each seed and each search variant,
 * the search run in this process as `search` runs it (the same trials, rungs and scores, on the engine
 * chosen), its pick taken; then every pick and, for each seed, the study's own parameters trained to
 * `--final-epochs` at d = `--hidden` with that seed — all of them as one population — and each pick's
 * test loss set against the study's parameters' of its seed.
 *
 *     deno run -A bench/schedulers.ts --seeds 0,1,2 --variants halving,halving-first3,halving-top81,random
 *
 * A variant is `halving` (today's search: `--trials` trials halved at η = 3 up to `--epochs`),
 * `halving-first<N>` (its first rung at least N epochs, `search --min-epochs N`), `halving-top<N>` (its
 * last rung at N epochs instead of `--epochs`; both go together, `halving-first3-top81`), or `random`
 * (`search --scheduler random`: every trial the full `--epochs`, as the study's search; `random-<N>`: N
 * epochs each). Everything runs in this process (the tool is bundled into one file for a GPU machine).
 * Prints a Markdown table and a summary per variant (the median ratio to the study's parameters), and
 * writes them with the raw numbers to `--out`; a line per stage goes to stderr. Each search's pick goes
 * to `searches.json` as it comes: run again with the same settings (unless `--fresh`), the searches
 * there are taken as they are, so that a run cut short goes on where it was.
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain, UsageError } from "../lib/cli.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import {
  checkInteger,
  engineFlags,
  type ExperimentData,
  experimentData,
  setupTraining,
} from "../lib/experiment.ts";
import {
  gatherSearch,
  rankSearch,
  type Scheduler,
  searchRungs,
  trainSearch,
} from "../lib/experiments/search.ts";
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../lib/files/atomic.ts";
import { STUDY } from "../lib/paper.ts";
import { markdownTable } from "../lib/report.ts";
import { median } from "../lib/stats.ts";
import { type BestParams, generateParams, LR_RANGE } from "../lib/search_space.ts";
import { createTrainer } from "../lib/train/engine.ts";
import { fit } from "../lib/train/fit.ts";
import type { Rung } from "../lib/train/halving.ts";
import { datasetOf, type TrainingJob } from "../lib/train/trainer.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "search variants judged by the long run: each one's pick trained to --final-epochs beside the study's parameters, on several seeds";

/** Halving's η in every variant, as `search`'s default. */
const ETA = 3;

/** How the table names the study's parameters. */
const STUDYS = "the study's";

/** A search variant: its scheduler and rungs. */
interface Variant {
  name: string;
  scheduler: Scheduler;
  rungs: Rung[];
}

/** A search's pick, as `searches.json` keeps it. */
type Searched = Omit<Row, "testLoss" | "ratio">;

/** What `searches.json` holds: the searches' settings and each one's pick. */
interface Searches {
  settings: Record<string, number>;
  searched: Searched[];
}

/** One (seed, variant): its search's pick and what the pick made of the long run. */
interface Row {
  seed: number;
  variant: string;
  pick: BestParams;
  /** The pick's validation loss in its search, at the epochs of its last rung. */
  searchLoss: number;
  searchSeconds: number;
  /** Test loss after the final epochs; null where it diverged. */
  testLoss: number | null;
  /** `testLoss` over the study's parameters' of the same seed. */
  ratio: number | null;
}

await runMain(async () => {
  const flags = parseFlags(Deno.args, "schedulers", SUMMARY, {
    seeds: { type: "string", default: "0,1,2", help: "seeds of the searches, comma-separated" },
    variants: {
      type: "string",
      default: "halving,halving-first3,halving-top81,random",
      help: "search variants, comma-separated: halving[-first<N>][-top<N>], random[-<N>]",
    },
    trials: { type: "number", default: STUDY.searchTrials, help: "trials of every search" },
    epochs: { type: "number", default: 27, help: "the search's budget: epochs of the last rung" },
    "final-epochs": { type: "number", default: 150, help: "epochs the picks train to" },
    hidden: { type: "number", default: 4, help: "latent size d of the searches and the picks" },
    "batch-size": { type: "number", default: 256, help: "images per step" },
    limit: {
      type: "number",
      default: 0,
      help: "train on only the first N training images (0: all)",
    },
    "test-limit": {
      type: "number",
      default: 0,
      help: "evaluate on only the first N test images (0: all 10,000)",
    },
    backend: { type: "string", default: "auto", help: "tfjs backend" },
    ...engineFlags(),
    out: { type: "string", default: "results/schedulers", help: "result folder" },
    fresh: {
      type: "boolean",
      default: false,
      help: "search again rather than take the searches of a run of the same settings from --out",
    },
  });
  for (const name of ["trials", "epochs", "final-epochs", "hidden", "batch-size"] as const) {
    checkInteger(name, flags[name], 1);
  }
  const seeds = parseSeeds(flags.seeds);
  const variants = [...new Set(flags.variants.split(",").map((name) => name.trim()))].map((name) =>
    parseVariant(name, flags.trials, flags.epochs)
  );
  const { engine, out } = await setupTraining({ ...flags, seed: seeds[0], "data-dir": "" });
  const mnist = await loadMnist({ quiet: true });
  for (const variant of variants) {
    console.error(
      `${variant.name}: ${describeRungs(variant.rungs)} (${
        cost(variant.rungs)
      } epochs of one model)`,
    );
  }

  // The searches, each on its seed's split, its pick taken as `search` takes it.
  const data = new Map<number, ExperimentData>(
    seeds.map((seed) => [seed, experimentData(mnist, { ...flags, seed })]),
  );
  // Searches a run of the same settings kept are taken as they are (a run cut short goes on).
  const searchesPath = join(out, "searches.json");
  const settings = {
    trials: flags.trials,
    epochs: flags.epochs,
    hidden: flags.hidden,
    batchSize: flags["batch-size"],
    limit: flags.limit,
  };
  const kept = flags.fresh ? undefined : await readJsonIfExists<Searches>(searchesPath);
  const keptSearches = JSON.stringify(kept?.settings) === JSON.stringify(settings)
    ? kept!.searched
    : [];
  const searched: Searched[] = [];
  for (const seed of seeds) {
    const { train, validation } = data.get(seed)!;
    for (const variant of variants) {
      const done = keptSearches.find((one) => one.seed === seed && one.variant === variant.name);
      if (done) {
        searched.push(done);
        console.error(`seed ${seed}, ${variant.name}: kept from ${searchesPath}`);
        continue;
      }
      console.error(`seed ${seed}, ${variant.name}: searching`);
      const started = performance.now();
      const plan = {
        combinations: generateParams(flags.trials, seed, flags.hidden, LR_RANGE),
        withStudy: true,
        splits: [{ train, validation }],
        rungs: variant.rungs,
        seed,
        batchSize: flags["batch-size"],
        engine,
        folder: join(out, `seed-${seed}`, variant.name, "trainings"),
        fresh: true,
      };
      await trainSearch(plan, { kind: "whole" });
      const { best } = rankSearch({
        trials: await gatherSearch(plan, true),
        scheduler: variant.scheduler,
        rungs: variant.rungs,
        eta: ETA,
        folds: 1,
        hidden: flags.hidden,
        lrRange: [...LR_RANGE],
        trainImages: train.count,
        validationImages: validation.count,
        seed,
      });
      if (!best) throw new Error(`seed ${seed}, ${variant.name}: every trial diverged`);
      const { dropout, lr, l2 } = best.params;
      const searchSeconds = (performance.now() - started) / 1000;
      searched.push({
        seed,
        variant: variant.name,
        pick: { dropout, lr, l2 },
        searchLoss: best.validationLoss!,
        searchSeconds,
      });
      // Kept as they come, so that a run cut short still leaves its searches' picks.
      await writeJsonAtomic(
        searchesPath,
        {
          settings,
          searched: [...searched, ...keptSearches.filter((one) => !searched.includes(one))],
        } satisfies Searches,
      );
      console.error(
        `seed ${seed}, ${variant.name}: picked lr ${lr.toExponential(2)}, dropout ` +
          `${dropout.toFixed(4)}, L2 ${l2.toExponential(2)} in ${searchSeconds.toFixed(1)} s`,
      );
    }
  }

  // The long run: every pick and each seed's study's parameters, as one population.
  const contenders = [
    ...searched.map(({ seed, variant, pick }) => ({ seed, name: variant, params: pick })),
    ...seeds.map((seed) => ({ seed, name: STUDYS, params: STUDY.bestParams as BestParams })),
  ];
  // Judged on the test images only: no validation split to evaluate each epoch.
  const jobs: TrainingJob[] = contenders.map(({ seed, name, params }) => {
    const { train, test } = data.get(seed)!;
    return {
      name: `seed ${seed} ${name}`,
      model: { kind: "autoencoder", hidden: flags.hidden, dropout: params.dropout },
      lr: params.lr,
      l2: params.l2,
      seed,
      train: datasetOf(train),
      test: datasetOf(test),
    };
  });
  const trainer = await createTrainer(engine, jobs, { batchSize: flags["batch-size"] });
  console.error(
    `training ${jobs.length} models (${searched.length} picks, the study's parameters on ` +
      `${seeds.length} seed${seeds.length === 1 ? "" : "s"}) for ${
        flags["final-epochs"]
      } epochs on ${trainer.description}`,
  );
  const started = performance.now();
  const results = await fit(trainer, { epochs: flags["final-epochs"], label: "long run" });
  const finalSeconds = (performance.now() - started) / 1000;
  const description = trainer.description;
  await trainer.dispose();
  const testLosses = results.map(({ history, diverged }) =>
    diverged ? null : history.at(-1)?.testLoss ?? null
  );
  const studys = new Map(seeds.map((seed, k) => [seed, testLosses[searched.length + k]]));
  const rows: Row[] = searched.map((row, k) => {
    const own = testLosses[k];
    const study = studys.get(row.seed);
    return { ...row, testLoss: own, ratio: own !== null && study ? own / study : null };
  });

  // The table, the summary per variant, the files.
  const date = new Date().toISOString();
  const markdown = schedulersMarkdown(rows, variants, studys, {
    engine: description,
    date,
    finalEpochs: flags["final-epochs"],
    finalSeconds,
    images: data.get(seeds[0])!.train.count,
  });
  console.log(markdown);
  await writeFileAtomic(join(out, "schedulers.md"), markdown);
  await writeJsonAtomic(join(out, "schedulers.json"), {
    flags,
    date,
    engine: description,
    variants,
    studys: Object.fromEntries(studys),
    finalSeconds,
    rows,
  });
});

/** Parses `--seeds`: integers ≥ 0, comma-separated. */
function parseSeeds(text: string): number[] {
  const seeds = text.split(",").map((part) => part.trim() === "" ? NaN : Number(part));
  check(
    seeds.every((seed) => Number.isInteger(seed) && seed >= 0),
    `--seeds must be integers ≥ 0, comma-separated, got "${text}"`,
  );
  return [...new Set(seeds)];
}

/**
 * The variant `name` of a search of `trials` trials up to `epochs`: `halving[-first<N>][-top<N>]` or
 * `random[-<N>]`; anything else, or rungs that do not fit, is a usage error.
 */
function parseVariant(name: string, trials: number, epochs: number): Variant {
  const halving = /^halving(?:-first(\d+))?(?:-top(\d+))?$/.exec(name);
  const random = /^random(?:-(\d+))?$/.exec(name);
  if (!halving && !random) {
    throw new UsageError(
      `--variants: unknown variant "${name}"; use halving[-first<N>][-top<N>] or random[-<N>]`,
    );
  }
  const [first, top] = halving ? [halving[1], halving[2]] : [undefined, random![1]];
  const last = top === undefined ? epochs : Number(top);
  const min = first === undefined ? undefined : Number(first);
  check(last >= 1 && (min === undefined || min >= 1), `--variants: ${name} needs epochs ≥ 1`);
  try {
    return {
      name,
      scheduler: halving ? "halving" : "random",
      rungs: searchRungs(halving ? "halving" : "random", trials, last, ETA, min),
    };
  } catch (error) {
    throw new UsageError(`--variants: ${name}: ${(error as Error).message}`);
  }
}

/** Rungs as `30@1 → 10@3 → 3@9 → 1@27` (candidates @ epochs). */
function describeRungs(rungs: readonly Rung[]): string {
  return rungs.map((rung) => `${rung.candidates}@${rung.epochs}`).join(" → ");
}

/** What the rungs cost in epochs of one model: each rung trains its candidates on from the last. */
function cost(rungs: readonly Rung[]): number {
  return rungs.reduce(
    (sum, rung, k) => sum + rung.candidates * (rung.epochs - (rungs[k - 1]?.epochs ?? 0)),
    0,
  );
}

/** The rows as a Markdown table, then a summary table per variant and a line of what ran where. */
function schedulersMarkdown(
  rows: readonly Row[],
  variants: readonly Variant[],
  studys: ReadonlyMap<number, number | null>,
  run: { engine: string; date: string; finalEpochs: number; finalSeconds: number; images: number },
): string {
  const loss = (value: number | null | undefined) => value == null ? "diverged" : value.toFixed(5);
  const ratio = (value: number | null) => value === null ? "—" : `${value.toFixed(3)}×`;
  const table = markdownTable(
    [
      "seed",
      "variant",
      "lr",
      "dropout",
      "L2",
      "search loss",
      "search s",
      `test loss after ${run.finalEpochs} epochs`,
      `× ${STUDYS}`,
    ],
    [
      ...rows.map((row) => [
        row.seed,
        row.variant,
        row.pick.lr.toExponential(2),
        row.pick.dropout.toFixed(4),
        row.pick.l2.toExponential(2),
        row.searchLoss.toFixed(5),
        row.searchSeconds.toFixed(1),
        loss(row.testLoss),
        ratio(row.ratio),
      ]),
      ...[...studys].map(([seed, value]) => {
        const { lr, dropout, l2 } = STUDY.bestParams;
        const shown = [lr.toExponential(2), dropout.toFixed(4), l2.toExponential(2)];
        return [seed, STUDYS, ...shown, "—", "—", loss(value), value === null ? "—" : "1.000×"];
      }),
    ],
  );
  const summary = markdownTable(
    [
      "variant",
      "rungs",
      "epochs of one model",
      "median search s",
      `median × ${STUDYS}`,
      "within 3%",
    ],
    variants.map((variant) => {
      const own = rows.filter((row) => row.variant === variant.name);
      const ratios = own.flatMap((row) => row.ratio === null ? [] : [row.ratio]);
      return [
        variant.name,
        describeRungs(variant.rungs),
        cost(variant.rungs),
        median(own.map((row) => row.searchSeconds)).toFixed(1),
        ratios.length ? `${median(ratios).toFixed(3)}×` : "—",
        `${ratios.filter((value) => value <= 1.03).length} of ${own.length}`,
      ];
    }),
  );
  return `${table}\n\n${summary}\n\nThe picks and the study's parameters trained ` +
    `${run.finalEpochs} epochs on ${run.images} images as one population in ` +
    `${run.finalSeconds.toFixed(1)} s on ${run.engine}, ${run.date}.\n`;
}
