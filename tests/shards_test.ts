import assert from "node:assert/strict";
import { UsageError } from "../lib/cli.ts";
import { owns, parseShard, shardOfEnvironment, stepRun } from "../lib/shards.ts";

/** An environment of the variables given, as `shardOfEnvironment` reads one. */
const environment = (variables: Record<string, string>) => (name: string) => variables[name];

Deno.test("--shard i/n takes shard i of n, counted from 1", () => {
  assert.deepEqual(parseShard("1/1"), { index: 1, count: 1 });
  assert.deepEqual(parseShard("3/12"), { index: 3, count: 12 });
  for (const text of ["3/2", "0/0", "0/3", "a/b", "1", "1/2/3", "-1/2", "1.5/2", ""]) {
    assert.throws(() => parseShard(text), (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.equal(
        error.message,
        `--shard must be i/n, shard i of n with 1 ≤ i ≤ n, got "${text}"`,
      );
      return true;
    });
  }
});

Deno.test("every training belongs to one shard, the same on every run, spread evenly", () => {
  for (const count of [1, 2, 3, 7]) {
    const runs = Array.from({ length: count }, (_, i) =>
      owns({
        kind: "shard",
        shard: { index: i + 1, count },
      }));
    const owners = Array.from(
      { length: 30 },
      (_, position) => runs.filter((owned) => owned(position)).length,
    );
    assert.ok(owners.every((n) => n === 1), `count ${count}`);
    const shares = runs.map((owned) => Array.from({ length: 30 }, (_, p) => p).filter(owned));
    assert.ok(
      Math.max(...shares.map((s) => s.length)) - Math.min(...shares.map((s) => s.length)) <= 1,
    );
  }
  assert.ok(owns({ kind: "whole" })(12));
  assert.ok(!owns({ kind: "merge", wait: false })(0));
});

Deno.test("a SLURM array task is the shard of its id among the array's, from the first", () => {
  const slurm = (id: string, count: string, min?: string) =>
    shardOfEnvironment(environment({
      SLURM_ARRAY_TASK_ID: id,
      SLURM_ARRAY_TASK_COUNT: count,
      ...(min === undefined ? {} : { SLURM_ARRAY_TASK_MIN: min }),
    }));
  assert.deepEqual(slurm("0", "4")?.shard, { index: 1, count: 4 });
  assert.deepEqual(slurm("3", "4", "0")?.shard, { index: 4, count: 4 });
  assert.deepEqual(slurm("5", "4", "2")?.shard, { index: 4, count: 4 });
  assert.equal(slurm("1", "4")?.source, "SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_COUNT=4");
  for (
    const [id, count, min, message] of [
      [
        "4",
        "4",
        "0",
        /^UsageError: SLURM_ARRAY_TASK_ID=4 of SLURM_ARRAY_TASK_COUNT=4 is out of range: the ids are 0…3; give sbatch --array consecutive ids, or pass --shard i\/n$/,
      ],
      ["1", "4", "2", /is out of range: the ids are 2…5/],
      ["x", "4", "0", /^UsageError: SLURM_ARRAY_TASK_ID=x of .* is out of range/],
      ["0", "0", "0", /is out of range: no shards/],
    ]
  ) {
    assert.throws(() => slurm(id as string, count as string, min as string), message as RegExp);
  }
  assert.throws(
    () => shardOfEnvironment(environment({ SLURM_ARRAY_TASK_ID: "1" })),
    /^UsageError: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT$/,
  );
  assert.equal(shardOfEnvironment(environment({ SLURM_JOB_ID: "7" })), undefined);
});

Deno.test("a Kubernetes Indexed Job's pod is the shard of its completion index, counted by its manifest", () => {
  const pod = (index: string, count?: string) =>
    shardOfEnvironment(environment({
      JOB_COMPLETION_INDEX: index,
      ...(count === undefined ? {} : { AELAB_SHARD_COUNT: count }),
    }));
  assert.deepEqual(pod("0", "3")?.shard, { index: 1, count: 3 });
  assert.deepEqual(pod("2", "3")?.shard, { index: 3, count: 3 });
  assert.throws(
    () => pod("3", "3"),
    /^UsageError: JOB_COMPLETION_INDEX=3 of AELAB_SHARD_COUNT=3 is out of range: the ids are 0…2; set AELAB_SHARD_COUNT to the Job's completions, or pass --shard i\/n$/,
  );
  assert.throws(() => pod("0"), /JOB_COMPLETION_INDEX is set but not AELAB_SHARD_COUNT/);
});

Deno.test("a run is a shard by --shard, else by its environment; a merge reads no environment", () => {
  const slurm = environment({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" });
  const none = environment({});
  const flags = { merge: false, wait: false };
  assert.deepEqual(stepRun(flags, none), { kind: "whole" });
  assert.deepEqual(stepRun(flags, slurm), { kind: "shard", shard: { index: 2, count: 2 } });
  assert.deepEqual(stepRun({ ...flags, shard: "1/3" }, slurm), {
    kind: "shard",
    shard: { index: 1, count: 3 },
  });
  assert.deepEqual(stepRun({ merge: true, wait: true }, slurm), { kind: "merge", wait: true });
  for (
    const [given, message] of [
      [
        { merge: true, wait: false, shard: "1/2" },
        /--merge trains nothing, so it takes no --shard/,
      ],
      [
        { merge: true, wait: false, fresh: true },
        /--merge trains nothing, so it cannot start over/,
      ],
      [{ merge: false, wait: true }, /--wait goes with --merge/],
    ] as const
  ) {
    assert.throws(() => stepRun(given, none), message);
  }
});
