/** The steps that shard — search, sweep, denoise, study — run as shards at once, killed, merged. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../lib/files/atomic.ts";
import { checkpointPath } from "../lib/train/trainings.ts";
import {
  assertMergeRerunsShard,
  assertRefuses,
  assertSameResults,
  filesIn,
  killWhen,
  lastLine,
  runScript,
  type ScriptRun,
  tinyClassifier,
  tinyTrainedModel,
} from "./_scripts.ts";

/** A halving search whose first rung trains 2 epochs: 4 trials, then 2, then 1 at 8 epochs. */
const SEARCH = ["--trials=4", "--epochs=8", "--eta=2", "--limit=300"];

/** A sweep of five sizes, 2 epochs each. */
const SWEEP = [
  "--sizes=1-5",
  "--epochs=2",
  "--limit=300",
  "--test-limit=100",
  "--lr=0.003",
  "--l2=0",
  "--dropout=0",
];

/** Asserts that every run exited 0. */
function assertAllDone(runs: ScriptRun[]): void {
  for (const run of runs) assert.equal(run.code, 0, run.stderr);
}

Deno.test("three shards of a search at once, one killed and run again, merge into what one process writes", async () => {
  const root = await Deno.makeTempDir();
  const [whole, out] = [join(root, "whole", "search"), join(root, "sharded", "search")];
  const single = await runScript("scripts/search.ts", [...SEARCH, `--out=${whole}`]);
  assert.equal(single.code, 0, single.stderr);

  // Shard 2 trains trial 2 (beside the study's parameters, the fifth trial) in the first rung: killed
  // there after an epoch, it is run again while the others go on; shard 1 waits for its result before
  // the second rung.
  const checkpoint = checkpointPath(join(out, "trainings"), "trial-002");
  const shard = (i: number) => [...SEARCH, `--shard=${i}/3`, `--out=${out}`];
  const runs = await Promise.all([
    runScript("scripts/search.ts", shard(1)),
    killWhen("scripts/search.ts", shard(2), async () => await exists(checkpoint) || undefined)
      .then(() => runScript("scripts/search.ts", shard(2))),
    runScript("scripts/search.ts", shard(3)),
  ]);
  assertAllDone(runs);
  assert.match(runs[0].stderr, /^shard 1\/3 \(--shard\): trains the 1st of every 3 trainings$/m);
  assert.match(
    runs[1].stderr,
    /rung 1\/3 .*: resuming after epoch 1 from .*trial-002\.checkpoint\.safetensors/,
  );
  assert.equal(await exists(join(out, "trials.json")), false, "a shard writes none of the outputs");

  const merged = await runScript("scripts/search.ts", [...SEARCH, "--merge", `--out=${out}`]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, single.stdout);
  await assertSameResults(whole, out);

  // A merge of other settings names the one that differs, and changes nothing.
  const other = await runScript("scripts/search.ts", [
    ...SEARCH,
    "--batch-size=64",
    "--merge",
    `--out=${out}`,
  ]);
  assert.equal(other.code, 2, other.stderr);
  assert.match(
    lastLine(other.stderr),
    /^error: .*trial-001\.json was made with other settings \(batchSize: 256 → 64\)/,
  );
  await assertSameResults(whole, out);
  await Deno.remove(root, { recursive: true });
});

Deno.test("three shards of a sweep at once, one killed and one given twice, merge into what one process writes", async () => {
  const root = await Deno.makeTempDir();
  const [whole, out] = [join(root, "whole", "sweep"), join(root, "sharded", "sweep")];
  const single = await runScript("scripts/sweep.ts", [...SWEEP, `--out=${whole}`]);
  assert.equal(single.code, 0, single.stderr);

  // Shard 2 of 3 trains d = 2 and 5 as one population: killed after its first epoch, run again. Shard 3
  // is also given twice by mistake: one of the two trains d = 3, the other finds it held or done.
  const checkpoint = checkpointPath(join(out, "trainings"), "d-002");
  const shard = (i: number) => [...SWEEP, `--shard=${i}/3`, "--workers=1", `--out=${out}`];
  const runs = await Promise.all([
    runScript("scripts/sweep.ts", shard(1)),
    killWhen("scripts/sweep.ts", shard(2), async () => await exists(checkpoint) || undefined)
      .then(() => runScript("scripts/sweep.ts", shard(2))),
    runScript("scripts/sweep.ts", shard(3)),
    runScript("scripts/sweep.ts", shard(3)),
  ]);
  assertAllDone(runs);
  assert.match(
    runs[1].stderr,
    /sweep: resuming after epoch 1 from .*d-002\.checkpoint\.safetensors/,
  );
  const trainedThree = runs.slice(2).filter((run) => /sweep d = 3 epoch 2\/2/.test(run.stderr));
  assert.equal(trainedThree.length, 1, runs.slice(2).map((run) => run.stderr).join("\n"));

  const merged = await runScript("scripts/sweep.ts", [...SWEEP, "--merge", `--out=${out}`]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, single.stdout);
  await assertSameResults(whole, out);

  const other = await runScript("scripts/sweep.ts", [
    ...SWEEP,
    "--lr=0.01",
    "--merge",
    `--out=${out}`,
  ]);
  assert.equal(other.code, 2, other.stderr);
  assert.equal(other.stderr.split("\n").filter((line) => line.startsWith("error")).length, 1);
  assert.match(
    lastLine(other.stderr),
    /d-001\.json was made with other settings \(lr: 0\.003 → 0\.01\)/,
  );
  await assertSameResults(whole, out);
  await Deno.remove(root, { recursive: true });
});

/**
 * Runs shard 2 of 3 of {@link SWEEP} into `out` and kills it once d = 2 has a checkpoint (after its first
 * epoch).
 */
async function killShardAfterAnEpoch(out: string): Promise<void> {
  const checkpoint = checkpointPath(join(out, "trainings"), "d-002");
  await killWhen(
    "scripts/sweep.ts",
    [...SWEEP, "--shard=2/3", "--workers=1", `--out=${out}`],
    async () => await exists(checkpoint) || undefined,
  );
}

Deno.test("a whole run after a killed shard resumes the shard's trainings from their checkpoints and leaves none", async () => {
  const root = await Deno.makeTempDir();
  const [whole, out] = [join(root, "whole", "sweep"), join(root, "resumed", "sweep")];
  const single = await runScript("scripts/sweep.ts", [...SWEEP, `--out=${whole}`]);
  assert.equal(single.code, 0, single.stderr);
  await killShardAfterAnEpoch(out);
  const resumed = await runScript("scripts/sweep.ts", [...SWEEP, `--out=${out}`]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stderr,
    /sweep: resuming after epoch 1 from .*d-002\.checkpoint\.safetensors/,
  );
  assert.equal(resumed.stdout, single.stdout);
  await assertSameResults(whole, out);
  await Deno.remove(root, { recursive: true });
});

Deno.test("two reruns at once of a killed shard resume its trainings, each from its checkpoint", async () => {
  const root = await Deno.makeTempDir();
  const [whole, out] = [join(root, "whole", "sweep"), join(root, "sharded", "sweep")];
  const single = await runScript("scripts/sweep.ts", [...SWEEP, `--out=${whole}`]);
  assert.equal(single.code, 0, single.stderr);
  await killShardAfterAnEpoch(out);
  const shard = (i: number) => [...SWEEP, `--shard=${i}/3`, "--workers=1", `--out=${out}`];
  const runs = await Promise.all([
    runScript("scripts/sweep.ts", shard(1)),
    runScript("scripts/sweep.ts", shard(2)),
    runScript("scripts/sweep.ts", shard(2)),
    runScript("scripts/sweep.ts", shard(3)),
  ]);
  assertAllDone(runs);
  const stderr = runs.map((run) => run.stderr).join("\n");
  assert.equal(stderr.match(/resuming after epoch 1 from .*d-002\.checkpoint/g)?.length, 1, stderr);
  const merged = await runScript("scripts/sweep.ts", [...SWEEP, "--merge", `--out=${out}`]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, single.stdout);
  await assertSameResults(whole, out);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a merge with trainings missing lists them in one line and writes nothing", async () => {
  const out = join(await Deno.makeTempDir(), "sweep");
  const flags = ["--sizes=1,2", "--epochs=1", "--limit=300", "--test-limit=100", `--out=${out}`];
  const shard = await runScript("scripts/sweep.ts", [...flags, "--shard=1/2"]);
  assert.equal(shard.code, 0, shard.stderr);
  const merged = await runScript("scripts/sweep.ts", [...flags, "--merge"]);
  assert.equal(merged.code, 1, merged.stderr);
  assert.equal(
    lastLine(merged.stderr),
    `error: 1 of 2 trainings (d-002) have no result at 1 epoch in ${out}/trainings: run the ` +
      "shards that train them, then merge again",
  );
  assert.deepEqual(await filesIn(out), [
    "trainings/d-001.json",
    "trainings/d-001.state.safetensors",
  ]);
  await Deno.remove(join(out, ".."), { recursive: true });
});

/** A sweep of sizes 1 and 2 in `out` (`--out` given), for the merges below. */
const MERGED_SWEEP = [
  "--sizes=1,2",
  "--epochs=1",
  "--limit=300",
  "--test-limit=100",
  "--engine=tfjs",
];

Deno.test("a shard whose share another process holds says so in its last line, one skipping line per holder", async () => {
  const out = join(await Deno.makeTempDir(), "sweep");
  const flags = [
    ...SWEEP.filter((flag) => !flag.startsWith("--epochs")),
    "--epochs=20",
    `--out=${out}`,
  ];
  const holder = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/sweep.ts", ...flags, "--shard=1/2"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // Once the first shard holds its share (sizes 1, 3 and 5), the same shard is run again.
    const locks = ["d-001.lock", "d-003.lock", "d-005.lock"].map((name) =>
      join(out, "trainings", name)
    );
    while (!(await Promise.all(locks.map(exists))).every(Boolean)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const again = await runScript("scripts/sweep.ts", [...flags, "--shard=1/2"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      again.stderr.match(/^skipping d-001, d-003, d-005: held by process \d+/gm)?.length,
      1,
      again.stderr,
    );
    assert.equal(
      lastLine(again.stderr),
      "shard 1/2 stopped short of its share: other processes still train d-001, d-003, d-005 " +
        `into ${out}/trainings/; merge with --merge --wait to wait for them`,
    );
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
  }
  await Deno.remove(join(out, ".."), { recursive: true });
});

Deno.test("a merge of shards trained on other backends names both in one line, exit 2, and writes nothing", async () => {
  const out = join(await Deno.makeTempDir(), "sweep");
  const flags = [...MERGED_SWEEP, `--out=${out}`];
  for (const [shard, backend] of [["1/2", "cpu"], ["2/2", "wasm"]]) {
    const run = await runScript("scripts/sweep.ts", [
      ...flags,
      `--shard=${shard}`,
      `--backend=${backend}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
  }
  const merged = await runScript("scripts/sweep.ts", [...flags, "--merge"]);
  assert.equal(merged.code, 2, merged.stderr);
  assert.equal(
    lastLine(merged.stderr),
    `error: the trainings in ${out}/trainings were trained on different engines (d-001 by tfjs ` +
      "cpu; d-002 by tfjs wasm), whose numbers differ in the last digits: rerun the shards of one " +
      "side with --fresh and the other side's --engine and --backend, then merge again",
  );
  assert.deepEqual((await filesIn(out)).filter((path) => !path.startsWith("trainings/")), []);
  await Deno.remove(join(out, ".."), { recursive: true });
});

Deno.test("a merge that meets a truncated state writes nothing, and says to rerun its shard", async () => {
  const out = join(await Deno.makeTempDir(), "sweep");
  const flags = [...MERGED_SWEEP, `--out=${out}`];
  for (const shard of ["1/2", "2/2"]) {
    const run = await runScript("scripts/sweep.ts", [...flags, `--shard=${shard}`]);
    assert.equal(run.code, 0, run.stderr);
  }
  const state = join(out, "trainings", "d-002.state.safetensors");
  await Deno.truncate(state, 100);
  const merged = await runScript("scripts/sweep.ts", [...flags, "--merge"]);
  await assertMergeRerunsShard(merged, out, state);
  await Deno.remove(join(out, ".."), { recursive: true });
});

Deno.test("two shards of the denoisers merge into what one process writes", async () => {
  const model = await tinyTrainedModel();
  const root = await Deno.makeTempDir();
  const flags = [
    `--model=${model}`,
    `--classifier=${await tinyClassifier()}`,
    "--epochs=1",
    "--limit=500",
    "--batch-size=64",
    "--lr=0.003",
    "--l2=0",
    "--dropout=0",
    "--test-limit=100",
    "--digits=4",
    "--noise-levels=0,0.5",
    "--occlusion-sides=0,10",
  ];
  const [whole, out] = [join(root, "whole", "denoise"), join(root, "sharded", "denoise")];
  assertAllDone([await runScript("scripts/denoise.ts", [...flags, `--out=${whole}`])]);
  assertAllDone(
    await Promise.all(
      ["1/2", "2/2"].map((shard) =>
        runScript("scripts/denoise.ts", [...flags, `--out=${out}`], [], {
          SLURM_ARRAY_TASK_ID: String(Number(shard[0]) - 1),
          SLURM_ARRAY_TASK_COUNT: "2",
        })
      ),
    ),
  );
  assertAllDone([await runScript("scripts/denoise.ts", [...flags, "--merge", `--out=${out}`])]);
  await assertSameResults(whole, out);
  await Deno.remove(root, { recursive: true });
});

Deno.test("two shards of the study at once: shard 1 merges each step and reports, a rerun keeps it all", async () => {
  const root = await Deno.makeTempDir();
  const shards = () =>
    Promise.all(
      ["1/2", "2/2"].map((shard) =>
        runScript("scripts/study.ts", ["--profile=tiny", `--shard=${shard}`, `--out=${root}`])
      ),
    );
  const [leader, follower] = await shards();
  assertAllDone([leader, follower]);
  const report = await Deno.readTextFile(join(root, "REPORT.md"));
  const steps = ["train", "search", "sweep", "classify", "corrupt", "denoise", "morph"];
  for (const folder of steps) {
    assert.ok(await exists(join(root, folder, "report.json")), `no ${folder} section`);
  }
  assert.equal(report.match(/^## /gm)?.length, 1 + 7, "the findings, then a section per step");
  // the second shard trained its share of each step that shards, the first merged them
  for (const step of ["search", "sweep", "denoise"]) {
    assert.match(follower.stderr, new RegExp(`shard 2/2 done: .*${step}/trainings/`));
    assert.match(leader.stderr, new RegExp(`study \\d/7: ${step} .* --merge --wait`));
  }
  assert.match(follower.stderr, /study: waiting for shard 1 to finish search, train/);
  const study = JSON.parse(await Deno.readTextFile(join(root, "study.json")));
  assert.ok(
    Object.values(study.steps).every((step) => (step as { status: string }).status === "finished"),
  );

  const [again, followerAgain] = await shards();
  assertAllDone([again, followerAgain]);
  assert.equal(again.stderr.match(/done earlier with the same flags, kept/g)?.length, 7);
  assert.doesNotMatch(followerAgain.stderr, /epoch \d+\/\d+/);
  await Deno.remove(root, { recursive: true });
});

for (
  const [script, args, message, env] of [
    ["sweep", ["--shard=3/2"], /--shard must be i\/n, shard i of n with 1 ≤ i ≤ n, got "3\/2"/, {}],
    ["sweep", ["--shard=0/0"], /--shard must be i\/n, .* got "0\/0"/, {}],
    ["sweep", ["--shard=a/b"], /--shard must be i\/n, .* got "a\/b"/, {}],
    ["search", ["--shard=3/2"], /--shard must be i\/n/, {}],
    ["denoise", ["--shard=0/0"], /--shard must be i\/n/, {}],
    ["study", ["--shard=a/b"], /--shard must be i\/n/, {}],
    [
      "sweep",
      [],
      /SLURM_ARRAY_TASK_ID=2 of SLURM_ARRAY_TASK_COUNT=2 is out of range: the ids are 0…1/,
      { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "2" },
    ],
    [
      "search",
      [],
      /JOB_COMPLETION_INDEX=4 of AELAB_SHARD_COUNT=4 is out of range: the ids are 0…3/,
      { JOB_COMPLETION_INDEX: "4", AELAB_SHARD_COUNT: "4" },
    ],
    ["sweep", [], /JOB_COMPLETION_INDEX is set but not AELAB_SHARD_COUNT/, {
      JOB_COMPLETION_INDEX: "0",
    }],
    ["sweep", ["--merge", "--shard=1/2"], /--merge trains nothing, so it takes no --shard/, {}],
    ["sweep", ["--wait"], /--wait goes with --merge/, {}],
    ["study", ["--shard=1/2", "--fresh"], /a sharded study cannot start over \(--fresh\)/, {}],
  ] as const
) {
  Deno.test(`${script} refuses ${[...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(" ")} with one line and exit code 2`, () =>
    assertRefuses(`scripts/${script}.ts`, [...args], message, env));
}
