/**
 * The explorer's site: the page (`web/index.html`, `web/style.css`, and `web/main.ts` bundled for the
 * browser with the same pinned tfjs, by `deno bundle`), the wasm backend's binaries, the manifest of the
 * results folder's models and the test digits — served by `server.ts`, or written out as a static site with
 * copies of the models it names.
 *
 * @module
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Digits } from "../data/mnist.ts";
import { TFJS_WASM_URLS } from "../deps.ts";
import { writeFileAtomic } from "../files/atomic.ts";
import { encodeDigitsFile } from "./digits.ts";
import {
  DIGITS_FILE,
  type ExplorerManifest,
  MANIFEST_FILE,
  type ModelEntry,
  RESULTS_PREFIX,
  WASM_PREFIX,
} from "./manifest.ts";

/** One file of the site: its bytes and its content type. */
export interface SiteFile {
  body: Uint8Array<ArrayBuffer>;
  type: string;
}

/** The site's own files by their path beside the page (`index.html`, `explore.js`, `wasm/…`, …). */
export type SiteFiles = ReadonlyMap<string, SiteFile>;

/** The page's folder in this copy of aelab. */
const WEB = new URL("../../web/", import.meta.url);

/** The bundle's name beside the page (`index.html` loads it). */
const BUNDLE_FILE = "explore.js";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  wasm: "application/wasm",
};

/** The content type of a file named `name`, by its extension. */
export function contentType(name: string): string {
  return TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

/**
 * The site's files for the results folder's `models` (and its digit `classifier`'s file, where there is
 * one) and the test `digits`: the page, its bundle (built now, in a few seconds), the wasm binaries, the
 * manifest and the digits file.
 */
export async function siteFiles(
  models: ModelEntry[],
  digits: Digits,
  classifier?: string,
): Promise<SiteFiles> {
  const manifest: ExplorerManifest = { models, digits: digits.count, classifier };
  const files = new Map<string, Uint8Array<ArrayBuffer>>([
    [BUNDLE_FILE, await bundlePage()],
    [MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n")],
    [DIGITS_FILE, encodeDigitsFile(digits)],
  ]);
  for (const name of ["index.html", "style.css"]) {
    files.set(name, await readUrl(new URL(name, WEB)));
  }
  for (const url of TFJS_WASM_URLS) {
    files.set(WASM_PREFIX + basename(url.pathname), await readUrl(url));
  }
  return new Map([...files].map(([name, body]) => [name, { body, type: contentType(name) }]));
}

/**
 * Writes the site into `folder` as a static site: its files, and a copy of each of the model files
 * `modelFiles` from the results folder `results` under `results/`, each file atomically.
 */
export async function writeSite(
  folder: string,
  files: SiteFiles,
  results: string,
  modelFiles: string[],
): Promise<void> {
  for (const [name, { body }] of files) await writeFileAtomic(join(folder, name), body);
  for (const file of modelFiles) {
    await writeFileAtomic(
      join(folder, RESULTS_PREFIX, file),
      await Deno.readFile(join(results, file)),
    );
  }
}

/** `web/main.ts` bundled for the browser (minified), with `deno bundle`. */
async function bundlePage(): Promise<Uint8Array<ArrayBuffer>> {
  const entry = new URL("main.ts", WEB);
  const local = entry.protocol === "file:";
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      ...(local ? [fileURLToPath(entry)] : ["--allow-import", entry.href]),
    ],
    cwd: local ? fileURLToPath(new URL("../", WEB)) : undefined,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  if (!success) {
    const reason = new TextDecoder().decode(stderr).trim().split("\n").at(-1);
    throw new Error(`bundling the page failed: ${reason || "deno bundle failed"}`);
  }
  return stdout;
}

/** The bytes at `url` (a `file:` URL in a checkout, an `https:` one when run by URL). */
async function readUrl(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === "file:") return await Deno.readFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.href}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}
