/**
 * `deno task study`: the whole study in order — search, train, sweep, corrupt, denoise, morph — each step
 * reusing what the earlier ones produced (the search's best parameters, the trained model), then
 * `results/REPORT.md` regenerated with every figure and table.
 *
 *     deno task study                  # quick profile: every figure, in minutes on a laptop CPU
 *     deno task study --profile full   # the study's settings: 30 trials, 150/80/100 epochs
 *
 * A step whose results exist from a run with the same flags (and whose earlier steps were all kept) is
 * skipped, so an interrupted study resumes; the search and sweep also resume inside their own loops.
 *
 * @module
 */
import { join } from "node:path";
import { parseFlags, runMain, UsageError, whenStopped } from "../lib/cli.ts";
import {
  checkChoice,
  checkInteger,
  commonFlags,
  engineFlags,
  RESULTS_ROOT,
} from "../lib/experiment.ts";
import { exists, holdFolder, readJsonIfExists, writeJsonAtomic } from "../lib/files.ts";
import { SECTION_FILE, writeReport } from "../lib/report.ts";
import { checkSameSettings } from "../lib/train/checkpoint.ts";
import { BACKEND_CHOICES } from "../lib/tfjs.ts";
import { ENGINE_CHOICES } from "../lib/train/engine.ts";

/** One step of the study: the script it runs and the flags it adds for a profile. */
interface Step {
  name: string;
  flags: string[];
}

/** The steps of each profile, in order. */
const PROFILES: Record<string, Step[]> = {
  // Minutes on 2 CPU cores (the worker pool), chosen so that every qualitative finding of the study comes
  // out of the run (README § The study, reproduced, has the measurements behind each budget). Batches of
  // 64 give 4× the steps of 256 per image: enough to leave the plateau of the mean digit (test loss
  // ≈ 0.065) within a few epochs.
  quick: [
    // Successive halving: 9 trials for 1 epoch, the best 3 to 3, the best to 9 epochs on 8,000 images.
    { name: "search", flags: ["--trials=9", "--epochs=9", "--limit=8000", "--batch-size=64"] },
    { name: "train", flags: ["--epochs=8", "--limit=30000", "--batch-size=64"] },
    {
      name: "sweep",
      // The effect of d, measured where it shows: with the search's high rate and heavy dropout a
      // few epochs leave some sizes in worse optima (Spearman's ρ ≈ −0.84 after 10 epochs, measured);
      // at lr 2e-3 without dropout ρ ≤ −0.95 from the 5th epoch on, for every seed tried.
      flags: [
        "--epochs=6",
        "--limit=15000",
        "--batch-size=64",
        "--test-limit=2000",
        "--lr=2e-3",
        "--dropout=0",
        "--l2=0",
      ],
    },
    { name: "corrupt", flags: ["--test-limit=5000"] },
    {
      name: "denoise",
      // the same training budget as the standard model, so that the comparison is fair
      flags: ["--epochs=8", "--limit=30000", "--batch-size=64", "--test-limit=5000"],
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
    { name: "search", flags: ["--trials=30", "--epochs=27"] },
    { name: "train", flags: ["--epochs=150"] },
    { name: "sweep", flags: ["--epochs=80"] },
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

/** Steps that use the trained model of the `train` step. */
const NEEDS_MODEL = ["corrupt", "denoise", "morph"];

/** Steps that train, and take the engine flags. */
const TRAINS = ["search", "train", "sweep", "denoise"];

await runMain(async () => {
  const flags = parseFlags(Deno.args, {
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
  }, "study");
  checkChoice("profile", flags.profile, Object.keys(PROFILES));
  checkInteger("seed", flags.seed, 0);
  checkChoice("backend", flags.backend, BACKEND_CHOICES);
  checkChoice("engine", flags.engine, ENGINE_CHOICES);
  if (flags.workers !== undefined) checkInteger("workers", flags.workers, 1);
  const steps = PROFILES[flags.profile];

  // The results root: held by this study; an earlier study there must have had the same settings.
  const root = flags.out;
  await holdFolder(root);
  const settings = { profile: flags.profile, seed: flags.seed };
  const studyPath = join(root, STUDY_FILE);
  const saved = flags.fresh ? undefined : await readJsonIfExists<StudyRecord>(studyPath);
  if (saved) checkSameSettings(saved.settings, settings, `the study in ${root}`);
  const record: StudyRecord = { settings, steps: saved?.steps ?? {} };

  // A signal stops the running step first: it is passed on, and the study waits until the step has
  // ended and is recorded as interrupted.
  let running: { child: Deno.ChildProcess; recorded: Promise<void> } | undefined;
  let stopping = false;
  whenStopped(async (signal) => {
    stopping = true;
    const step = running;
    if (!step) return;
    try {
      step.child.kill(signal);
    } catch { /* it has already ended */ }
    await step.recorded;
  });

  const model = join(root, "train", "model.safetensors");
  const started = performance.now();
  // Once a step runs, every later one runs too: its inputs (best parameters, trained model) changed.
  let upstreamRan = false;
  for (const [index, step] of steps.entries()) {
    const args = [
      ...step.flags,
      `--seed=${flags.seed}`,
      `--backend=${flags.backend}`,
      ...(TRAINS.includes(step.name) ? engineArgs(flags) : []),
      `--out=${join(root, step.name)}`,
      ...(NEEDS_MODEL.includes(step.name) ? [`--model=${model}`] : []),
    ];
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
    // A step resumes what it kept, by its own rule, unless the whole study starts over.
    const fresh = flags.fresh && TRAINS.includes(step.name) ? ["--fresh"] : [];
    console.error(`${label} ${[...args, ...fresh].join(" ")}`);
    record.steps[step.name] = { args, status: "running" };
    await writeJsonAtomic(studyPath, record);
    const script = new URL(`./${step.name}.ts`, import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args, ...fresh],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const { promise: recorded, resolve: wasRecorded } = Promise.withResolvers<void>();
    running = { child, recorded };
    const { code } = await child.status;
    record.steps[step.name].status = stopping ? "interrupted" : code === 0 ? "finished" : "failed";
    await writeJsonAtomic(studyPath, record);
    running = undefined;
    wasRecorded();
    // Stopped by a signal: its handler ends the study now that the step is recorded.
    if (stopping) await new Promise(() => {});
    if (code !== 0) {
      throw new (code === 2 ? UsageError : Error)(`study: ${step.name} failed (exit code ${code})`);
    }
  }
  const report = await writeReport(root);
  const minutes = (performance.now() - started) / 60000;
  console.error(
    `study (${flags.profile}) finished in ${minutes.toFixed(1)} min; report: ${report}`,
  );
});

/** The engine flags passed on to the steps that train. */
function engineArgs(flags: { engine: string; workers?: number }): string[] {
  return [
    `--engine=${flags.engine}`,
    ...(flags.workers === undefined ? [] : [`--workers=${flags.workers}`]),
  ];
}
