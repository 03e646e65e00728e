/// <reference lib="dom" />
/**
 * Takes the screenshots of the explorer page that docs/explorer.md shows — at desktop width (the whole
 * page) and at phone width (the first screen) — from the models of a results folder, after a few moves a
 * reader would make: a digit selected on the map, a digit drawn, a morph stopped halfway.
 *
 *     deno task study && deno run -A docs/screenshots.ts --results results
 *
 * @module
 */
import { join } from "node:path";
import { parseFlags, runMain } from "../lib/cli.ts";
import { type Page, watchedPage, withBrowser } from "../tests/_browser.ts";
import { startExplorer } from "../tests/_explore.ts";
import type {} from "../web/main.ts"; // globalThis.explorer

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "takes the explorer page's screenshots in docs/ from the models of a results folder";

await runMain(async () => {
  const flags = parseFlags(Deno.args, "screenshots", SUMMARY, {
    results: { type: "string", default: "results", help: "results folder of a study" },
    out: { type: "string", default: "docs", help: "folder of the screenshots" },
  });
  await Deno.mkdir(flags.out, { recursive: true });
  await using server = await startExplorer([`--results=${flags.results}`, "--port=0"]);
  await withBrowser(async (browser) => {
    await using watched = await watchedPage(browser);
    const { page, problems } = watched;
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(server.url);
    await settled(page);
    await pose(page);
    await page.screenshot({ path: join(flags.out, "explore-desktop.png"), fullPage: true });
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    await settled(page);
    await pose(page);
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: join(flags.out, "explore-phone.png") });
    if (problems.length > 0) throw new Error(`the page had problems: ${problems.join("; ")}`);
  });
  console.error(`wrote ${flags.out}/explore-desktop.png and ${flags.out}/explore-phone.png`);
});

async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state === "ready", { timeout: 60_000 });
  await page.evaluate(() => globalThis.explorer?.idle());
}

/** A digit selected on the map, a 3 drawn, the morph from 3 to 9 stopped halfway. */
async function pose(page: Page): Promise<void> {
  await page.focus("#map");
  for (const key of ["ArrowLeft", "ArrowLeft", "ArrowUp", "Enter"] as const) {
    await page.keyboard.press(key);
  }
  await page.click("#selected-to-sliders");
  const pad = (await page.$("#pad"))!;
  await pad.scrollIntoView();
  const box = (await pad.boundingBox())!;
  const stroke = [[0.3, 0.2], [0.6, 0.15], [0.7, 0.3], [0.45, 0.48], [0.72, 0.65], [0.6, 0.85], [
    0.28,
    0.8,
  ]];
  await page.mouse.move(box.x + stroke[0][0] * box.width, box.y + stroke[0][1] * box.height);
  await page.mouse.down();
  for (const [x, y] of stroke.slice(1)) {
    await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 6 });
  }
  await page.mouse.up();
  await page.select("#morph-from", "centroid:3");
  await page.select("#morph-to", "centroid:9");
  await page.click("#morph-play");
  await page.waitForFunction(() => document.getElementById("morph-frame")!.dataset.frame === "6");
  await page.click("#morph-play");
  await page.evaluate(() => globalThis.explorer?.idle());
}
