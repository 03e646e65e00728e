import assert from "node:assert/strict";
import { join } from "node:path";
import { STUDY } from "../lib/paper.ts";
import { generateParams } from "../lib/search_space.ts";
import { lastLine, runOnce, runScript } from "./_scripts.ts";

/** Two search variants of 3 trials up to 3 epochs on 500 images, their picks trained 2 epochs. */
const TINY = [
  "--seeds=0",
  "--variants=halving,random",
  "--trials=3",
  "--epochs=3",
  "--limit=500",
  "--test-limit=200",
  "--final-epochs=2",
];

interface Row {
  seed: number;
  variant: string;
  pick: { dropout: number; lr: number; l2: number };
  searchLoss: number;
  testLoss: number | null;
  ratio: number | null;
}

const tinyBench = runOnce("bench/schedulers.ts", TINY, "schedulers");

/** The validation loss of each trial of a search after `epochs`, from its trainings' records. */
async function trialLosses(folder: string, epochs: number): Promise<(number | undefined)[]> {
  return await Promise.all([1, 2, 3].map(async (trial) => {
    const path = join(folder, "trainings", `trial-00${trial}.json`);
    const record = JSON.parse(await Deno.readTextFile(path));
    return record.history[epochs - 1]?.validationLoss;
  }));
}

Deno.test("the schedulers bench takes each variant's pick as search does and sets its long run against the study's parameters", async () => {
  const { out, run } = await tinyBench();
  assert.equal(run.code, 0, run.stderr);
  const { rows, studys, variants } = JSON.parse(
    await Deno.readTextFile(join(out, "schedulers.json")),
  ) as {
    rows: Row[];
    studys: Record<string, number>;
    variants: { name: string; rungs: unknown }[];
  };
  assert.deepEqual(variants.map(({ name, rungs }) => [name, rungs]), [
    ["halving", [{ candidates: 3, epochs: 1 }, { candidates: 1, epochs: 3 }]],
    ["random", [{ candidates: 3, epochs: 3 }]],
  ]);
  assert.deepEqual(rows.map(({ seed, variant }) => [seed, variant]), [[0, "halving"], [
    0,
    "random",
  ]]);
  const drawn = generateParams(3, 0, 4);
  const [halving, random] = rows;
  // Halving's pick: the only trial of its last rung, scored at 3 epochs.
  const halvingLosses = await trialLosses(join(out, "seed-0", "halving"), 3);
  const survivor = halvingLosses.findIndex((loss) => loss !== undefined);
  assert.equal(halvingLosses.filter((loss) => loss !== undefined).length, 1);
  assert.deepEqual({ ...halving.pick, hidden: 4 }, drawn[survivor]);
  assert.equal(halving.searchLoss, halvingLosses[survivor]);
  // Random's pick: the trial of the lowest validation loss after 3 epochs.
  const randomLosses = (await trialLosses(join(out, "seed-0", "random"), 3)) as number[];
  const lowest = randomLosses.indexOf(Math.min(...randomLosses));
  assert.deepEqual({ ...random.pick, hidden: 4 }, drawn[lowest]);
  assert.equal(random.searchLoss, randomLosses[lowest]);
  // Both trials trained alike in either search: the same parameters, the same loss at 3 epochs.
  assert.equal(randomLosses[survivor], halvingLosses[survivor]);
  // The long run: each pick's test loss against the study's parameters' of its seed.
  const study = studys["0"];
  assert.ok(study > 0 && study < 0.4, `the study's parameters' test loss ${study}`);
  for (const row of rows) {
    assert.ok(row.testLoss! > 0 && row.testLoss! < 0.4, `${row.variant}: ${row.testLoss}`);
    assert.equal(row.ratio, row.testLoss! / study);
  }
  // Each search's pick was kept as it came, before the long run.
  const { searched } = JSON.parse(await Deno.readTextFile(join(out, "searches.json")));
  assert.deepEqual(searched.map((search: Row) => search.pick), rows.map((row) => row.pick));
  // The same pick in one population trains to the same loss.
  if (survivor === lowest) assert.equal(halving.testLoss, random.testLoss);
  // The table: a row per pick and the study's parameters, then the summary per variant.
  const markdown = await Deno.readTextFile(join(out, "schedulers.md"));
  assert.equal(run.stdout.trim(), markdown.trim());
  for (const row of rows) {
    assert.ok(
      markdown.includes(
        `| 0 | ${row.variant} | ${row.pick.lr.toExponential(2)} | ${row.pick.dropout.toFixed(4)} |`,
      ),
      row.variant,
    );
    assert.ok(markdown.includes(`| ${row.testLoss!.toFixed(5)} | ${row.ratio!.toFixed(3)}× |`));
  }
  assert.ok(
    markdown.includes(
      `| 0 | the study's | ${STUDY.bestParams.lr.toExponential(2)} | 0.1508 | 4.65e-6 | — | — | ` +
        `${study.toFixed(5)} | 1.000× |`,
    ),
  );
  assert.match(markdown, /\| halving \| 3@1 → 1@3 \| 5 \| [\d.]+ \| [\d.]+× \| [01] of 1 \|/);
  assert.match(markdown, /\| random \| 3@3 \| 9 \| [\d.]+ \| [\d.]+× \| [01] of 1 \|/);
});

Deno.test("the schedulers bench run again takes the searches it kept and trains their picks alike", async () => {
  const { out, run } = await tinyBench();
  assert.equal(run.code, 0, run.stderr);
  const rows = async () =>
    JSON.parse(await Deno.readTextFile(join(out, "schedulers.json"))).rows as Row[];
  const first = await rows();
  const again = await runScript("bench/schedulers.ts", [...TINY, `--out=${out}`]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /seed 0, halving: kept from .*searches\.json/);
  assert.match(again.stderr, /seed 0, random: kept from .*searches\.json/);
  assert.doesNotMatch(again.stderr, /searching/);
  assert.deepEqual(await rows(), first);
});

Deno.test("the schedulers bench refuses an unknown variant in one line, exit code 2", async () => {
  const run = await runScript("bench/schedulers.ts", ["--variants=halving,hyperband"]);
  assert.equal(run.code, 2);
  assert.equal(
    lastLine(run.stderr),
    'error: --variants: unknown variant "hyperband"; use halving[-first<N>][-top<N>] or random[-<N>]',
  );
});
