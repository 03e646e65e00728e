/**
 * `examples/slurm/sweep.sbatch` on a real SLURM cluster: submitted as `docs/cluster.md` tells a user, with
 * tiny budgets. Runs where `SLURM_CONF` names a cluster to submit to (`examples/slurm/ci.sh` stands a
 * single-node one up and runs this file); elsewhere it is ignored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../lib/files/atomic.ts";
import { checkpointPath } from "../lib/train/trainings.ts";
import { assertSameResults, filesIn, lastLine, runScript } from "./_scripts.ts";

/**
 * A sweep of four sizes, 20 epochs each: two shards of two sizes, each a few seconds on aelab's wasm
 * engine (a tenth of a second an epoch), long enough to be cancelled after its first epoch.
 */
const SWEEP = [
  "--sizes=1-4",
  "--epochs=20",
  "--limit=1000",
  "--test-limit=200",
  "--lr=0.003",
  "--l2=0",
  "--dropout=0",
  "--workers=1",
];

/** The longest any one job, or any wait, may take before the test fails rather than hangs. */
const PATIENCE_MS = 240_000;

const cluster = Deno.env.get("SLURM_CONF") !== undefined;

/** A temporary folder for each run's results and the jobs' logs. */
const root = cluster ? await Deno.makeTempDir({ prefix: "aelab-slurm-" }) : "";
if (cluster) addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

/** What a command printed and how it ended. */
interface CommandRun {
  code: number;
  output: string;
}

/** Runs SLURM's `command` with `args`, killed after {@link PATIENCE_MS}. */
async function slurm(command: string, args: string[]): Promise<CommandRun> {
  const run = await new Deno.Command(command, {
    args,
    stdin: "null",
    signal: AbortSignal.timeout(PATIENCE_MS),
  }).output();
  const decoder = new TextDecoder();
  return { code: run.code, output: decoder.decode(run.stdout) + decoder.decode(run.stderr) };
}

/**
 * Submits the sbatch example with `sbatchArgs` before it and the sweep's flags `args` after it, on a
 * node of this size (one core and 1 GB a task), its logs in the test's folder; returns the job's id
 * (with `--parsable`) or what `--wait` ended with.
 */
async function submit(sbatchArgs: string[], args: string[]): Promise<CommandRun> {
  return await slurm("sbatch", [
    "--cpus-per-task=1",
    "--mem=1G",
    `--output=${root}/logs/%A_%a.log`,
    ...sbatchArgs,
    "examples/slurm/sweep.sbatch",
    ...args,
  ]);
}

/** Submits and returns the job's id. */
async function submitted(sbatchArgs: string[], args: string[]): Promise<string> {
  const run = await submit(["--parsable", ...sbatchArgs], args);
  assert.equal(run.code, 0, run.output);
  return run.output.trim();
}

/** The log of array task `task` of job `job`. */
function log(job: string, task: number): Promise<string> {
  return Deno.readTextFile(join(root, "logs", `${job}_${task}.log`));
}

/** Waits until `condition` holds, checking twice a second; fails after {@link PATIENCE_MS}. */
async function waitFor(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The sweep trained by one process, unsharded: what the cluster's runs must reproduce. */
let whole: Promise<string> | undefined;
function wholeSweep(): Promise<string> {
  return whole ??= (async () => {
    const out = join(root, "whole", "sweep");
    const run = await runScript("scripts/sweep.ts", [...SWEEP, `--out=${out}`]);
    assert.equal(run.code, 0, run.stderr);
    return out;
  })();
}

Deno.test({
  name: "a job array of 2 shards, then the merge after them, write what one process writes",
  ignore: !cluster,
  async fn() {
    const out = join(root, "array", "sweep");
    await Deno.mkdir(join(root, "logs"), { recursive: true });
    const flags = [...SWEEP, `--out=${out}`];
    const shards = await submitted(["--array=0-1"], flags);
    const merge = await submit(
      ["--wait", `--dependency=afterok:${shards}`, "--array=0"],
      [...flags, "--merge"],
    );
    assert.equal(merge.code, 0, merge.output);
    assert.match(await log(shards, 0), /^shard 1\/2 \(SLURM_ARRAY_TASK_ID=0 of /m);
    assert.match(await log(shards, 1), /^shard 2\/2 done: /m);
    await assertSameResults(await wholeSweep(), out);
  },
});

Deno.test({
  name: "a shard cancelled mid-training: the merge fails in one line, the shard run again resumes",
  ignore: !cluster,
  async fn() {
    const out = join(root, "cancelled", "sweep");
    await Deno.mkdir(join(root, "logs"), { recursive: true });
    const flags = [...SWEEP, `--out=${out}`];
    const reference = wholeSweep();
    const shards = await submitted(["--array=0-1"], flags);

    // Shard 2 trains d = 2 and 4: cancelled once their checkpoints after epoch 1 are there.
    const checkpoint = checkpointPath(join(out, "trainings"), "d-004");
    await waitFor("shard 2's checkpoint", () => exists(checkpoint));
    const cancel = await slurm("scancel", [`${shards}_1`]);
    assert.equal(cancel.code, 0, cancel.output);

    // The merge after shard 1 finds shard 2's sizes missing and says so in one line.
    const early = await submit(
      ["--wait", `--dependency=afterok:${shards}_0`, "--array=0"],
      [...flags, "--merge"],
    );
    assert.notEqual(early.code, 0, early.output);
    const job = /Submitted batch job (\d+)/.exec(early.output)![1];
    const said = await log(job, 0);
    assert.equal(said.split("\n").filter((line) => line.startsWith("error")).length, 1, said);
    assert.equal(
      lastLine(said),
      `error: 2 of 4 trainings (d-002, d-004) have no result at 20 epochs in ${out}/trainings: ` +
        "run the shards that train them, then merge again",
    );
    assert.ok(await exists(checkpoint), "the merge keeps the cancelled shard's checkpoint");

    // Shard 2 submitted again alone, as the sbatch file says, resumes; the merge then succeeds.
    const again = await submit(["--wait", "--array=1"], [...flags, "--shard=2/2"]);
    assert.equal(again.code, 0, again.output);
    const rerun = /Submitted batch job (\d+)/.exec(again.output)![1];
    assert.match(
      await log(rerun, 1),
      /^sweep: resuming after epoch \d from .*\/d-\d+\.checkpoint\.safetensors$/m,
    );
    const merge = await submit(["--wait", "--array=0"], [...flags, "--merge"]);
    assert.equal(merge.code, 0, merge.output);
    await assertSameResults(await reference, out);
    assert.deepEqual(
      (await filesIn(out)).filter((path) => path.includes("checkpoint")),
      [],
      "the resumed shard removes its checkpoint",
    );
  },
});
