/**
 * `deno task study`: the whole study in order — search, train, sweep, classify, corrupt, denoise, morph —
 * each step reusing what the earlier ones produced (the search's best parameters, the trained model, the
 * digit classifier), then `results/REPORT.md` regenerated with every figure and table.
 *
 *     deno task study                  # quick profile: every figure, in minutes on a laptop CPU
 *     deno task study --profile full   # the study's settings: 30 trials, 150/80/100 epochs
 *
 * A step whose results exist from a run with the same flags (and whose earlier steps were all kept) is
 * skipped, so an interrupted study resumes; the search and sweep also resume inside their own loops.
 *
 * With `--shard i/n` (or a scheduler's array index), n studies share the results root: each trains its
 * share of the steps that shard (search, sweep, denoise). Shard 1 leads: it runs every step as the study
 * does — the steps that shard as its share, then their merge once every shard's results are there — and
 * keeps `study.json`; shard i > 1 runs its share of each step that shards once shard 1 has finished the
 * steps before it (the search's best parameters, the trained model).
 *
 *     deno task study --profile full --shard 1/4   # and 2/4, 3/4, 4/4 elsewhere
 *
 * @module
 */
import { dirname, join } from "node:path";
import { check, parseFlags, runMain, spawnChild, stopSignal, UsageError } from "../lib/cli.ts";
import {
  checkChoice,
  checkInteger,
  checkSeed,
  commonFlags,
  engineFlags,
  RESULTS_ROOT,
} from "../lib/experiment.ts";
import { exists, readJsonIfExists, writeJsonAtomic } from "../lib/files/atomic.ts";
import { holdFolder } from "../lib/files/lock.ts";
import { SECTION_FILE, writeReport } from "../lib/report.ts";
import { shardFlags, stepRun } from "../lib/shards.ts";
import { checkSameSettings, unreadableProgress } from "../lib/train/checkpoint.ts";
import { BACKEND_CHOICES } from "../lib/tfjs.ts";
import { ENGINE_CHOICES } from "../lib/train/engine.ts";

/** One step of the study: the script it runs and the flags it adds for a profile. */
interface Step {
  name: string;
  flags: string[];
}

/**
 * The parameters the quick profile trains with: a rate at which a few epochs converge, no dropout. The
 * quick search's own pick (at 9 epochs on 8,000 images: a high rate and heavy dropout, lr 8.85e-3 and
 * dropout 0.31 for seed 0) is what so short a budget favours; handed on, it leaves the sweep's sizes in
 * worse optima (Spearman's ρ of loss with d −0.84 after 10 epochs) and the d = 4 model at 0.0388, where
 * these reach ρ ≤ −0.95 from the 5th epoch for every seed tried and 0.0306. The full profile hands the
 * search's pick on, as the study did.
 */
const QUICK_PARAMS = ["--lr=2e-3", "--dropout=0", "--l2=0"];

/** The steps of each profile, in order. */
const PROFILES: Record<string, Step[]> = {
  // Minutes on 2 CPU cores (the worker pool), chosen so that every qualitative finding of the study comes
  // out of the run; docs/study-quick.md ("Why these budgets") has the measurements behind each choice.
  // Batches of 64 give 4× the steps of 256 per image: enough to leave the plateau of the mean digit
  // (test loss ≈ 0.065) within a few epochs.
  quick: [
    // Successive halving: 9 trials for 1 epoch, the best 3 to 3, the best to 9 epochs on 8,000 images.
    { name: "search", flags: ["--trials=9", "--epochs=9", "--limit=8000", "--batch-size=64"] },
    { name: "train", flags: ["--epochs=8", "--limit=30000", "--batch-size=64", ...QUICK_PARAMS] },
    {
      name: "sweep",
      flags: [
        "--epochs=6",
        "--limit=15000",
        "--batch-size=64",
        "--test-limit=2000",
        ...QUICK_PARAMS,
      ],
    },
    // 2 of its default 4 epochs on 20,000 of the 50,000 images: 98.4% of the test digits read right,
    // against 99.2%, in a fifth of the time (docs/classifier.md)
    { name: "classify", flags: ["--epochs=2", "--limit=20000"] },
    { name: "corrupt", flags: ["--test-limit=5000"] },
    {
      name: "denoise",
      // the same training as the standard model's, so that the comparison is fair
      flags: [
        "--epochs=8",
        "--limit=30000",
        "--batch-size=64",
        "--test-limit=5000",
        ...QUICK_PARAMS,
      ],
    },
    { name: "morph", flags: [] },
  ],
  // Seconds, not minutes: every step and figure on a few hundred images, numbers without meaning. For
  // checking the pipeline (the tests run it).
  tiny: [
    { name: "search", flags: ["--trials=2", "--epochs=2", "--limit=300", "--batch-size=64"] },
    { name: "train", flags: ["--epochs=1", "--limit=300", "--test-limit=300", "--batch-size=64"] },
    {
      name: "sweep",
      flags: ["--sizes=1,2", "--epochs=1", "--limit=300", "--test-limit=100", "--batch-size=64"],
    },
    { name: "classify", flags: ["--epochs=1", "--limit=300", "--test-limit=300"] },
    {
      name: "corrupt",
      flags: ["--test-limit=100", "--noise-levels=0,0.5", "--occlusion-sides=0,10"],
    },
    {
      name: "denoise",
      flags: [
        "--epochs=1",
        "--limit=300",
        "--batch-size=64",
        "--test-limit=100",
        "--noise-levels=0,0.5",
        "--occlusion-sides=0,10",
      ],
    },
    { name: "morph", flags: ["--test-limit=300", "--steps=4"] },
  ],
  full: [
    // Halving's first rung at 3 epochs (30@3 → 10@9 → 3@27), not 1: a 1-epoch rung keeps the rates that
    // fall fastest first (lr up to 4e-2), whose picks trained 150 epochs ended 0.98× and 1.26× the
    // study's parameters' test loss on seeds 0 and 1; from 3 epochs the picks ended 0.94× and 0.96×
    // (docs/search-schedulers.md, 2026-12-05), for 204 epochs of one model against 86.
    { name: "search", flags: ["--trials=30", "--epochs=27", "--min-epochs=3"] },
    { name: "train", flags: ["--epochs=150"] },
    { name: "sweep", flags: ["--epochs=80"] },
    { name: "classify", flags: [] },
    { name: "corrupt", flags: [] },
    { name: "denoise", flags: ["--epochs=100"] },
    { name: "morph", flags: [] },
  ],
};

/** The record of the study's settings and of each step's flags and outcome, in the results root. */
const STUDY_FILE = "study.json";

/** How a step of the study ended (interrupted: by a signal to the study), or that it is running. */
type StepStatus = "running" | "finished" | "interrupted" | "failed";

/** What {@link STUDY_FILE} holds. */
interface StudyRecord {
  settings: { profile: string; seed: number };
  steps: Record<string, { args: string[]; status: StepStatus }>;
}

/** Steps that use the trained model of the `train` step and the digit classifier of `classify`. */
const NEEDS_MODEL = ["corrupt", "denoise", "morph"];

/** Steps that train, and take `--fresh`. */
const TRAINS = ["search", "train", "sweep", "classify", "denoise"];

/** Steps that compute on the engine (train, or read digits on it), and take the engine flags. */
const ON_ENGINE = [...TRAINS, "corrupt"];

/**
 * Steps whose trainings are independent once the search has its parameters: an unsharded study trains
 * them as one population (`scripts/together.ts`) before the first of them runs, which then, like the
 * others, finds its trainings done and writes its outputs.
 */
const TOGETHER = ["train", "sweep", "denoise"];

/** Steps that shard: sets of independent trainings. */
const SHARDS = ["search", "sweep", "denoise"];

/** How often a shard of the study looks whether shard 1 has finished the steps it waits for. */
const POLL_MS = 2000;

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "the whole study in order (search, train, sweep, classify, corrupt, denoise, morph), then results/REPORT.md";

await runMain(async () => {
  const flags = parseFlags(Deno.args, "study", SUMMARY, {
    profile: {
      type: "string",
      default: "quick",
      help: `settings: ${Object.keys(PROFILES).join(", ")}`,
    },
    seed: { type: "number", default: 0, help: "seed of every step" },
    backend: commonFlags("study").backend,
    ...engineFlags(),
    out: {
      type: "string",
      default: RESULTS_ROOT,
      help: "results root (one folder per step inside)",
    },
    fresh: { type: "boolean", default: false, help: "rerun every step from the start" },
    shard: shardFlags().shard,
  });
  checkChoice("profile", flags.profile, Object.keys(PROFILES));
  checkSeed(flags.seed);
  checkChoice("backend", flags.backend, BACKEND_CHOICES);
  checkChoice("engine", flags.engine, ENGINE_CHOICES);
  if (flags.workers !== undefined) checkInteger("workers", flags.workers, 1);
  const run = stepRun({ shard: flags.shard, merge: false, wait: false });
  const shard = run.kind === "shard" ? run.shard : undefined;
  check(
    !(shard && flags.fresh),
    "a sharded study cannot start over (--fresh): remove its results root, or use another --out",
  );
  const steps = PROFILES[flags.profile];
  const root = flags.out;
  const settings = { profile: flags.profile, seed: flags.seed };
  const studyPath = join(root, STUDY_FILE);
  /** Each step's flags, as every shard of the study gives them. */
  const stepArgs = (step: Step) => [
    ...step.flags,
    `--seed=${flags.seed}`,
    `--backend=${flags.backend}`,
    ...(ON_ENGINE.includes(step.name) ? engineArgs(flags) : []),
    `--out=${join(root, step.name)}`,
    ...(NEEDS_MODEL.includes(step.name)
      ? [
        `--model=${join(root, "train", "model.safetensors")}`,
        `--classifier=${join(root, "classify", "classifier.safetensors")}`,
      ]
      : []),
  ];

  const leads = !shard || shard.index === 1;
  const record: StudyRecord = { settings, steps: {} };
  /**
   * Runs `step`'s script with `args`; its exit code. A signal that stops the study is passed on to it,
   * and the study waits for it to end (then shard 1, which keeps the record, records it as interrupted).
   */
  const runStep = async (name: string, args: string[]) => {
    const script = new URL(`./${name}.ts`, import.meta.url).href;
    const child = spawnChild(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, ...args],
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }),
    );
    return (await child.status).code;
  };

  // Shards after the first: their share of each step that shards, once shard 1 has done those before.
  if (!leads) {
    for (const [index, step] of steps.entries()) {
      if (!SHARDS.includes(step.name)) continue;
      await waitForLeader(studyPath, settings, steps.slice(0, index).map((s) => [s, stepArgs(s)]));
      const args = [...stepArgs(step), `--shard=${shard.index}/${shard.count}`];
      console.error(`study ${index + 1}/${steps.length}: ${step.name} ${args.join(" ")}`);
      const code = await runStep(step.name, args);
      if (code !== 0) failed(step, code);
    }
    console.error(`study shard ${shard.index}/${shard.count} done; shard 1 merges and reports`);
    return;
  }

  // The results root: held by this study; an earlier study there must have had the same settings.
  await holdFolder(root);
  const saved = flags.fresh
    ? undefined
    : await readJsonIfExists<StudyRecord>(studyPath).catch((error) => {
      throw unreadableProgress(studyPath, studyPath, error);
    });
  if (saved) checkSameSettings(saved.settings, settings, `the study in ${root}`);
  Object.assign(record.steps, saved?.steps);

  const started = performance.now();
  // Once a step runs, every later one runs too: its inputs (best parameters, trained model) changed.
  let upstreamRan = false;
  // The steps whose trainings trained together, before the first of them ran (not in a sharded study:
  // its shards train their shares instead).
  const together = new Set<string>();
  for (const [index, step] of steps.entries()) {
    const args = stepArgs(step);
    const label = `study ${index + 1}/${steps.length}: ${step.name}`;
    const previous = record.steps[step.name];
    const sameRun = !upstreamRan && JSON.stringify(previous?.args) === JSON.stringify(args);
    if (
      sameRun && previous.status === "finished" &&
      await exists(join(root, step.name, SECTION_FILE))
    ) {
      console.error(`${label} — done earlier with the same flags, kept`);
      continue;
    }
    upstreamRan = true;
    // A step resumes what it kept, by its own rule, unless the whole study starts over; sharded, it
    // trains shard 1's share, then merges once the other shards' results are there. The first of the
    // steps that train together trains them all first.
    const joint = shard || !TOGETHER.includes(step.name) || together.has(step.name)
      ? []
      : steps.slice(index).filter((later) => TOGETHER.includes(later.name));
    joint.forEach((later) => together.add(later.name));
    const fresh = flags.fresh && TRAINS.includes(step.name) && !together.has(step.name);
    const runs: [string, string[]][] = shard && SHARDS.includes(step.name)
      ? [[...args, `--shard=1/${shard.count}`], [...args, "--merge", "--wait"]].map((a) => [
        step.name,
        a,
      ])
      : [[step.name, [...args, ...(fresh ? ["--fresh"] : [])]]];
    if (joint.length > 0) {
      const jointArgs = joint.map((later) => `--${later.name}=${JSON.stringify(stepArgs(later))}`);
      runs.unshift(["together", [...jointArgs, ...(flags.fresh ? ["--fresh"] : [])]]);
    }
    record.steps[step.name] = { args, status: "running" };
    for (const later of steps.slice(index + 1)) delete record.steps[later.name];
    await writeJsonAtomic(studyPath, record);
    let code = 0;
    for (const [script, scriptArgs] of runs) {
      console.error(
        `${label} ${script === step.name ? "" : `(${script}) `}${scriptArgs.join(" ")}`,
      );
      code = await runStep(script, scriptArgs);
      if (code !== 0) break;
    }
    record.steps[step.name].status = stopSignal()
      ? "interrupted"
      : code === 0
      ? "finished"
      : "failed";
    await writeJsonAtomic(studyPath, record);
    if (code !== 0) failed(step, code);
  }
  const report = await writeReport(root);
  const minutes = (performance.now() - started) / 60000;
  console.error(
    `study (${flags.profile}) finished in ${minutes.toFixed(1)} min; report: ${report}`,
  );
});

/** Stops the study for a step that failed with exit code `code` (2, a usage error: the same). */
function failed(step: Step, code: number): never {
  throw new (code === 2 ? UsageError : Error)(`study: ${step.name} failed (exit code ${code})`);
}

/**
 * Waits until the study record at `path` (shard 1's) has the same `settings` and says that each of
 * `steps` finished with the flags given; says once what it waits for.
 */
async function waitForLeader(
  path: string,
  settings: StudyRecord["settings"],
  steps: [Step, string[]][],
): Promise<void> {
  let said = false;
  while (true) {
    const saved = await readJsonIfExists<StudyRecord>(path);
    if (saved) checkSameSettings(saved.settings, settings, `the study in ${dirname(path)}`);
    const pending = steps.filter(([step, args]) => {
      const done = saved?.steps[step.name];
      return done?.status !== "finished" || JSON.stringify(done.args) !== JSON.stringify(args);
    });
    if (pending.length === 0) return;
    if (!said) {
      console.error(
        `study: waiting for shard 1 to finish ${pending.map(([step]) => step.name).join(", ")}`,
      );
    }
    said = true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The engine flags passed on to the steps that compute on the engine. */
function engineArgs(flags: { engine: string; workers?: number }): string[] {
  return [
    `--engine=${flags.engine}`,
    ...(flags.workers === undefined ? [] : [`--workers=${flags.workers}`]),
  ];
}
