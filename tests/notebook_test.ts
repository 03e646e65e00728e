/**
 * `lib/notebook.ts` and `notebooks/study.ipynb`: training in one call, the one line of a cell run too
 * early, a notebook whose cells ask for the cells they need by their titles — and, where
 * `AELAB_EXECUTED_NOTEBOOK` names the notebook executed by `notebooks/check.sh`, its figures and tables.
 */
import assert from "node:assert/strict";
import { decodeGif } from "../lib/figures/gif.ts";
import { decodePng } from "../lib/figures/png.ts";
import { CellOrderError, ranFirst, trainAutoencoders } from "../lib/notebook.ts";
import { meanLoss } from "../lib/predict.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { datasetOf } from "../lib/train/trainer.ts";

/** A cell of a notebook, as nbformat 4 stores it. */
interface Cell {
  cell_type: "markdown" | "code";
  source: string[];
  execution_count?: number | null;
  outputs?: Output[];
}

/** An output of a code cell. */
interface Output {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  name?: string;
  text?: string[];
  data?: Record<string, string | string[]>;
}

async function cellsOf(path: string): Promise<Cell[]> {
  return JSON.parse(await Deno.readTextFile(path)).cells;
}

const text = (lines: string[] | string) => Array.isArray(lines) ? lines.join("") : lines;

Deno.test("trainAutoencoders trains a population in one call and hands back each model and its losses", async () => {
  const { train, test } = await loadMnist();
  const [trainSet, testSet] = [takeDigits(train, 300), takeDigits(test, 100)].map(datasetOf);
  const trained = await trainAutoencoders(
    [2, 3].map((hidden) => ({ hidden, train: trainSet, test: testSet })),
    { epochs: 2, lr: 0.003, dropout: 0, batchSize: 64 },
  );
  assert.deepEqual(trained.map(({ model }) => model.config), [
    { hidden: 2, dropout: 0 },
    { hidden: 3, dropout: 0 },
  ]);
  for (const { model, history } of trained) {
    assert.deepEqual(history.map((record) => record.epoch), [1, 2]);
    // the model handed back is the one whose test loss the last epoch measured
    const loss = await meanLoss(model, testSet.inputs);
    assert.ok(Math.abs(loss - history[1].testLoss!) < 1e-5, `${loss} vs ${history[1].testLoss}`);
    model.dispose();
  }
});

Deno.test("a cell run before the one it needs says which to run, in one line", () => {
  assert.equal(ranFirst(4, "Train the d = 4 model"), 4);
  assert.throws(() => ranFirst(undefined, "Train the d = 4 model"), (error) => {
    assert.ok(error instanceof CellOrderError);
    assert.equal(error.message, "run the cell 'Train the d = 4 model' first");
    assert.equal(error.stack, error.message, "no stack trace under the cell");
    return true;
  });
});

Deno.test("the notebook is saved without outputs, and each cell asks for an earlier cell by its title", async () => {
  const cells = await cellsOf("notebooks/study.ipynb");
  const headings: string[] = [];
  for (const cell of cells) {
    const source = text(cell.source);
    if (cell.cell_type === "markdown") {
      headings.push(...[...source.matchAll(/^## (.+)$/gm)].map(([, title]) => title));
      continue;
    }
    assert.deepEqual(cell.outputs, [], source);
    assert.equal(cell.execution_count, null);
    for (const [, title] of source.matchAll(/ranFirst\(\w+, "([^"]+)"\)/g)) {
      assert.ok(headings.slice(0, -1).includes(title), `no cell '${title}' before:\n${source}`);
    }
    for (const [, path] of source.matchAll(/from "([^"]+)"/g)) assert.equal(path, "../mod.ts");
  }
  assert.ok(headings.includes("Train the d = 4 model"));
});

Deno.test({
  name: "the executed notebook shows its figures, tables and progress, and no cell failed",
  ignore: Deno.env.get("AELAB_EXECUTED_NOTEBOOK") === undefined,
  async fn() {
    const cells = (await cellsOf(Deno.env.get("AELAB_EXECUTED_NOTEBOOK")!))
      .filter((cell) => cell.cell_type === "code");
    const outputs = cells.flatMap((cell) => cell.outputs ?? []);
    assert.ok(cells.every((cell) => cell.execution_count !== null), "every cell ran");
    assert.deepEqual(outputs.filter((output) => output.output_type === "error"), []);
    const shown = (type: string) =>
      outputs.flatMap((output) => output.data?.[type] === undefined ? [] : [output.data[type]]);
    const bytes = (data: string | string[]) =>
      Uint8Array.from(atob(text(data).replace(/\s/g, "")), (c) => c.charCodeAt(0));
    // digits, reconstructions, the sweep's fit, the denoised digits, the morph's frames
    const pngs = shown("image/png").map((data) => decodePng(bytes(data)));
    assert.equal(pngs.length, 5);
    assert.ok(pngs.every(({ width, height }) => width > 100 && height > 50));
    assert.match(text(shown("image/svg+xml")[0]), /^<svg[^]*Loss per epoch, d = 4[^]*<\/svg>/);
    const [morph] = shown("image/gif").map((data) => decodeGif(bytes(data)));
    assert.equal(morph.frames.length, 12);
    const tables = shown("text/markdown").map(text);
    assert.match(tables[0], /^\| d \| test loss \|\n\| --- \| --- \|\n\| 1 \| 0\.\d{5} \|/);
    assert.match(tables[1], /^\| noisy test digits \| loss against the clean \|/);
    const stderr = outputs.filter((output) => output.name === "stderr").map((o) => text(o.text!));
    assert.ok(stderr.some((lines) => /^train epoch 1\/1 █+ /m.test(lines)), "progress per epoch");
    assert.ok(stderr.some((lines) => /^sweep epoch 1\/1 █+ .* 3 models/m.test(lines)));
  },
});
