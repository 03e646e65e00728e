/** The cluster examples under `examples/` run as written: their command lines pass the scripts' checks. */
import assert from "node:assert/strict";
import { shardOfEnvironment } from "../lib/shards.ts";
import { KubernetesJob, parseYaml } from "./_deps.ts";
import { lastLine, runScript } from "./_scripts.ts";

/** What a command line parsed and checked by its script stops at, given an empty `--out`. */
const CHECKED = "error: the results folder must be named, not empty";

/** The script that `deno task <task>` runs, from `deno.json`. */
async function taskScript(task: string): Promise<string> {
  const { tasks } = JSON.parse(await Deno.readTextFile("deno.json"));
  const script = /^deno run -A (scripts\/\S+\.ts)$/.exec(tasks[task] ?? "")?.[1];
  assert.ok(script, `no script task "${task}"`);
  return script;
}

/**
 * Runs the command `npx -y deno@2.9.6 task <task> <args>` as its script with `--out=` added (so that it
 * stops once its flags are parsed and checked) in the environment `env`; returns what it printed.
 */
async function checkCommand(words: string[], env: Record<string, string>): Promise<string> {
  assert.deepEqual(words.slice(0, 4), ["npx", "-y", "deno@2.9.6", "task"], "the pinned Deno");
  const run = await runScript(await taskScript(words[4]), [...words.slice(5), "--out="], [], env);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(lastLine(run.stderr), CHECKED);
  return run.stderr;
}

Deno.test("the sbatch example runs each shard of its array, then the merge, with the sweep's own flags", async () => {
  const text = await Deno.readTextFile("examples/slurm/sweep.sbatch");
  assert.ok(text.startsWith("#!/bin/bash\n"));
  const directives = Object.fromEntries(
    [...text.matchAll(/^#SBATCH --([a-z-]+)=(\S+)$/gm)].map(([, name, value]) => [name, value]),
  );
  const [first, last] = directives.array.split("-").map(Number);
  const count = last - first + 1;
  const [command] = text.split("\n").filter((line) => line.startsWith("exec "));
  const words = command.split(/\s+/).slice(1);
  assert.equal(words.at(-1), '"$@"');
  const args = words.slice(0, -1);
  // the first and the last task of the array: shards 1 and n of n
  for (const [id, shard] of [[first, 1], [last, count]]) {
    const env = {
      SLURM_ARRAY_TASK_ID: String(id),
      SLURM_ARRAY_TASK_MIN: String(first),
      SLURM_ARRAY_TASK_COUNT: String(count),
    };
    const said = await checkCommand(args, env);
    assert.match(said, new RegExp(`^shard ${shard}/${count} \\(SLURM_ARRAY_TASK_ID=${id} `, "m"));
  }
  // the merge, as the header submits it: a single task given --merge
  assert.match(
    text,
    /sbatch --dependency=afterok:\$shards --array=0 examples\/slurm\/sweep\.sbatch --merge/,
  );
  const merge = await checkCommand([...args, "--merge"], {
    SLURM_ARRAY_TASK_ID: "0",
    SLURM_ARRAY_TASK_COUNT: "1",
  });
  assert.doesNotMatch(merge, /^shard /m);
});

Deno.test("the Kubernetes example is an Indexed Job whose pods run the study's shards on a shared volume", async () => {
  const job = parseYaml(await Deno.readTextFile("examples/kubernetes/study.yaml"));
  // valid against Kubernetes' schema of a batch/v1 Job, which does refuse a field of the wrong type
  new KubernetesJob(job).validate();
  const wrong = structuredClone(job);
  wrong.spec.completions = String(job.spec.completions);
  assert.throws(() => new KubernetesJob(wrong).validate(), /spec\/completions must be integer/);
  assert.equal(job.apiVersion, "batch/v1");
  assert.equal(job.kind, "Job");
  assert.match(job.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  const { completionMode, completions, parallelism, template } = job.spec;
  assert.equal(completionMode, "Indexed");
  assert.ok(Number.isInteger(completions) && completions >= 1);
  assert.ok(Number.isInteger(parallelism) && parallelism >= 1 && parallelism <= completions);
  assert.ok(["Never", "OnFailure"].includes(template.spec.restartPolicy));
  const [container] = template.spec.containers;
  assert.ok(container.image && container.name);
  // the count of shards is the Job's completions, which the pods are not told otherwise
  const env: Record<string, string> = Object.fromEntries(
    container.env.map(({ name, value }: { name: string; value: string }) => [name, value]),
  );
  assert.equal(env.AELAB_SHARD_COUNT, String(completions));
  for (let index = 0; index < completions; index++) {
    const variables: Record<string, string> = { ...env, JOB_COMPLETION_INDEX: String(index) };
    assert.deepEqual(shardOfEnvironment((name) => variables[name])?.shard, {
      index: index + 1,
      count: completions,
    });
  }
  // the checkout on a volume every pod mounts: the working directory, and the results inside it
  const [mount] = container.volumeMounts;
  assert.equal(container.workingDir, mount.mountPath);
  const volume = template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
  assert.ok(volume?.persistentVolumeClaim?.claimName, "a shared volume");
  assert.ok(
    !container.command.find((word: string) => word.startsWith("--out=/")),
    "results inside",
  );
  // shard 1, which leads: its flags parsed and checked by the study (the others wait for it)
  const said = await checkCommand(container.command, { ...env, JOB_COMPLETION_INDEX: "0" });
  assert.match(said, new RegExp(`^shard 1/${completions} \\(JOB_COMPLETION_INDEX=0 `, "m"));
});
