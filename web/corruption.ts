/// <reference lib="dom" />
/**
 * A test digit corrupted as the study corrupts them — Gaussian noise of a chosen std (clipped to [0, 1],
 * seeded by the digit's index) and an occluding square of a chosen side and position — beside what each
 * reading makes of it: the current model's reconstruction and each denoiser's. A reading is anything that
 * reads a corrupted digit, each in its own column. Where the page has the digit classifier, every digit
 * shown — the corrupted one and each reading's picture — is captioned with the digit it is read as.
 *
 * @module
 */
import { addGaussianNoise, blankSquare } from "../lib/corrupt.ts";
import { IMAGE_SIDE } from "../lib/data/geometry.ts";
import { createRng } from "../lib/random.ts";
import { DigitView } from "./digit_view.ts";
import type { LatentSpace } from "./space.ts";
import { Latest } from "./work.ts";

/** What a reading makes of a corrupted digit: a picture, a line of text, or both. */
export interface ReadOut {
  pixels?: Float32Array;
  text: string;
}

/** One column of the panel: its title and how it reads a corrupted digit (given the clean one too). */
export interface Reading {
  title: string;
  read(corrupted: Float32Array, clean: Float32Array): Promise<ReadOut>;
}

/** A reading by an autoencoder: its reconstruction of the corrupted digit and its error from the clean one. */
export function reconstructionReading(
  title: string,
  reconstruct: (image: Float32Array) => Promise<Float32Array>,
): Reading {
  return {
    title,
    async read(corrupted, clean) {
      const pixels = await reconstruct(corrupted);
      let sum = 0;
      for (let i = 0; i < pixels.length; i++) sum += (pixels[i] - clean[i]) ** 2;
      return { pixels, text: `MSE to the clean digit ${(sum / pixels.length).toFixed(4)}` };
    },
  };
}

/** The digit classifier's reading of an image (784 pixels in [0, 1]). */
export type ReadDigit = (image: Float32Array) => Promise<number>;

/** A reading that could not be had (a model that did not load): it says why, in its column. */
export function failedReading(title: string, error: unknown): Reading {
  return {
    title,
    read: () => Promise.reject(error),
  };
}

/** The corruption panel. */
export class CorruptionPanel {
  readonly #index = document.getElementById("corrupt-index") as HTMLInputElement;
  readonly #noise = document.getElementById("corrupt-noise") as HTMLInputElement;
  readonly #side = document.getElementById("corrupt-side") as HTMLInputElement;
  readonly #top = document.getElementById("corrupt-top") as HTMLInputElement;
  readonly #left = document.getElementById("corrupt-left") as HTMLInputElement;
  readonly #columns = document.getElementById("corruption-columns")!;
  readonly #work: Latest;
  #space?: LatentSpace;
  #readings: Reading[] = [];
  #readDigit?: ReadDigit;
  #views: { view: DigitView; text: HTMLElement }[] = [];

  /** The panel; `onError` hears of failures outside a reading's column. */
  constructor(onError: (error: unknown) => void) {
    this.#work = new Latest(onError);
    for (const input of [this.#index, this.#noise, this.#side, this.#top, this.#left]) {
      input.addEventListener("input", () => this.#update());
    }
  }

  /**
   * Corrupts the test digits of `space`, read by `readings`, from now on, each digit shown captioned
   * with what `readDigit` (the digit classifier, where there is one) reads it as.
   */
  setSpace(space: LatentSpace, readings: Reading[], readDigit?: ReadDigit): void {
    this.#space = space;
    this.#readDigit = readDigit;
    this.#index.max = String(space.digits.count - 1);
    this.#readings = readings;
    const columns = [{ title: "clean" }, { title: "corrupted" }, ...readings];
    this.#columns.replaceChildren();
    this.#views = columns.map(({ title }, c) => {
      const canvas = document.createElement("canvas");
      canvas.id = `corruption-${c}`;
      canvas.className = "digit large";
      const caption = document.createElement("figcaption");
      caption.textContent = title;
      const text = document.createElement("p");
      text.className = "result";
      const figure = document.createElement("figure");
      figure.append(canvas, caption, text);
      this.#columns.append(figure);
      return { view: new DigitView(canvas), text };
    });
    this.#update();
  }

  /** Corrupts test digit `index` from now on. */
  setDigit(index: number): void {
    this.#index.value = String(index);
    this.#update();
  }

  /** Corrupts the chosen digit as the controls say and shows every reading of it. */
  #update(): void {
    const space = this.#space;
    if (!space) return;
    const side = Number(this.#side.value);
    for (const input of [this.#top, this.#left]) input.max = String(IMAGE_SIDE - side);
    const index = Math.min(
      space.digits.count - 1,
      Math.max(0, Math.round(Number(this.#index.value)) || 0),
    );
    const std = Number(this.#noise.value);
    const square = { side, top: Number(this.#top.value), left: Number(this.#left.value) };
    for (
      const [id, value] of [["noise", std], ["side", side], ["top", square.top], [
        "left",
        square.left,
      ]] as const
    ) {
      (document.getElementById(`corrupt-${id}-value`) as HTMLOutputElement).value = String(value);
    }
    const [readings, readDigit] = [this.#readings, this.#readDigit];
    /** `text`, and the digit `image` is read as where the classifier reads it. */
    const captioned = async (text: string, image: Float32Array) =>
      readDigit ? `${text} · read as ${await readDigit(image)}` : text;
    this.#work.run(async () => {
      const clean = space.pixels(index);
      const corrupted = blankSquare(addGaussianNoise(clean, std, createRng(index)), square);
      const [cleanView, corruptedView, ...readingViews] = this.#views;
      cleanView.view.show(clean);
      cleanView.text.textContent = `#${index}, a ${space.digits.labels[index]}`;
      corruptedView.view.show(corrupted);
      corruptedView.text.textContent = await captioned(
        side > 0 || std > 0 ? `noise ${std}, square ${side}` : "none",
        corrupted,
      );
      await Promise.all(readings.map(async (reading, r) => {
        const { view, text } = readingViews[r];
        text.classList.remove("error");
        try {
          const out = await reading.read(corrupted, clean);
          view.show(out.pixels ?? null);
          text.textContent = out.pixels ? await captioned(out.text, out.pixels) : out.text;
        } catch (error) {
          view.show(null);
          text.classList.add("error");
          text.textContent = (error as Error).message;
        }
      }));
    });
  }
}
