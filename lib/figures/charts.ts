/**
 * Charts of experiment results, drawn with Vega-Lite: compiled to a Vega spec, rendered headless to SVG by
 * Vega, and rasterised to PNG by resvg (WebAssembly) with the Roboto font shipped by an npm package, so
 * that text renders the same on every machine. Every chart has a title, axis titles and a legend.
 *
 * @module
 */
import { CHART_FONT, initResvg, Resvg, RESVG_WASM_URL, vega, vegaLite } from "../deps.ts";
import { writeFileAtomic } from "../files/atomic.ts";

/** A rendered chart: the SVG, and a PNG of it at twice its size. */
export interface Chart {
  svg: string;
  png: Uint8Array;
}

/** An axis: its title (with units), whether its scale is logarithmic, whether it counts. */
export interface Axis {
  title: string;
  log?: boolean;
  /** Its values are whole numbers (epochs, counts): ticks fall on whole numbers only. */
  whole?: boolean;
}

/** A numeric variable drawn on an axis or as colour: one value per point, and how it is titled. */
export interface Variable extends Axis {
  values: ArrayLike<number>;
}

/** A named line of a {@link lineChart}: `y` against `x`, one value per point. */
export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** Size of the plotting area of one chart or panel, in SVG pixels. */
export interface ChartSize {
  width?: number;
  height?: number;
}

/** What {@link lineChart} draws. */
export interface LineChartOptions extends ChartSize {
  title: string;
  x: Axis;
  y: Axis;
  /** The title of the legend that names the series ("split", "model"). */
  legend: string;
  series: Series[];
  /** Whether to mark each point on the lines (default true). */
  points?: boolean;
}

/** What {@link scatterChart} draws. */
export interface ScatterChartOptions extends ChartSize {
  title: string;
  /** The horizontal variable; several give one panel each, side by side, sharing `y` and `color`. */
  x: Variable | Variable[];
  y: Variable;
  /** Colours the points: a continuous scale with a gradient legend, or one colour per category. */
  color?: Variable & { categorical?: boolean };
  /** Adds a black line fitted to all points, named in the legend (exponential: y = a·e^(b·x)). */
  trend?: "linear" | "exponential";
  /** Area of each point in square pixels (default 40; a few, like 8, for thousands of points). */
  pointSize?: number;
}

/** The PNG is drawn at this multiple of the SVG's size. */
export const PNG_ZOOM = 2;

const FONT_STACK = `${CHART_FONT.family}, Helvetica, Arial, sans-serif`;
const DEFAULT_WIDTH = 480;
const DEFAULT_HEIGHT = 300;

/**
 * A line per series against a shared x axis: loss per epoch for train / validation / test, or loss
 * against noise level or occlusion size with one line per model.
 *
 * @example
 * ```ts
 * import { lineChart, writeChart } from "./charts.ts";
 * const chart = await lineChart({
 *   title: "Reconstruction loss per epoch",
 *   x: { title: "epoch" },
 *   y: { title: "loss (MSE per pixel)", log: true },
 *   legend: "split",
 *   series: [
 *     { name: "train", x: [1, 2, 3], y: [0.05, 0.03, 0.02] },
 *     { name: "validation", x: [1, 2, 3], y: [0.06, 0.04, 0.03] },
 *   ],
 * });
 * await writeChart("results/loss", chart); // results/loss.svg, results/loss.png
 * ```
 */
export async function lineChart(options: LineChartOptions): Promise<Chart> {
  const { title, x, y, legend, series, points = true } = options;
  const rows = series.flatMap((line) => {
    checkLength(line.name, line.x, line.y.length);
    return Array.from(line.x, (value, i) => ({
      x: number(value, x),
      y: number(line.y[i], y),
      series: line.name,
    }));
  });
  return await renderVegaLite({
    title,
    data: { values: rows },
    ...size(options),
    mark: { type: "line", point: points },
    encoding: {
      x: { field: "x", ...position(x) },
      y: { field: "y", ...position(y) },
      color: {
        field: "series",
        type: "nominal",
        title: legend,
        sort: series.map((line) => line.name),
      },
    },
  });
}

/**
 * Points of `y` against one or more `x` variables, optionally coloured and with a fitted trend: final
 * loss against hidden size with an exponential fit, validation loss against learning rate and against
 * L2 weight coloured by dropout, 2-D latent codes coloured by digit.
 *
 * @example
 * ```ts
 * import { scatterChart } from "./charts.ts";
 * const chart = await scatterChart({
 *   title: "Final test loss against hidden size",
 *   x: { title: "hidden size d", values: [1, 2, 3, 4] },
 *   y: { title: "test loss (MSE per pixel)", values: [0.06, 0.04, 0.03, 0.02], log: true },
 *   trend: "exponential",
 * });
 * ```
 */
export async function scatterChart(options: ScatterChartOptions): Promise<Chart> {
  const { title, y, color, trend, pointSize = 40 } = options;
  const xs = Array.isArray(options.x) ? options.x : [options.x];
  for (const variable of [...xs, ...(color ? [color] : [])]) {
    checkLength(variable.title, variable.values, y.values.length);
  }
  const rows = Array.from(y.values, (value, i) => {
    const row: Record<string, number | null> = { y: number(value, y) };
    xs.forEach((x, panel) => row[`x${panel}`] = number(x.values[i], x));
    if (color) row.color = number(color.values[i], color);
    return row;
  });
  const colorEncoding = color && {
    color: {
      field: "color",
      type: color.categorical ? "nominal" : "quantitative",
      title: color.title,
      scale: color.categorical
        ? { scheme: "category10" }
        : { type: color.log ? "log" : "linear", scheme: "viridis" },
    },
  };
  const panels = xs.map((x, panel) => {
    const encoding = {
      x: { field: `x${panel}`, ...position(x) },
      y: { field: "y", ...position(y) },
    };
    const dots = {
      mark: { type: "circle", size: pointSize, opacity: color?.categorical ? 0.6 : 0.8 },
      encoding: { ...encoding, ...colorEncoding },
    };
    if (!trend) return { ...size(options), ...dots };
    const fit = {
      transform: [{
        regression: "y",
        on: `x${panel}`,
        method: trend === "exponential" ? "exp" : "linear",
      }],
      mark: { type: "line", color: "black", strokeWidth: 1.5 },
      encoding: {
        ...encoding,
        strokeDash: { datum: `${trend} fit`, type: "nominal", title: null },
      },
    };
    return { ...size(options), layer: [dots, fit] };
  });
  return await renderVegaLite({
    title,
    data: { values: rows },
    ...(panels.length === 1
      ? panels[0]
      : { hconcat: panels, resolve: { scale: { y: "shared", color: "shared" } } }),
  });
}

/** One square panel of a {@link heatmapChart}: `values[row][column]`. */
export interface HeatmapPanel {
  name: string;
  values: number[][];
}

/** What {@link heatmapChart} draws. */
export interface HeatmapOptions {
  title: string;
  /** Titles of the columns' axis (x), the rows' axis (y) and the colour legend. */
  x: string;
  y: string;
  color: string;
  /** The names of the rows and of the columns, in order (the same for both: a square matrix). */
  categories: string[];
  /** One panel per matrix, side by side, sharing the colour scale. */
  panels: HeatmapPanel[];
  /** How a cell's value is written in it; an empty string writes nothing (default: nothing written). */
  label?: (value: number) => string;
  /** Side of a cell in SVG pixels (default 22). */
  cell?: number;
}

/**
 * Square matrices as heat maps side by side, one panel each, their cells coloured by value on one shared
 * scale from white and optionally labelled: confusion matrices ("true digit → digit it came back as") of
 * several models. (The chart font has no arrows: titles say "to".)
 *
 * @example
 * ```ts
 * import { heatmapChart } from "./charts.ts";
 * const chart = await heatmapChart({
 *   title: "True class to class read",
 *   x: "read as",
 *   y: "true class",
 *   color: "share of the true class",
 *   categories: ["a", "b"],
 *   panels: [{ name: "model", values: [[0.9, 0.1], [0.2, 0.8]] }],
 *   label: (value) => value.toFixed(1),
 * });
 * console.log(chart.svg.includes("read as")); // true
 * ```
 */
export async function heatmapChart(options: HeatmapOptions): Promise<Chart> {
  const { categories, panels, label = () => "", cell = 22 } = options;
  const rows = panels.flatMap((panel) => {
    checkLength(panel.name, panel.values, categories.length);
    return panel.values.flatMap((row, r) => {
      checkLength(`${panel.name}, row ${categories[r]}`, row, categories.length);
      return row.map((value, c) => ({
        panel: panel.name,
        row: categories[r],
        column: categories[c],
        value: Number.isFinite(value) ? value : null,
        text: Number.isFinite(value) ? label(value) : "",
      }));
    });
  });
  const axis = (field: string, title: string) => ({
    field,
    type: "ordinal",
    sort: categories,
    title,
    axis: { labelAngle: 0 },
  });
  const encoding = { x: axis("column", options.x), y: axis("row", options.y) };
  return await renderVegaLite({
    title: options.title,
    data: { values: rows },
    facet: {
      column: {
        field: "panel",
        type: "nominal",
        sort: panels.map(({ name }) => name),
        title: null,
      },
    },
    spec: {
      width: cell * categories.length,
      height: cell * categories.length,
      encoding,
      layer: [
        {
          mark: "rect",
          encoding: {
            color: {
              field: "value",
              type: "quantitative",
              title: options.color,
              scale: {
                type: "sqrt",
                range: ["white", "#08519c"],
                interpolate: "rgb",
                domainMin: 0,
              },
            },
          },
        },
        {
          mark: { type: "text", fontSize: 8 },
          encoding: {
            text: { field: "text" },
            color: { condition: { test: "datum.value > 0.5", value: "white" }, value: "black" },
          },
        },
      ],
    },
    resolve: { scale: { color: "shared" } },
  });
}

let fontsLoaded: Promise<Uint8Array[]> | undefined;

/** Initialises resvg's WebAssembly and reads the font files, once per process. */
function loadRasteriser(): Promise<Uint8Array[]> {
  fontsLoaded ??= (async () => {
    await initResvg(await Deno.readFile(RESVG_WASM_URL));
    return await Promise.all(CHART_FONT.urls.map((url) => Deno.readFile(url)));
  })();
  return fontsLoaded;
}

/**
 * Renders any Vega-Lite spec (its data inline) to SVG and PNG, in the house style: the Roboto font, a
 * white background, no ARIA label per point. A warning or error of Vega-Lite or Vega is thrown, not
 * drawn as a broken chart. Use it for a chart that {@link lineChart} and {@link scatterChart} do not
 * cover.
 *
 * @example
 * ```ts
 * import { renderVegaLite } from "./charts.ts";
 * const chart = await renderVegaLite({
 *   title: "Trials per status",
 *   data: { values: [{ status: "done", trials: 42 }, { status: "failed", trials: 3 }] },
 *   mark: "bar",
 *   encoding: {
 *     x: { field: "status", type: "nominal", title: "status" },
 *     y: { field: "trials", type: "quantitative", title: "trials" },
 *   },
 * });
 * ```
 */
export async function renderVegaLite(spec: Record<string, unknown>): Promise<Chart> {
  const styled = {
    ...spec,
    config: {
      font: FONT_STACK,
      background: "white",
      mark: { aria: false }, // no label per point: an SVG of thousands of points stays small
      legend: { labelLimit: 0 }, // a series' whole name ("test, the study's parameters"), never cut
      ...(spec.config as object | undefined),
    },
  } as vegaLite.TopLevelSpec;
  const problems: string[] = [];
  const logger = vega.logger(vega.Warn, undefined, (_method, level, args) => {
    problems.push(
      `${level} ${args.map((arg) => arg instanceof Error ? arg.message : arg).join(" ")}`,
    );
  });
  const compiled = vegaLite.compile(styled, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  if (problems.length > 0) {
    throw new Error(`chart "${spec.title}" did not render cleanly:\n${problems.join("\n")}`);
  }
  const fonts = await loadRasteriser();
  const resvg = new Resvg(svg, {
    font: { fontBuffers: fonts, defaultFontFamily: CHART_FONT.family, loadSystemFonts: false },
    fitTo: { mode: "zoom", value: PNG_ZOOM },
  });
  try {
    const image = resvg.render();
    const png = image.asPng();
    image.free();
    return { svg, png };
  } finally {
    resvg.free();
  }
}

/**
 * Writes `chart` as `base.svg` and `base.png`, each atomically.
 *
 * @example
 * ```ts
 * import { lineChart, writeChart } from "./charts.ts";
 * const chart = await lineChart({
 *   title: "Loss against noise level",
 *   x: { title: "noise std σ (pixel intensity)" },
 *   y: { title: "test loss (MSE per pixel)" },
 *   legend: "model",
 *   series: [{ name: "denoising", x: [0, 0.2, 0.4], y: [0.01, 0.015, 0.02] }],
 * });
 * await writeChart("results/noise", chart);
 * ```
 */
export async function writeChart(base: string, chart: Chart): Promise<void> {
  await Promise.all([
    writeFileAtomic(`${base}.svg`, chart.svg),
    writeFileAtomic(`${base}.png`, chart.png),
  ]);
}

function size(options: ChartSize): { width: number; height: number } {
  return { width: options.width ?? DEFAULT_WIDTH, height: options.height ?? DEFAULT_HEIGHT };
}

/**
 * The encoding of a variable on an x or y axis, padded so that points clear the frame, and ending there
 * rather than at the next round value.
 */
function position(axis: Axis) {
  return {
    type: "quantitative",
    title: axis.title,
    scale: axis.log
      ? { type: "log", nice: false, padding: 12 }
      : { zero: false, nice: false, padding: 12 },
    ...(axis.whole ? { axis: { tickMinStep: 1, format: "d" } } : {}),
  };
}

/** A value for the chart's data: non-finite values become `null`, which Vega-Lite leaves out. */
function number(value: number, axis: Axis): number | null {
  if (!Number.isFinite(value)) return null;
  if (axis.log && value <= 0) {
    throw new RangeError(`${axis.title}: ${value} cannot be drawn on a log scale`);
  }
  return value;
}

function checkLength(name: string, values: ArrayLike<unknown>, expected: number): void {
  if (values.length !== expected) {
    throw new RangeError(`${name}: ${values.length} values, expected ${expected}`);
  }
}
