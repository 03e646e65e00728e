/**
 * `deno task explore`: the latent space in a web page. Serves, on 127.0.0.1, a page for the models of a
 * results folder — the trained model, the sweep's sizes, the denoisers — that runs them in the browser with
 * TensorFlow.js: the test digits on a map of the latent space, a slider per latent unit, morphs between
 * digits, a pad to draw your own digit on, and corrupted digits undone by each model (each read by the
 * digit classifier, where the folder has one). It opens nothing by itself; `--build DIR` writes the same page as a static site, with the models it needs, instead.
 *
 *     deno task study && deno task explore       # then open http://127.0.0.1:8000/
 *     deno task explore --results elsewhere/ --port 8080
 *     deno task explore --build site/            # for any static host
 *
 * @module
 */
import { check, parseFlags, runMain } from "../lib/cli.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { checkInteger, dataDirFlag, RESULTS_ROOT } from "../lib/experiment.ts";
import type { ModelEntry } from "../lib/explore/manifest.ts";
import { findClassifier, findModels } from "../lib/explore/models.ts";
import { serveExplorer } from "../lib/explore/server.ts";
import { type SiteFiles, siteFiles, writeSite } from "../lib/explore/site.ts";
import { holdFolder } from "../lib/files/lock.ts";

/** Addresses only this machine can reach. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/** The MNIST test set's size: the most digits the map can show. */
const TEST_DIGITS = 10_000;

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "serves a web page of the latent space for the models of a results folder, or writes it as a static site";

await runMain(async () => {
  // Flags.
  const flags = parseFlags(Deno.args, "explore", SUMMARY, {
    results: { type: "string", default: RESULTS_ROOT, help: "results folder whose models to show" },
    port: { type: "number", default: 8000, help: "port to serve on (0: any free one)" },
    host: {
      type: "string",
      default: "127.0.0.1",
      help: "address to serve on (others can read the results folder on any but loopback)",
    },
    build: { type: "string", default: "", help: "write a static site into this folder instead" },
    digits: { type: "number", default: 2000, help: "test digits on the latent map" },
    "data-dir": dataDirFlag(),
  });
  checkInteger("port", flags.port, 0);
  check(flags.port <= 65535, `--port must be at most 65535, got ${flags.port}`);
  checkInteger("digits", flags.digits, 1);
  check(
    flags.digits <= TEST_DIGITS,
    `--digits must be at most ${TEST_DIGITS}, got ${flags.digits}`,
  );

  // Models: every model of the results folder and its classifier, each checked as the page loads it.
  const models = await findModels(flags.results);
  const classifier = await findClassifier(flags.results);

  // Data: the first test digits, for the map.
  const { test } = await loadMnist({ dataDir: flags["data-dir"] || undefined, quiet: true });
  const digits = takeDigits(test, flags.digits);
  const absent = [...Array(10).keys()].filter((digit) => !digits.labels.includes(digit)).join(", ");
  check(
    absent === "",
    `--digits ${flags.digits}: the first ${flags.digits} test digits hold no ${absent}, ` +
      "and the page needs every class",
  );

  // A static site: the page, its files and copies of the models, written into --build.
  if (flags.build) {
    await holdFolder(flags.build);
    const files = [...models.map(({ file }) => file), ...classifier ? [classifier] : []];
    await writeSite(flags.build, await siteFiles(models, digits, classifier), flags.results, files);
    console.error(`wrote the explorer of ${describeModels(models, classifier)} to ${flags.build}/`);
    return;
  }

  // Served: listening first (a port in use is said at once), the page bundled while requests wait.
  const site = Promise.withResolvers<SiteFiles>();
  const server = serveExplorer(site.promise, flags.results, {
    hostname: flags.host,
    port: flags.port,
  });
  site.resolve(await siteFiles(models, digits, classifier));
  const host = flags.host.includes(":") ? `[${flags.host}]` : flags.host;
  console.log(`explorer: http://${host}:${server.addr.port}/`);
  console.error(
    `serving ${describeModels(models, classifier)} of ${flags.results}/ read-only; Ctrl-C stops ` +
      "the server",
  );
  if (!LOOPBACK.test(flags.host)) {
    console.error(`note: on ${flags.host}, anyone who can reach this machine can read the folder`);
  }
  await server.finished;
}, { resumes: false });

/** The models the page shows, as a few words: "5 models and the digit classifier". */
function describeModels(models: ModelEntry[], classifier: string | undefined): string {
  return `${models.length} models${classifier ? " and the digit classifier" : ""}`;
}
