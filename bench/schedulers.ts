/**
 * Successive halving against the study's random search at the same budget in training samples: for each
 * seed, `search --scheduler halving` with `--trials` trials up to `--epochs`, and `search --scheduler
 * random` with as many trials at as many epochs as spend the same samples; then each search's chosen
 * parameters trained to the full `--epochs` (`train` with the same seed, images and validation split, so
 * that a trial and its retraining are the same training), and their validation losses side by side.
 *
 *     deno run -A bench/schedulers.ts --seeds 0,1,2,3,4 --trials 9 --epochs 9 --limit 8000
 *
 * Prints a Markdown table and writes it with the raw numbers to `--out`.
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain } from "../lib/cli.ts";
import { checkInteger } from "../lib/experiment.ts";
import { writeFileAtomic, writeJsonAtomic } from "../lib/files/atomic.ts";
import { markdownTable } from "../lib/report.ts";
import { halvingRungs } from "../lib/train/halving.ts";
import type { Scheduler } from "../lib/experiments/search.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "successive halving against random search at the same budget in training samples, on several seeds";

await runMain(async () => {
  const flags = parseFlags(Deno.args, "schedulers", SUMMARY, {
    seeds: { type: "string", default: "0,1,2,3,4", help: "seeds of the searches, comma-separated" },
    trials: { type: "number", default: 9, help: "trials of the halving search" },
    epochs: { type: "number", default: 9, help: "the full budget: epochs of the last rung" },
    eta: { type: "number", default: 3, help: "halving's η" },
    "random-epochs": {
      type: "number",
      default: 3,
      help: "epochs of each random trial (as many trials as the halving search's samples allow)",
    },
    limit: { type: "number", default: 8000, help: "training images" },
    "batch-size": { type: "number", default: 64, help: "images per step" },
    out: { type: "string", default: "results/schedulers", help: "result folder" },
  });
  for (const name of ["trials", "epochs", "random-epochs", "limit", "batch-size"] as const) {
    checkInteger(name, flags[name], 1);
  }
  const seeds = flags.seeds.split(",").map(Number);
  check(seeds.every((seed) => Number.isInteger(seed) && seed >= 0), "--seeds must be integers ≥ 0");
  // The halving search's cost in epochs of one model: each rung trains its candidates on from the last.
  const rungs = halvingRungs(flags.trials, flags.epochs, flags.eta);
  const budget = rungs.reduce(
    (sum, rung, k) => sum + rung.candidates * (rung.epochs - (rungs[k - 1]?.epochs ?? 0)),
    0,
  );
  const randomTrials = Math.floor(budget / flags["random-epochs"]);
  const common = [`--limit=${flags.limit}`, `--batch-size=${flags["batch-size"]}`];
  console.error(
    `halving: ${rungs.map((r) => `${r.candidates}@${r.epochs}`).join(" ")} = ${budget} epochs of ` +
      `one model; random: ${randomTrials} trials × ${flags["random-epochs"]} epochs`,
  );

  const rows: ({ seed: number } & Record<`${Scheduler}${"" | "Lr"}`, number>)[] = [];
  for (const seed of seeds) {
    const root = join(flags.out, `seed-${seed}`);
    const chosen = {} as Record<`${Scheduler}${"" | "Lr"}`, number>;
    for (
      const [scheduler, args] of [
        ["halving", [`--trials=${flags.trials}`, `--epochs=${flags.epochs}`, `--eta=${flags.eta}`]],
        ["random", [`--trials=${randomTrials}`, `--epochs=${flags["random-epochs"]}`]],
      ] as const
    ) {
      const out = join(root, scheduler, "search");
      await step("search", [...args, `--scheduler=${scheduler}`, `--seed=${seed}`, ...common, out]);
      const best = JSON.parse(await Deno.readTextFile(join(out, "best_params.json")));
      // The chosen parameters trained to the full budget, as a search's trial would be.
      const trained = join(root, scheduler, "train");
      await step("train", [
        `--lr=${best.lr}`,
        `--l2=${best.l2}`,
        `--dropout=${best.dropout}`,
        `--epochs=${flags.epochs}`,
        `--seed=${seed}`,
        "--test-limit=1000",
        ...common,
        trained,
      ]);
      const history = JSON.parse(await Deno.readTextFile(join(trained, "history.json")));
      chosen[scheduler] = history.epochs.at(-1).validationLoss;
      chosen[`${scheduler}Lr`] = best.lr;
    }
    rows.push({ seed, ...chosen });
  }
  const headers = [
    "seed",
    "halving: chosen lr",
    "halving: validation loss",
    "random: chosen lr",
    "random: validation loss",
    "random / halving",
  ];
  const table = rows.map((row) => [
    row.seed,
    row.halvingLr.toExponential(2),
    row.halving.toFixed(5),
    row.randomLr.toExponential(2),
    row.random.toFixed(5),
    `${(row.random / row.halving).toFixed(3)}×`,
  ]);
  const wins = rows.filter((row) => row.halving < row.random).length;
  const summary =
    `${flags.trials} trials halved at η = ${flags.eta} up to ${flags.epochs} epochs ` +
    `(${budget} epochs of one model) against ${randomTrials} random trials of ` +
    `${flags["random-epochs"]} epochs, on ${flags.limit} images; the chosen parameters trained ` +
    `${flags.epochs} epochs: halving's validation loss is lower for ${wins} of ${rows.length} seeds.`;
  const markdown = `${markdownTable(headers, table)}\n\n${summary}\n`;
  console.log(markdown);
  await writeFileAtomic(join(flags.out, "schedulers.md"), markdown);
  await writeJsonAtomic(join(flags.out, "schedulers.json"), { flags, rungs, budget, rows });
});

/** Runs the task `name` with `args`, the last of them its `--out` folder; throws when it fails. */
async function step(name: string, args: string[]): Promise<void> {
  const out = args.at(-1)!;
  const script = new URL(`../scripts/${name}.ts`, import.meta.url).href;
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args.slice(0, -1), `--out=${out}`, "--fresh"],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${name} ${args.join(" ")} failed (exit code ${code})`);
}
