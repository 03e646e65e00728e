/**
 * Issue #23, cases 1 and 10: a run stops promptly. A run whose parent dies — a study killed with SIGKILL,
 * the `deno task` wrapper of a script killed — stops with it rather than running on orphaned and holding
 * its results folder, so that a rerun at once finishes; on the tfjs engine, SIGINT takes effect between
 * batches, not at the end of the epoch.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertFilesValid,
  errorLines,
  lockFiles,
  processesIn,
  startScript,
  temporaryFiles,
  waitUntilEnded,
} from "./_faults.ts";
import { filesIn, runScript } from "./_scripts.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/**
 * Training flags of a run of some seconds: an epoch takes about a second on 2 wasm workers, longer than
 * the 250 ms a script takes to see its parent gone, so the killed run stops before its third epoch.
 */
const TRAIN = ["--epochs=30", "--limit=20000", "--test-limit=100", "--batch-size=64"];

/** Waits until no process names `folder`: every process of the run has ended. */
async function waitForNoProcessIn(folder: string): Promise<void> {
  await waitUntilEnded(await processesIn(folder));
  assert.deepEqual(
    (await processesIn(folder)).filter((pid) => !isZombie(pid)),
    [],
    "a process of the run is still there",
  );
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return true;
  }
}

Deno.test("a script whose `deno task` wrapper is killed with SIGKILL stops, releases its folder, and a rerun resumes", async () => {
  const folder = await Deno.makeTempDir({ prefix: "aelab-orphans-" });
  const out = join(folder, "train");
  const wrapper = new Deno.Command(Deno.execPath(), {
    args: ["task", "--config", CONFIG, "train", ...TRAIN, `--out=${out}`],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    for await (const text of wrapper.stderr.pipeThrough(new TextDecoderStream())) {
      // Once the first epoch's checkpoint is saved (the second epoch has ended), the wrapper is killed.
      if (
        !/train d = 4 epoch 2\/30/.test(stderr) && /train d = 4 epoch 2\/30/.test(stderr + text)
      ) {
        wrapper.kill("SIGKILL");
      }
      stderr += text;
    }
  })();
  // The pipe ends once the script, which writes to it too, has ended.
  await reading;
  assert.equal((await wrapper.status).signal, "SIGKILL");
  await waitForNoProcessIn(folder);
  assert.match(stderr, /the process that started this run \(\d+\) has ended: stopping/);
  assert.match(stderr, /stopped by SIGTERM/);
  assert.deepEqual(await lockFiles(folder), []);
  assert.deepEqual(await temporaryFiles(folder), []);
  await assertFilesValid(folder);

  const rerun = await runScript("scripts/train.ts", [...TRAIN, "--epochs=3", `--out=${out}`]);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /resuming after epoch [12] /);
  await Deno.remove(folder, { recursive: true });
});

Deno.test("a study killed with SIGKILL takes its running step with it, and a rerun at once finishes", async () => {
  const folder = await Deno.makeTempDir({ prefix: "aelab-orphans-" });
  const root = join(folder, "results");
  const study = startScript("study", ["--profile=tiny", `--out=${root}`], { cwd: folder });
  // The train step has started its run (it has said what it trains with): then the study is killed.
  await study.printed(/study 2\/7: train[^]*parameters: /);
  study.child.kill("SIGKILL");
  await study.ended;
  await waitForNoProcessIn(folder);
  assert.deepEqual(await lockFiles(join(root, "train")), []);
  assert.deepEqual(await temporaryFiles(root), []);

  const rerun = await startScript("study", ["--profile=tiny", `--out=${root}`], { cwd: folder })
    .ended;
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /study 1\/7: search — done earlier with the same flags, kept/);
  await Deno.remove(folder, { recursive: true });
});

Deno.test("on the tfjs engine SIGINT stops a training inside its epoch, not at the epoch's end", async () => {
  const folder = await Deno.makeTempDir({ prefix: "aelab-stops-" });
  const out = join(folder, "train");
  // One epoch of 20,000 images in batches of 64: tens of seconds on a CPU.
  const flags = [
    "--engine=tfjs",
    "--epochs=2",
    "--limit=20000",
    "--test-limit=100",
    "--batch-size=64",
  ];
  const run = startScript("train", [...flags, `--out=${out}`], { cwd: folder });
  await run.printed(/^training d = 4 on 20000 images/m);
  run.child.kill("SIGINT");
  const outcome = await run.ended;
  assert.equal(outcome.code, 130, outcome.stderr);
  assert.deepEqual(errorLines(outcome.stderr), []);
  assert.doesNotMatch(outcome.stderr, /epoch 1\/2 /, "it trained on to the epoch's end");
  assert.deepEqual(await filesIn(out), []);
  await Deno.remove(folder, { recursive: true });
});
