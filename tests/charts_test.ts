import assert from "node:assert/strict";
import {
  type Chart,
  heatmapChart,
  lineChart,
  PNG_ZOOM,
  renderVegaLite,
  scatterChart,
  writeChart,
} from "../lib/figures/charts.ts";
import { decodePng } from "../lib/figures/png.ts";
import { createRng, normal } from "../lib/random.ts";

/** Decodes the chart's PNG, checks it is the SVG's size times {@link PNG_ZOOM}, and returns it. */
function checkedPng(chart: Chart): { width: number; height: number; rgba: Uint8Array } {
  const size = chart.svg.match(/^<svg[^>]* width="(\d+)" height="(\d+)"/);
  assert.ok(size, "the SVG states its size");
  const { width, height, frames } = decodePng(chart.png);
  assert.deepEqual([width, height], [PNG_ZOOM * Number(size[1]), PNG_ZOOM * Number(size[2])]);
  return { width, height, rgba: frames[0] };
}

/** The share of pixels in rows [top, bottom) that are not the white background. */
function inkShare(png: { width: number; rgba: Uint8Array }, top: number, bottom: number): number {
  let ink = 0;
  for (let i = 4 * top * png.width; i < 4 * bottom * png.width; i += 4) {
    if (png.rgba[i] + png.rgba[i + 1] + png.rgba[i + 2] < 3 * 250) ink++;
  }
  return ink / ((bottom - top) * png.width);
}

/** Whether some pixel is clearly coloured, not gray. */
function hasColour(rgba: Uint8Array): boolean {
  for (let i = 0; i < rgba.length; i += 4) {
    if (
      Math.max(rgba[i], rgba[i + 1], rgba[i + 2]) - Math.min(rgba[i], rgba[i + 1], rgba[i + 2]) > 60
    ) {
      return true;
    }
  }
  return false;
}

const epochs = [1, 2, 3, 4, 5, 6];

Deno.test("a loss chart draws its title as text, its axis titles, its legend and coloured lines", async () => {
  const chart = await lineChart({
    title: "Reconstruction loss per epoch",
    x: { title: "epoch" },
    y: { title: "loss (MSE per pixel)", log: true },
    legend: "split",
    series: [
      { name: "train", x: epochs, y: epochs.map((e) => 0.05 / e) },
      { name: "validation", x: epochs, y: epochs.map((e) => 0.06 / e) },
      { name: "test", x: epochs, y: epochs.map((e) => (e === 3 ? NaN : 0.065 / e)) },
      { name: "test, the study's parameters", x: epochs, y: epochs.map((e) => 0.07 / e) },
    ],
  });
  for (const text of ["Reconstruction loss per epoch", "epoch", "loss (MSE per pixel)", "split"]) {
    assert.ok(chart.svg.includes(`>${text}</text>`), `the SVG has the text "${text}"`);
  }
  // Each series by its whole name, however long.
  for (const name of ["train", "validation", "test", "test, the study's parameters"]) {
    assert.ok(chart.svg.includes(`>${name}</text>`), name);
  }
  const png = checkedPng(chart);
  // The title is the only thing in the top band: ink there means the font was loaded and drawn.
  assert.ok(inkShare(png, 0, 20 * PNG_ZOOM) > 0.01, "the title is drawn");
  assert.ok(inkShare(png, 0, png.height) > 0.05, "the chart is drawn");
  assert.ok(hasColour(png.rgba), "the series are coloured");
});

Deno.test("the hidden-size sweep: points on a log scale with a fitted exponential", async () => {
  const d = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const chart = await scatterChart({
    title: "Final test loss against hidden size",
    x: { title: "hidden size d", values: d },
    y: {
      title: "test loss (MSE per pixel)",
      values: d.map((k) => 0.07 * Math.exp(-0.2 * k)),
      log: true,
    },
    trend: "exponential",
  });
  for (const text of ["hidden size d", "test loss (MSE per pixel)", "exponential fit"]) {
    assert.ok(chart.svg.includes(`>${text}</text>`), `the SVG has the text "${text}"`);
  }
  checkedPng(chart);
});

Deno.test("search results: two log-x panels sharing y and a continuous colour legend", async () => {
  const rng = createRng(3);
  const lr = Array.from({ length: 40 }, () => 10 ** (-4 + 3 * rng()));
  const chart = await scatterChart({
    title: "Validation loss over the search",
    x: [
      { title: "learning rate", values: lr, log: true },
      { title: "L2 weight", values: lr.map(() => 10 ** (-6 + 4 * rng())), log: true },
    ],
    y: { title: "validation loss (MSE)", values: lr.map(() => 0.02 + 0.01 * rng()) },
    color: { title: "dropout rate", values: lr.map(() => 0.5 * rng()) },
    width: 240,
    height: 200,
  });
  for (const text of ["learning rate", "L2 weight", "validation loss (MSE)", "dropout rate"]) {
    assert.ok(chart.svg.includes(`>${text}</text>`), `the SVG has the text "${text}"`);
  }
  assert.ok(chart.svg.includes("<linearGradient"), "the colour legend is a gradient");
  const png = checkedPng(chart);
  assert.ok(png.width > 2 * 2 * 240 * 0.9, "the panels stand side by side");
});

Deno.test("latent codes: thousands of points coloured by digit, with a legend 0–9", async () => {
  const rng = createRng(7);
  const labels = Array.from({ length: 3000 }, (_, i) => i % 10);
  const chart = await scatterChart({
    title: "Latent codes of the test digits",
    x: { title: "z₁", values: labels.map((l) => l + normal(rng)) },
    y: { title: "z₂", values: labels.map((l) => -l + normal(rng)) },
    color: { title: "digit", values: labels, categorical: true },
    pointSize: 8,
  });
  for (let digit = 0; digit < 10; digit++) assert.ok(chart.svg.includes(`>${digit}</text>`));
  const points = chart.svg.split('class="mark-symbol role-mark marks"')[1].split("</g>")[0];
  assert.equal(points.match(/<path /g)?.length, 3000);
  assert.ok(hasColour(checkedPng(chart).rgba));
});

Deno.test("writeChart writes the SVG and the PNG beside each other", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const chart = await renderVegaLite({
      title: "Trials per status",
      data: { values: [{ status: "done", trials: 42 }, { status: "failed", trials: 3 }] },
      mark: "bar",
      encoding: {
        x: { field: "status", type: "nominal", title: "status" },
        y: { field: "trials", type: "quantitative", title: "trials" },
      },
    });
    await writeChart(`${folder}/trials`, chart);
    assert.equal(await Deno.readTextFile(`${folder}/trials.svg`), chart.svg);
    assert.deepEqual(await Deno.readFile(`${folder}/trials.png`), chart.png);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(folder))).length, 2);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("what cannot be drawn is refused with the name of the variable", async () => {
  await assert.rejects(
    scatterChart({
      title: "t",
      x: { title: "L2 weight", values: [0, 1e-4], log: true },
      y: { title: "loss", values: [1, 2] },
    }),
    /L2 weight: 0 cannot be drawn on a log scale/,
  );
  await assert.rejects(
    lineChart({
      title: "t",
      x: { title: "epoch" },
      y: { title: "loss" },
      legend: "split",
      series: [{ name: "train", x: [1, 2, 3], y: [1, 2] }],
    }),
    /train: 3 values, expected 2/,
  );
  await assert.rejects(
    renderVegaLite({ title: "t", data: { values: [] }, mark: "point", encoding: { x: 1 } }),
    /did not render cleanly/,
  );
});

Deno.test("a heat map draws a panel per matrix, each cell labelled, and refuses a matrix that is not square", async () => {
  const identity = [[0.9, 0.1], [0, 1]];
  const chart = await heatmapChart({
    title: "True class to class read",
    x: "read as",
    y: "true class",
    color: "share of row",
    categories: ["a", "b"],
    panels: [{ name: "first", values: identity }, { name: "second", values: [[1, 0], [0.5, 0.5]] }],
    label: (value) => value > 0 ? value.toFixed(1) : "",
  });
  for (const text of ["first", "second", "read as", "true class", "share of row", "0.9", "0.5"]) {
    assert.ok(chart.svg.includes(text), text);
  }
  assert.ok(hasColour(checkedPng(chart).rgba));
  await assert.rejects(
    heatmapChart({
      title: "t",
      x: "x",
      y: "y",
      color: "c",
      categories: ["a", "b"],
      panels: [{ name: "narrow", values: [[1], [0]] }],
    }),
    /narrow, row a: 1 values, expected 2/,
  );
});

Deno.test("an axis of whole numbers is ticked at whole numbers, and no axis reaches past its data to a rounder value", async () => {
  /** The tick labels of the chart's SVG, as text. */
  const labels = (chart: Chart) =>
    [...chart.svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
  const values = [0, 1, 3];
  const y = { title: "largest step", values: [0.1, 0.2, 0.3] };
  const counted = await scatterChart({
    title: "t",
    x: { title: "changes", values, whole: true },
    y,
  });
  const plain = await scatterChart({ title: "t", x: { title: "changes", values }, y });
  const ticks = (chart: Chart) => labels(chart).filter((label) => /^-?[\d.]+$/.test(label));
  assert.ok(ticks(plain).includes("0.2"), `${ticks(plain)}`);
  // whole ticks only, and the axis ends a little past the data, not at the next round value
  assert.deepEqual(ticks(counted).filter((tick) => !tick.includes(".")), ["0", "1", "2", "3"]);
  assert.ok(
    ticks(plain).every((tick) => Number(tick) >= 0 && Number(tick) <= 3),
    `${ticks(plain)}`,
  );
});
