import assert from "node:assert/strict";
import { join } from "node:path";
import { UsageError } from "../lib/cli.ts";
import { setupBackend } from "../lib/tfjs.ts";
import {
  type CheckpointOptions,
  checkSameSettings,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  settingsDifference,
} from "../lib/train/checkpoint.ts";
import { fit } from "../lib/train/fit.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { datasetOf, type EpochRecord, type FitResult } from "../lib/train/trainer.ts";
import {
  assertUsageError,
  autoencoderJob,
  inTempDir,
  testDigits,
  trainDigits,
  trainerStates as states,
} from "./_fixtures.ts";

const { backend } = await setupBackend("wasm", { quiet: true });
const train = datasetOf(await trainDigits(96));
const validation = datasetOf(await testDigits(48));
/** Two models that differ in every setting, with dropout, whose masks a resume must draw again. */
const jobs = [
  autoencoderJob({ train, validation, hidden: 3, dropout: 0.2, lr: 3e-3, l2: 1e-4, seed: 5 }),
  autoencoderJob({ train, validation, hidden: 2, dropout: 0.1, seed: 8 }),
];
const SETTINGS = { lr: [3e-3, 1e-3], data: { train: 96, folds: [1, 2] }, batch: 32 };

function newTrainer(): TfjsTrainer {
  return new TfjsTrainer(jobs, { batchSize: 32, backend });
}

/** A history without its timings, which no two runs share. */
function losses(results: FitResult[]) {
  return results.map(({ diverged, history }) => ({
    diverged,
    history: history.map(({ seconds: _, samplesPerSecond: __, ...record }: EpochRecord) => record),
  }));
}

Deno.test("settingsDifference names the first differing setting by its dotted path, saved → now", () => {
  const saved = {
    batch: 64,
    model: { hidden: 4, dropout: 0.1 },
    folds: [{ seed: 1 }, { seed: 2 }],
  };
  const same = structuredClone(saved);
  assert.equal(settingsDifference(saved, same), undefined);
  assert.equal(settingsDifference(saved, { ...same, batch: 128 }), "batch: 64 → 128");
  assert.equal(
    settingsDifference(saved, { ...same, model: { hidden: 8, dropout: 0.2 } }),
    "model.dropout: 0.1 → 0.2",
  );
  assert.equal(
    settingsDifference(saved, { ...same, folds: [{ seed: 1 }, { seed: 3 }] }),
    "folds[1].seed: 2 → 3",
  );
  assert.equal(
    settingsDifference(saved, { ...same, folds: [{ seed: 1 }] }),
    "folds: 2 entries → 1",
  );
  // a setting added or removed is "none" on the side that lacks it
  assert.equal(settingsDifference(saved, { ...same, lr: 1e-3 }), "lr: none → 0.001");
  const { batch: _, ...withoutBatch } = same;
  assert.equal(settingsDifference(saved, withoutBatch), "batch: 64 → none");
  assert.equal(settingsDifference({ name: "a" }, { name: "b" }), 'name: "a" → "b"');
  assert.equal(settingsDifference(1, 2), "settings: 1 → 2");
  assert.equal(settingsDifference({ a: [1] }, { a: { 0: 1 } }), 'a: [1] → {"0":1}');
});

Deno.test("checkSameSettings passes equal settings and stops others with the setting and --fresh", async () => {
  checkSameSettings(SETTINGS, structuredClone(SETTINGS), "the checkpoint");
  await assertUsageError(
    () => checkSameSettings(SETTINGS, { ...SETTINGS, batch: 64 }, "the checkpoint x.safetensors"),
    /^the checkpoint x\.safetensors was made with other settings \(batch: 32 → 64\)/,
    /pass --fresh to start over/,
  );
});

Deno.test("a training's checkpoint restores its state and history exactly, and only by the resume rule", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "d-003.checkpoint.safetensors");
    const options: CheckpointOptions = { path, settings: SETTINGS };
    const trainer = newTrainer();
    const [result] = await fit(trainer, { epochs: 2 });
    const [state] = await states(trainer);
    assert.deepEqual([state.steps, state.epochs], [6, 2]);
    await saveTrainingCheckpoint(path, SETTINGS, { state, result, epochs: 2 });
    await trainer.dispose();

    // no checkpoint, or --fresh: nothing to resume
    assert.equal(
      await loadTrainingCheckpoint({ ...options, path: join(dir, "none") }, 2),
      undefined,
    );
    assert.equal(await loadTrainingCheckpoint({ ...options, fresh: true }, 2), undefined);
    // other settings, or more epochs than asked for: refused
    await assertUsageError(
      loadTrainingCheckpoint({ path, settings: { ...SETTINGS, lr: [3e-3, 2e-3] } }, 2),
      /other settings \(lr\[1\]: 0\.001 → 0\.002\)/,
      /--fresh/,
    );
    await assertUsageError(
      loadTrainingCheckpoint(options, 1),
      /has trained 2 epochs, past the 1 asked for/,
      /--fresh/,
    );

    // the same settings: the weights, moments, steps and epochs, and the history so far; set into a
    // fresh trainer, it trains on as the uninterrupted one does
    const saved = await loadTrainingCheckpoint(options, 3);
    assert.deepEqual(saved, { state, result, epochs: 2 });
    const resumed = newTrainer();
    await resumed.setState(0, saved!.state);
    const [onward] = await fit(resumed, { epochs: 3, from: [saved!.result, saved!.result] });
    const whole = newTrainer();
    const [expected] = await fit(whole, { epochs: 3 });
    assert.deepEqual(losses([onward]), losses([expected]));
    assert.deepEqual((await states(resumed))[0], (await states(whole))[0]);

    // a checkpoint cut short (a full disk, a crash mid-copy) says that --fresh starts over
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
    await assert.rejects(
      () => loadTrainingCheckpoint(options, 3),
      (error: Error) => {
        assert.ok(!(error instanceof UsageError));
        assert.match(error.message, /checkpoint\.safetensors is unreadable \(.+\); pass --fresh/);
        return true;
      },
    );
    await Promise.all([resumed, whole].map((t) => t.dispose()));
  });
});
