/**
 * `deno task study`: the whole study in order — search, train, sweep, corrupt, denoise, morph — each step
 * reusing what the earlier ones produced (the search's best parameters, the trained model), then
 * `results/REPORT.md` regenerated with every figure and table.
 *
 *     deno task study                  # quick profile: every figure, in minutes on a laptop CPU
 *     deno task study --profile full   # the seed's settings: 30 trials, 150/80/100 epochs (for a GPU)
 *
 * A step whose results exist from a run with the same flags (and whose earlier steps were all kept) is
 * skipped, so an interrupted study resumes; the search and sweep also resume inside their own loops.
 *
 * @module
 */
import { join } from "node:path";
import {
  exists,
  parseFlags,
  readJsonIfExists,
  runMain,
  UsageError,
  writeJsonAtomic,
} from "../lib/cli.ts";
import { checkChoice, checkInteger, commonFlags, RESULTS_ROOT } from "../lib/experiment.ts";
import { BACKEND_CHOICES, ENGINE_CHOICES } from "../lib/gpu.ts";
import { SECTION_FILE, writeReport } from "../lib/report.ts";

/** One step of the study: the script it runs and the flags it adds for a profile. */
interface Step {
  name: string;
  flags: string[];
}

/** The steps of each profile, in order. */
const PROFILES: Record<string, Step[]> = {
  // Batches of 64 give 4× the steps of 256 per image: enough for the models to leave the plateau of the
  // mean digit (test loss ≈ 0.065) within the few epochs a laptop CPU runs in minutes.
  quick: [
    { name: "search", flags: ["--trials=10", "--epochs=2", "--limit=8000", "--batch-size=64"] },
    { name: "train", flags: ["--epochs=6", "--limit=30000", "--batch-size=64"] },
    {
      name: "sweep",
      flags: ["--epochs=3", "--limit=15000", "--batch-size=64", "--test-limit=2000"],
    },
    { name: "corrupt", flags: ["--test-limit=5000"] },
    {
      name: "denoise",
      // the same training budget as the standard model, so that the comparison is fair
      flags: ["--epochs=6", "--limit=30000", "--batch-size=64", "--test-limit=5000"],
    },
    { name: "morph", flags: [] },
  ],
  // Seconds, not minutes: every step and figure on a few hundred images, numbers without meaning. For
  // checking the pipeline (the tests run it).
  tiny: [
    { name: "search", flags: ["--trials=2", "--epochs=1", "--limit=300", "--batch-size=64"] },
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
    { name: "search", flags: ["--trials=30", "--epochs=20"] },
    { name: "train", flags: ["--epochs=150"] },
    { name: "sweep", flags: ["--epochs=80"] },
    { name: "corrupt", flags: [] },
    { name: "denoise", flags: ["--epochs=100"] },
    { name: "morph", flags: [] },
  ],
};

/** The record of the flags each step ran with and whether it finished, in the results root. */
const STUDY_FILE = "study.json";

/** A step's entry in {@link STUDY_FILE}. */
type StepRecord = { args: string[]; finished: boolean };

/** Steps that use the trained model of the `train` step. */
const NEEDS_MODEL = ["corrupt", "denoise", "morph"];

/** Steps that keep their own progress and take `--fresh` to start over. */
const RESUMABLE = ["search", "sweep", "denoise"];

await runMain(async () => {
  const flags = parseFlags(Deno.args, {
    profile: {
      type: "string",
      default: "quick",
      help: `settings: ${Object.keys(PROFILES).join(", ")}`,
    },
    seed: { type: "number", default: 0, help: "seed of every step" },
    backend: commonFlags("study").backend,
    engine: commonFlags("study").engine,
    out: {
      type: "string",
      default: RESULTS_ROOT,
      help: "results root (one folder per step inside)",
    },
    fresh: { type: "boolean", default: false, help: "rerun every step, even those already done" },
  }, "study");
  const steps = PROFILES[flags.profile];
  checkChoice("profile", flags.profile, Object.keys(PROFILES));
  checkInteger("seed", flags.seed, 0);
  checkChoice("backend", flags.backend, BACKEND_CHOICES);
  checkChoice("engine", flags.engine, ENGINE_CHOICES);

  const root = flags.out;
  const record: Record<string, StepRecord> = flags.fresh
    ? {}
    : (await readJsonIfExists(join(root, STUDY_FILE))) ?? {};
  const model = join(root, "train", "model.safetensors");
  const started = performance.now();
  // Once a step runs, every later one runs too: its inputs (best parameters, trained model) changed.
  let upstreamRan = false;
  for (const [index, step] of steps.entries()) {
    const args = [
      ...step.flags,
      `--seed=${flags.seed}`,
      `--backend=${flags.backend}`,
      `--engine=${flags.engine}`,
      `--out=${join(root, step.name)}`,
      ...(NEEDS_MODEL.includes(step.name) ? [`--model=${model}`] : []),
    ];
    const label = `study ${index + 1}/${steps.length}: ${step.name}`;
    const previous = record[step.name];
    const sameRun = !upstreamRan && JSON.stringify(previous?.args) === JSON.stringify(args);
    if (sameRun && previous.finished && await exists(join(root, step.name, SECTION_FILE))) {
      console.error(`${label} — done earlier with the same flags, kept`);
      continue;
    }
    upstreamRan = true;
    // A step interrupted with the same flags resumes inside its own loop; any other starts afresh.
    const fresh = RESUMABLE.includes(step.name) && !sameRun ? ["--fresh"] : [];
    console.error(`${label} ${[...args, ...fresh].join(" ")}`);
    record[step.name] = { args, finished: false };
    await writeJsonAtomic(join(root, STUDY_FILE), record);
    const script = new URL(`./${step.name}.ts`, import.meta.url).href;
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args, ...fresh],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      throw new (code === 2 ? UsageError : Error)(`study: ${step.name} failed (exit code ${code})`);
    }
    record[step.name] = { args, finished: true };
    await writeJsonAtomic(join(root, STUDY_FILE), record);
  }
  const report = await writeReport(root);
  const minutes = (performance.now() - started) / 60000;
  console.error(
    `study (${flags.profile}) finished in ${minutes.toFixed(1)} min; report: ${report}`,
  );
});
