import assert from "node:assert/strict";
import { setupBackend } from "../lib/tfjs.ts";
import { STALE_LOCK_MS } from "../lib/files/lock.ts";
import { chooseEngine } from "../lib/train/engine.ts";
import { gatherTrainings, runTrainings, type Training } from "../lib/train/trainings.ts";

const backend = await setupBackend("wasm", { quiet: true });
const engine = await chooseEngine("tfjs", { backend, quiet: true });
const images = new Uint8Array(96 * 784).map((_, i) => (i * 37) % 251);

/** A small training: 96 images, 2 epochs in batches of 32, with dropout. */
function training(id: string, seed: number): Training {
  const data = { inputs: images, count: 96 };
  const job = {
    model: { kind: "autoencoder", hidden: 2, dropout: 0.2 },
    lr: 3e-3,
    l2: 0,
    seed,
  } as const;
  return { id, job: { name: id, ...job, train: data, validation: data }, settings: job };
}

const options = (folder: string) => ({ folder, epochs: 2, engine, batchSize: 32, label: "test" });

/** The files of `folder`, by name, with their bytes. */
async function files(folder: string): Promise<Record<string, Uint8Array>> {
  const names = [...Deno.readDirSync(folder)].map((entry) => entry.name).sort();
  return Object.fromEntries(
    await Promise.all(
      names.map(async (name) => [name, await Deno.readFile(`${folder}/${name}`)] as const),
    ),
  );
}

Deno.test("a training ends in the same state whatever population it trains in: what shards rest on", async () => {
  const trainings = [training("a", 1), training("b", 2), training("c", 3)];
  const together = await Deno.makeTempDir();
  await runTrainings(trainings, options(together));
  const apart = await Deno.makeTempDir();
  await runTrainings(trainings, { ...options(apart), owns: (i) => i === 1 });
  await runTrainings(trainings, { ...options(apart), owns: (i) => i !== 1 });
  const [a, b] = [await files(together), await files(apart)];
  assert.deepEqual(Object.keys(b), Object.keys(a));
  for (const name of Object.keys(a).filter((name) => name.endsWith(".state.safetensors"))) {
    assert.deepEqual(b[name], a[name], name);
  }
  await Deno.remove(together, { recursive: true });
  await Deno.remove(apart, { recursive: true });
});

Deno.test("a training a live process holds is skipped with a line; a merge lists it, a waiting one reads it once done", async () => {
  const folder = await Deno.makeTempDir();
  const trainings = [training("a", 1), training("b", 2)];
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const holder = { pid: sleeper.pid, host: Deno.hostname(), since: "2025-01-01T00:00:00Z" };
  await Deno.writeTextFile(`${folder}/b.lock`, JSON.stringify(holder));
  const lines: string[] = [];
  const log = console.error;
  console.error = (line: string) => lines.push(line);
  let records;
  try {
    records = await runTrainings(trainings, options(folder));
  } finally {
    console.error = log;
  }
  assert.deepEqual(records.map((record) => record?.id), ["a", undefined]);
  assert.ok(
    lines.includes(
      `skipping b: held by process ${holder.pid} on ${holder.host} since ${holder.since}`,
    ),
    lines.join("\n"),
  );
  await assert.rejects(
    () => gatherTrainings(trainings, { folder, epochs: 2, wait: false }),
    new RegExp(`^Error: 1 of 2 trainings \\(b\\) have no result at 2 epochs in ${folder}: `),
  );
  // Its holder gone, the next run trains it, and a merge that waits reads it as soon as it is there.
  sleeper.kill();
  await sleeper.status;
  const waiting = gatherTrainings(trainings, { folder, epochs: 2, wait: true });
  await runTrainings(trainings, options(folder));
  assert.deepEqual((await waiting).map((record) => record.id), ["a", "b"]);
  assert.deepEqual(Object.keys(await files(folder)), [
    "a.json",
    "a.state.safetensors",
    "b.json",
    "b.state.safetensors",
  ]);
  await Deno.remove(folder, { recursive: true });
});

Deno.test("a waiting run takes over the trainings whose holders die, on this machine or another", async () => {
  const folder = await Deno.makeTempDir();
  const trainings = [training("a", 1), training("b", 2), training("c", 3)];
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const since = "2025-01-01T00:00:00Z";
  // b held by a live process of this machine, c by one of another machine that touched it just now
  await Deno.writeTextFile(
    `${folder}/b.lock`,
    JSON.stringify({ pid: sleeper.pid, host: Deno.hostname(), since }),
  );
  await Deno.writeTextFile(`${folder}/c.lock`, JSON.stringify({ pid: 1, host: "node-b", since }));
  const lines: string[] = [];
  let heard = () => {};
  const log = console.error;
  console.error = (line: string) => {
    lines.push(line);
    heard();
  };
  /** Once the run has said `line`. */
  const hear = (line: string) =>
    new Promise<void>((resolve) => {
      heard = () => lines.includes(line) && resolve();
      heard();
    });
  let records;
  try {
    const running = runTrainings(trainings, { ...options(folder), wait: true });
    await hear("waiting for 2 of 3 trainings (b, c), trained by other processes");
    sleeper.kill(); // b's holder dies
    await sleeper.status;
    await hear("waiting for 1 of 3 trainings (c), trained by other processes");
    // c's holder stops touching its lock: untouched past the stale limit, it is taken over
    const stale = new Date(Date.now() - STALE_LOCK_MS - 1000);
    await Deno.utime(`${folder}/c.lock`, stale, stale);
    records = await running;
  } finally {
    console.error = log;
  }
  assert.deepEqual(records.map((record) => [record?.id, record?.history.length]), [
    ["a", 2],
    ["b", 2],
    ["c", 2],
  ]);
  assert.deepEqual(lines.filter((line) => line.startsWith("skipping")), [
    `skipping b: held by process ${sleeper.pid} on ${Deno.hostname()} since ${since}`,
    `skipping c: held by process 1 on node-b since ${since}`,
  ]);
  assert.deepEqual(Object.keys(await files(folder)), [
    "a.json",
    "a.state.safetensors",
    "b.json",
    "b.state.safetensors",
    "c.json",
    "c.state.safetensors",
  ]);
  await Deno.remove(folder, { recursive: true });
});

Deno.test("an earlier aelab's checkpoints are removed with a line, not resumed from", async () => {
  const trainings = [training("a", 1)];
  const clean = await Deno.makeTempDir();
  await runTrainings(trainings, options(clean));
  const folder = await Deno.makeTempDir();
  // A population's checkpoint as an earlier aelab named it, and a file of the user's.
  const earlier = ["checkpoint-0f3a.safetensors", "checkpoint-9bc1d2.safetensors"];
  for (const name of earlier) await Deno.writeFile(`${folder}/${name}`, new Uint8Array(64));
  await Deno.writeTextFile(`${folder}/checkpoint-notes.txt`, "mine\n");
  const lines: string[] = [];
  const error = console.error;
  console.error = (...data: unknown[]) => lines.push(data.join(" "));
  try {
    await runTrainings(trainings, options(folder));
  } finally {
    console.error = error;
  }
  assert.ok(
    lines.includes(
      `test: removed 2 checkpoints of an earlier aelab from ${folder} (${earlier.join(", ")}): ` +
        "each training keeps its own checkpoint now",
    ),
    lines.join("\n"),
  );
  // What a run in an empty folder keeps, trained the same, and the user's file.
  const [kept, fresh] = [await files(folder), await files(clean)];
  assert.deepEqual(Object.keys(kept), ["a.json", "a.state.safetensors", "checkpoint-notes.txt"]);
  assert.deepEqual(kept["a.state.safetensors"], fresh["a.state.safetensors"]);
  await Deno.remove(clean, { recursive: true });
  await Deno.remove(folder, { recursive: true });
});

Deno.test("a lock a killed run left on a done training is removed by the next run or merge; a live holder's stays", async () => {
  const folder = await Deno.makeTempDir();
  const trainings = [training("a", 1), training("b", 2), training("c", 3)];
  await runTrainings(trainings, options(folder));
  const trained = await files(folder);
  // a killed after its result was written; b's holder still runs; c's on another machine, just touched.
  const ended = new Deno.Command("true").spawn();
  await ended.status;
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const since = "2025-01-01T00:00:00Z";
  const holders = {
    a: { pid: ended.pid, host: Deno.hostname(), since },
    b: { pid: sleeper.pid, host: Deno.hostname(), since },
    c: { pid: 1, host: "node-b", since },
  };
  for (const [id, holder] of Object.entries(holders)) {
    await Deno.writeTextFile(`${folder}/${id}.lock`, JSON.stringify(holder) + "\n");
  }
  try {
    const records = await runTrainings(trainings, options(folder));
    assert.deepEqual(records.map((record) => record?.history.length), [2, 2, 2]);
    assert.deepEqual(
      Object.keys(await files(folder)),
      [...Object.keys(trained), "b.lock", "c.lock"].sort(),
    );
    // A shard that owns none of them leaves a's lock alone too: only what a run owns is its to clear.
    await Deno.writeTextFile(`${folder}/a.lock`, JSON.stringify(holders.a) + "\n");
    await runTrainings(trainings, { ...options(folder), owns: () => false });
    assert.ok((await files(folder))["a.lock"]);
    // The merge after the shards, which reads every result, removes it, and leaves the live holders'.
    await gatherTrainings(trainings, { folder, epochs: 2, wait: false });
    assert.deepEqual(
      Object.keys(await files(folder)),
      [...Object.keys(trained), "b.lock", "c.lock"].sort(),
    );
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
  await Deno.remove(folder, { recursive: true });
});
