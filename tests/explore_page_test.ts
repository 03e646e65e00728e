/// <reference lib="dom" />
import assert from "node:assert/strict";
import { join } from "node:path";
import { addGaussianNoise, blankSquare } from "../lib/corrupt.ts";
import { tf } from "../lib/deps.ts";
import { fileInside } from "../lib/explore/paths.ts";
import { contentType } from "../lib/explore/site.ts";
import { classCentroids, interpolate } from "../lib/latent.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { Classifier } from "../lib/model/classifier_model.ts";
import { imagesTensor } from "../lib/model/images.ts";
import { createRng } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";
import type {} from "../web/main.ts"; // globalThis.explorer
import { HAS_CHROMIUM, type Page, watchedPage, withBrowser } from "./_browser.ts";
import { CLASSIFIER_FILE, startExplorer, writeModels } from "./_explore.ts";
import { testDigits } from "./_fixtures.ts";
import { runScript } from "./_scripts.ts";

/** Test digits on the page's map. */
const DIGITS = 300;

/** How far the page's numbers may be from Deno's own (float32 on two engines). */
const TOLERANCE = 1e-4;

/** Waits until the page has loaded (or failed to) and finished what it started. */
async function settled(page: Page): Promise<string> {
  // WebGL on a software GPU compiles its shaders slowly on a busy machine.
  await page.waitForFunction(() => document.body.dataset.state !== "loading", { timeout: 90_000 });
  await page.evaluate(() => globalThis.explorer?.idle());
  return await page.evaluate(() => document.body.dataset.state!);
}

/** The numbers the element `id` shows (see `web/digit_view.ts`); empty when it shows nothing. */
function shown(page: Page, id: string): Promise<number[]> {
  return page.evaluate((id) => Array.from(globalThis.explorer?.shown.get(id) ?? []), id);
}

/** The largest difference between two arrays of numbers of the same length. */
function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let most = 0;
  for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i] - b[i]));
  return most;
}

/** The values of `tensor`, which is then freed. */
async function valuesOf(tensor: tf.Tensor): Promise<Float32Array> {
  const values = await tensor.data() as Float32Array;
  tensor.dispose();
  return values;
}

/** Asserts that the digit the sliders show is Deno's decoding of their code, which it returns. */
async function assertSlidersDecodeAsDeno(page: Page, model: Autoencoder): Promise<number[]> {
  const code = await page.$$eval(
    "#sliders input",
    (inputs) => inputs.map((input) => Number((input as HTMLInputElement).value)),
  );
  const expected = await model.generateFromEncodedSample(code);
  assert.ok(maxDifference(await shown(page, "sliders-decoded"), expected) <= TOLERANCE);
  return code;
}

/** A loopback server of `folder`'s files with their content types, as a static host serves a site. */
function serveStatic(folder: string): { url: string } & AsyncDisposable {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const file = await fileInside(folder, new URL(request.url).pathname.slice(1) || "index.html");
    if (!file) return new Response("not found", { status: 404 });
    return new Response(await Deno.readFile(file), {
      headers: { "content-type": contentType(file) },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Sets the input `selector` to `value` as a person would leave it, firing its events. */
function setInput(page: Page, selector: string, value: string): Promise<void> {
  return page.$eval(selector, (element, value) => {
    const input = element as HTMLInputElement | HTMLSelectElement;
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }, value);
}

Deno.test({
  name: "the explorer page, in headless Chromium against the server on loopback",
  ignore: !HAS_CHROMIUM,
}, async (t) => {
  // A results folder: a trained model (so to speak), two sweep sizes and two denoisers.
  const root = await Deno.makeTempDir();
  await writeModels(root, {
    trained: 4,
    sweep: [1, 2],
    denoisers: ["noise", "occlusion"],
    classifier: true,
  });
  await setupBackend("wasm", { quiet: true });
  const classifier = await Classifier.load(join(root, CLASSIFIER_FILE));
  const readAs = async (pixels: ArrayLike<number>) =>
    (await classifier.predict(Float32Array.from(pixels)))[0];
  const trained = await Autoencoder.load(join(root, "train", "model.safetensors"));
  const denoisers = await Promise.all(
    ["noise", "occlusion"].map((kind) =>
      Autoencoder.load(join(root, "denoise", `denoiser-${kind}.safetensors`))
    ),
  );
  const digits = await testDigits(DIGITS);
  const pixelsOf = (index: number) =>
    Float32Array.from(digits.images.subarray(index * 784, (index + 1) * 784), (v) => v / 255);
  const reconstruct = (model: Autoencoder, pixels: ArrayLike<number>) =>
    valuesOf(tf.tidy(() => model.reconstruct(imagesTensor(Float32Array.from(pixels)))));

  // The page served by explore, and beside it (built meanwhile) the same page as a static site.
  const site = join(root, "site");
  const building = runScript("scripts/explore.ts", [
    `--results=${root}`,
    `--build=${site}`,
    "--digits=100",
  ]);
  try {
    await using server = await startExplorer([
      `--results=${root}`,
      "--port=0",
      `--digits=${DIGITS}`,
    ]);
    await withBrowser(async (browser) => {
      await using watched = await watchedPage(browser);
      const { page, problems } = watched;
      await page.setViewport({ width: 1280, height: 900 });

      await t.step("loads with no console errors, on WebAssembly", async () => {
        await page.goto(server.url);
        assert.equal(await settled(page), "ready");
        assert.equal(await page.evaluate(() => globalThis.explorer?.backend), "wasm");
        assert.match(await page.$eval("#status", (e) => e.textContent!), /trained model, d = 4/);
        assert.equal(await page.$$eval("#model option", (options) => options.length), 3);
        assert.deepEqual(problems, []);
      });

      await t.step(
        "a slider moved by keyboard changes the decoded digit, as Deno decodes its code",
        async () => {
          const before = await shown(page, "sliders-decoded");
          await page.focus("#z1");
          for (let i = 0; i < 10; i++) await page.keyboard.press("ArrowRight");
          await page.evaluate(() => globalThis.explorer?.idle());
          assert.ok(maxDifference(before, await shown(page, "sliders-decoded")) > 0.01);
          assert.equal((await assertSlidersDecodeAsDeno(page, trained)).length, 4);
        },
      );

      await t.step(
        "the map decodes any point, and selects and reconstructs a digit by keyboard",
        async () => {
          const map = (await page.$("#map"))!;
          await map.scrollIntoView();
          const box = (await map.boundingBox())!;
          const decodedAt = async (x: number, y: number) => {
            await page.mouse.move(box.x + x * box.width, box.y + y * box.height);
            await page.evaluate(() => globalThis.explorer?.idle());
            return await shown(page, "map-decoded");
          };
          const [one, other] = [await decodedAt(0.3, 0.3), await decodedAt(0.7, 0.6)];
          assert.equal(one.length, 784);
          assert.ok(maxDifference(one, other) > 0.01, "different points decode differently");
          await page.focus("#map");
          await page.keyboard.press("ArrowLeft");
          await page.keyboard.press("Enter");
          await page.evaluate(() => globalThis.explorer?.idle());
          const selected = await page.$eval("#selected", (e) => e.textContent!);
          const index = Number(/#(\d+), a (\d)/.exec(selected)?.[1]);
          assert.equal(selected, `test digit #${index}, a ${digits.labels[index]}`);
          assert.deepEqual(await shown(page, "map-digit"), Array.from(pixelsOf(index)));
          const reconstruction = await reconstruct(trained, pixelsOf(index));
          assert.ok(
            maxDifference(await shown(page, "map-reconstruction"), reconstruction) <= TOLERANCE,
          );
        },
      );

      await t.step("a stroke drawn with the mouse is encoded and reconstructed", async () => {
        const pad = (await page.$("#pad"))!;
        await pad.scrollIntoView();
        const box = (await pad.boundingBox())!;
        const at = (x: number, y: number) =>
          [box.x + x * box.width, box.y + y * box.height] as const;
        await page.mouse.move(...at(0.25, 0.2));
        await page.mouse.down();
        await page.mouse.move(...at(0.75, 0.2), { steps: 8 });
        await page.mouse.move(...at(0.4, 0.85), { steps: 8 });
        await page.mouse.up();
        await page.evaluate(() => globalThis.explorer?.idle());
        const input = await shown(page, "draw-input");
        assert.ok(input.filter((value) => value > 0.5).length > 20, "the stroke is in the input");
        const code = await shown(page, "draw-code");
        const encoded = await valuesOf(
          tf.tidy(() => trained.encode(imagesTensor(Float32Array.from(input)))),
        );
        assert.ok(maxDifference(code, encoded) <= TOLERANCE);
        const decoded = await trained.generateFromEncodedSample(code);
        assert.ok(maxDifference(await shown(page, "draw-reconstruction"), decoded) <= TOLERANCE);
        assert.match(
          await page.$eval("#draw-code", (e) => e.textContent!),
          /^\(-?\d+\.\d\d(, -?\d+\.\d\d){3}\)$/,
        );
      });

      await t.step("a morph between two centroids plays, frame by frame", async () => {
        await setInput(page, "#morph-from", "centroid:1");
        await setInput(page, "#morph-to", "centroid:7");
        await setInput(page, "#morph-steps", "8");
        await page.click("#morph-play");
        await page.waitForFunction(
          () => Number(document.getElementById("morph-frame")!.dataset.frame) >= 3,
          { timeout: 10_000 },
        );
        const { frame, pixels, counter } = await page.evaluate(() => ({
          frame: Number(document.getElementById("morph-frame")!.dataset.frame),
          pixels: Array.from(globalThis.explorer!.shown.get("morph-frame")!),
          counter: document.getElementById("morph-counter")!.textContent,
        }));
        await page.click("#morph-play"); // stop
        assert.equal(counter, `frame ${frame + 1} of 8`);
        assert.equal(
          await page.$eval("#morph-strip", (e) => (e as HTMLCanvasElement).width),
          8 * 28,
        );
        const centroids = classCentroids(await trained.getEncRepresentation(digits));
        const codes = interpolate(centroids[1], centroids[7], 8);
        const expected = await trained.generateFromEncodedSample(codes[frame]);
        assert.ok(maxDifference(pixels, expected) <= TOLERANCE);
      });

      await t.step(
        "a corrupted digit beside the model's and each denoiser's reconstruction, each read by the classifier",
        async () => {
          await setInput(page, "#corrupt-index", "3");
          await setInput(page, "#corrupt-noise", "0.5");
          await setInput(page, "#corrupt-side", "8");
          await setInput(page, "#corrupt-top", "4");
          await setInput(page, "#corrupt-left", "12");
          await page.evaluate(() => globalThis.explorer?.idle());
          const titles = await page.$$eval(
            "#corruption-columns figcaption",
            (captions) => captions.map((caption) => caption.textContent),
          );
          assert.deepEqual(titles, [
            "clean",
            "corrupted",
            "trained model, d = 4",
            "noise denoiser",
            "occlusion denoiser",
          ]);
          const clean = pixelsOf(3);
          assert.deepEqual(await shown(page, "corruption-0"), Array.from(clean));
          const corrupted = blankSquare(addGaussianNoise(clean, 0.5, createRng(3)), {
            side: 8,
            top: 4,
            left: 12,
          });
          assert.deepEqual(await shown(page, "corruption-1"), Array.from(corrupted));
          const captions = await page.$$eval(
            "#corruption-columns p.result",
            (texts) => texts.map((text) => text.textContent!),
          );
          assert.equal(captions[1], `noise 0.5, square 8 · read as ${await readAs(corrupted)}`);
          for (const [column, model] of [trained, ...denoisers].entries()) {
            const expected = await reconstruct(model, corrupted);
            const pixels = await shown(page, `corruption-${column + 2}`);
            assert.ok(maxDifference(pixels, expected) <= TOLERANCE);
            assert.match(
              captions[column + 2],
              new RegExp(`^MSE .* · read as ${await readAs(pixels)}$`),
            );
          }
        },
      );

      await t.step(
        "the picker changes the model; one that fails to load says so in place",
        async () => {
          await setInput(page, "#model", "1");
          assert.equal(await settled(page), "ready");
          assert.equal(await page.$$eval("#sliders input", (inputs) => inputs.length), 1);
          await Deno.writeTextFile(join(root, "sweep", "model-d2.safetensors"), "overwritten");
          await setInput(page, "#model", "2");
          assert.equal(await settled(page), "model-failed");
          const message = await page.$eval("#model-error", (e) => e.textContent!);
          assert.match(
            message,
            /^The sweep, d = 2 could not be loaded: results\/sweep\/model-d2\.safetensors: /,
          );
          assert.equal(
            await page.$eval("#sliders-panel", (e) => getComputedStyle(e).display),
            "none",
          );
          await setInput(page, "#model", "0");
          assert.equal(await settled(page), "ready");
          assert.equal(await page.$eval("#model-error", (e) => (e as HTMLElement).hidden), true);
          assert.deepEqual(problems, []);
        },
      );

      await t.step("at phone width nothing is wider than the screen", async () => {
        // Puppeteer reloads the page when isMobile changes.
        await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
        assert.equal(await settled(page), "ready");
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390);
        assert.deepEqual(problems, []);
      });

      await t.step("a browser without the backend asked for says so", async () => {
        await using other = await watchedPage(browser);
        await other.page.goto(`${server.url}?backend=webgpu`);
        assert.equal(await settled(other.page), "failed");
        const message = await other.page.$eval("#fatal", (e) => e.textContent!);
        assert.match(message, /^This browser has no backend that can run the models \(webgpu: /);
        assert.equal(await other.page.$eval("#fatal", (e) => (e as HTMLElement).hidden), false);
      });

      await t.step("the static site that --build writes works on a plain static host", async () => {
        const built = await building;
        assert.equal(built.code, 0, built.stderr);
        await using host = serveStatic(site);
        await using other = await watchedPage(browser);
        await other.page.goto(host.url);
        assert.equal(await settled(other.page), "ready");
        assert.match(
          await other.page.$eval("#status", (e) => e.textContent!),
          /· 100 test digits ·/,
        );
        await assertSlidersDecodeAsDeno(other.page, trained);
        assert.deepEqual(other.problems, []);
      });

      await t.step("on WebGL (SwiftShader), the page decodes as Deno does", async () => {
        await using other = await watchedPage(browser);
        await other.page.goto(`${server.url}?backend=webgl`);
        assert.equal(await settled(other.page), "ready");
        assert.equal(await other.page.evaluate(() => globalThis.explorer?.backend), "webgl");
        await assertSlidersDecodeAsDeno(other.page, trained);
        assert.deepEqual(other.problems, []);
      });
    });
  } finally {
    await building;
    for (const model of [trained, ...denoisers, classifier]) model.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
