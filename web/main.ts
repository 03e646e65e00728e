/// <reference lib="dom" />
/**
 * The explorer page: starts TensorFlow.js, fetches the manifest of the results folder's models and the
 * test digits, loads the model picked (the trained one first), the denoisers and the digit classifier
 * (where there is one), and wires the panels —
 * map, sliders, morph, drawing pad, corruption — to the model in use. A model that fails to load says so
 * in place of the panels (a denoiser in its own column); a browser with no usable backend says so instead
 * of the page. `globalThis.explorer` lets tests and the console wait for the page and read what it shows.
 *
 * @module
 */
import type { ModelEntry } from "../lib/explore/manifest.ts";
import type { Autoencoder } from "../lib/model/autoencoder.ts";
import { startBackend } from "./backend.ts";
import {
  CorruptionPanel,
  failedReading,
  type ReadDigit,
  type Reading,
  reconstructionReading,
} from "./corruption.ts";
import { shown } from "./digit_view.ts";
import { DrawPanel } from "./draw.ts";
import { LatentMap } from "./latent_map.ts";
import { loadClassifier, loadDigits, loadManifest, loadModel } from "./load.ts";
import { MorphPanel } from "./morph.ts";
import { SliderPanel } from "./sliders.ts";
import { LatentSpace, reconstruct } from "./space.ts";
import { idle, track } from "./work.ts";

/** What the page offers tests and the console. */
export interface Explorer {
  /** The tfjs backend in use. */
  backend: string;
  /** Resolves once the page has finished what it started. */
  idle: () => Promise<void>;
  /** The numbers each element shows, by its id (see `digit_view.ts`). */
  shown: Map<string, Float32Array>;
}

declare global {
  var explorer: Explorer | undefined;
}

/** Where the page is: loading, ready, a model that failed to load, or nothing usable at all. */
type PageState = "loading" | "ready" | "model-failed" | "failed";

const status = document.getElementById("status")!;
const picker = document.getElementById("model") as HTMLSelectElement;

function setState(state: PageState, line: string): void {
  document.body.dataset.state = state;
  status.textContent = line;
}

/** Shows `message` in the element `id` (in place of what failed), or hides it for `null`. */
function say(id: string, message: string | null): void {
  const element = document.getElementById(id)!;
  element.textContent = message ?? "";
  element.hidden = message === null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A model of the manifest, or why it could not be loaded. */
type Loaded = { entry: ModelEntry; model: Autoencoder } | { entry: ModelEntry; error: unknown };

async function main(): Promise<void> {
  // The backend and the data.
  const backend = await startBackend(
    new URLSearchParams(location.search).get("backend") ?? undefined,
  );
  setState("loading", `Loading the models (TensorFlow.js on ${backend})…`);
  const [manifest, digits] = await Promise.all([loadManifest(), loadDigits()]);
  const denoisers: Loaded[] = await Promise.all(
    manifest.models.filter(({ role }) => role === "denoiser").map((entry) =>
      loadModel(entry).then((model) => ({ entry, model }), (error) => ({ entry, error }))
    ),
  );
  // The classifier's reading of a digit; one that failed to load says why wherever it would read.
  let readDigit: ReadDigit | undefined;
  if (manifest.classifier) {
    const classifier = loadClassifier(manifest.classifier);
    classifier.catch(() => {}); // said in place, at each reading
    readDigit = async (image) => (await (await classifier).predict(image))[0];
  }

  // The panels.
  const showError = (error: unknown) => say("model-error", describe(error));
  const sliders = new SliderPanel(showError);
  const morph = new MorphPanel(showError);
  const corruption = new CorruptionPanel(showError);
  let space: LatentSpace | undefined;
  let selected: number | null = null;
  const map = new LatentMap((index) => {
    selected = index;
    morph.setSelected(index);
    for (const id of ["selected-to-sliders", "selected-to-corruption"]) {
      (document.getElementById(id) as HTMLButtonElement).disabled = false;
    }
  }, showError);
  const draw = new DrawPanel((code) => map.setMarker(code), showError);
  document.getElementById("selected-to-sliders")!.addEventListener("click", () => {
    if (space && selected !== null) sliders.setCode(space.code(selected));
  });
  document.getElementById("selected-to-corruption")!.addEventListener("click", () => {
    if (selected !== null) corruption.setDigit(selected);
  });

  // What the current model's columns of the corruption panel are: it, then each denoiser.
  const readingsOf = (current: LatentSpace): Reading[] => [
    reconstructionReading(current.entry.label, (image) => current.reconstruct(image)),
    ...denoisers.map((loaded) =>
      "model" in loaded
        ? reconstructionReading(loaded.entry.label, (image) => reconstruct(loaded.model, image))
        : failedReading(loaded.entry.label, loaded.error)
    ),
  ];

  // The model picker: the trained model and the sweep's sizes, each loaded once, when first picked.
  const pickable = manifest.models.filter(({ role }) => role !== "denoiser");
  const spaces = new Map<string, Promise<LatentSpace>>();
  let latest = 0;
  const choose = async (entry: ModelEntry) => {
    const ticket = ++latest;
    setState("loading", `Loading the ${entry.label}…`);
    if (!spaces.has(entry.file)) {
      spaces.set(
        entry.file,
        loadModel(entry).then((model) => LatentSpace.of(entry, model, digits)),
      );
    }
    let chosen: LatentSpace;
    try {
      chosen = await spaces.get(entry.file)!;
    } catch (error) {
      spaces.delete(entry.file); // picking it again tries again
      if (ticket !== latest) return;
      say("model-error", `The ${entry.label} could not be loaded: ${describe(error)}`);
      setState("model-failed", `The ${entry.label} could not be loaded`);
      return;
    }
    if (ticket !== latest) return;
    say("model-error", null);
    space = chosen;
    // Shown before the panels draw, so that they measure their canvases.
    setState("ready", `${entry.label} · ${digits.count} test digits · TensorFlow.js on ${backend}`);
    map.setSpace(chosen);
    sliders.setSpace(chosen);
    morph.setSpace(chosen);
    draw.setSpace(chosen);
    corruption.setSpace(chosen, readingsOf(chosen), readDigit);
  };
  picker.replaceChildren(...pickable.map((entry, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = entry.label;
    return option;
  }));
  picker.disabled = false;
  picker.addEventListener("change", () => track(choose(pickable[Number(picker.value)])));
  globalThis.explorer = { backend, idle, shown };
  await choose(pickable[0]);
}

track(main()).catch((error) => {
  say("fatal", describe(error));
  setState("failed", "");
});
