import assert from "node:assert/strict";
import { join } from "node:path";
import { UsageError } from "../lib/cli.ts";
import { serveExplorer } from "../lib/explore/server.ts";
import type { SiteFiles } from "../lib/explore/site.ts";

const encoder = new TextEncoder();
const SECRET = "not for the page";
const site: SiteFiles = new Map([
  ["index.html", { body: encoder.encode("<p>page</p>"), type: "text/html; charset=utf-8" }],
  ["explore.json", { body: encoder.encode("{}"), type: "application/json" }],
]);

/** The status and body of a request sent byte for byte as `target` (no client tidies the path). */
async function rawRequest(
  port: number,
  target: string,
  method = "GET",
): Promise<{ status: number; body: string; head: string }> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(
    encoder.encode(
      `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n` +
        "Content-Length: 0\r\n\r\n",
    ),
  );
  const text = await new Response(connection.readable).text();
  const [head, body = ""] = text.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), body, head: head.toLowerCase() };
}

/** A results folder beside a secret file and folder, with links out of it and one inside it. */
async function resultsBesideSecrets(): Promise<{ root: string; results: string; model: string }> {
  const root = await Deno.makeTempDir();
  const results = join(root, "results");
  await Deno.mkdir(join(results, "train"), { recursive: true });
  await Deno.mkdir(join(root, "secrets"));
  await Deno.writeTextFile(join(root, "secret.txt"), SECRET);
  await Deno.writeTextFile(join(root, "secrets", "secret.txt"), SECRET);
  const model = "safetensors bytes";
  await Deno.writeTextFile(join(results, "train", "model.safetensors"), model);
  await Deno.writeTextFile(join(results, ".aelab.lock"), SECRET);
  await Deno.symlink(join(root, "secret.txt"), join(results, "link-to-file"));
  await Deno.symlink(join(root, "secrets"), join(results, "link-to-folder"));
  await Deno.symlink("../secret.txt", join(results, "relative-link"));
  await Deno.symlink(join(results, "train", "model.safetensors"), join(results, "inner-link"));
  return { root, results, model };
}

Deno.test("the server gives 404 for every way out of the results folder", async () => {
  const { root, results, model } = await resultsBesideSecrets();
  const server = serveExplorer(site, results, { hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = server.addr;
    const outside = [
      "/results/../secret.txt",
      "/results/../../../../../../etc/passwd",
      "/results/%2e%2e/secret.txt",
      "/results/%2E%2E/secret.txt",
      "/results/..%2fsecret.txt",
      "/results/..%2Fsecrets%2Fsecret.txt",
      "/results/%2e%2e%2fsecret.txt",
      "/results/..%5csecret.txt",
      "/results/train/..%2f..%2fsecret.txt",
      "/results/%252e%252e/secret.txt",
      "/results//etc/passwd",
      "/results/%2fetc%2fpasswd",
      "/results/%2F%2Fetc/passwd",
      `/results/${encodeURIComponent(join(root, "secret.txt"))}`,
      "//etc/passwd",
      "/etc/passwd",
      `/${join(root, "secret.txt")}`,
      "/results/link-to-file",
      "/results/link-to-folder/secret.txt",
      "/results/relative-link",
      "/results/.aelab.lock",
      "/results/train",
      "/results/",
      "/results/train/model.safetensors%00.txt",
      "/results/%ff",
      "/secret.txt",
      "http://127.0.0.1/results/../secret.txt",
    ];
    for (const target of outside) {
      const response = await rawRequest(port, target);
      assert.equal(response.status, 404, `${target} gave ${response.status}`);
      assert.ok(!response.body.includes(SECRET), target);
    }

    const served = await rawRequest(port, "/results/train/model.safetensors");
    assert.equal(served.status, 200);
    assert.equal(served.body, model);
    assert.match(served.head, /content-security-policy: default-src 'none'/);
    assert.equal((await rawRequest(port, "/results/inner-link")).body, model);
    assert.equal((await rawRequest(port, "/results/train/model%2esafetensors")).body, model);
    assert.equal((await rawRequest(port, "/")).body, "<p>page</p>");
    assert.equal((await rawRequest(port, "/explore.json")).body, "{}");
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the server is read-only: HEAD answers, writes get 405 and change nothing", async () => {
  const { root, results, model } = await resultsBesideSecrets();
  const server = serveExplorer(site, results, { hostname: "127.0.0.1", port: 0 });
  try {
    const head = await rawRequest(server.addr.port, "/results/train/model.safetensors", "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
      const response = await rawRequest(
        server.addr.port,
        "/results/train/model.safetensors",
        method,
      );
      assert.equal(response.status, 405, method);
      assert.match(response.head, /allow: get, head/);
    }
    assert.equal(await Deno.readTextFile(join(results, "train", "model.safetensors")), model);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the server waits for the site's files while they are made", async () => {
  const files = Promise.withResolvers<SiteFiles>();
  const server = serveExplorer(files.promise, await Deno.makeTempDir(), {
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
    const response = fetch(`http://127.0.0.1:${server.addr.port}/`);
    files.resolve(site);
    assert.equal(await (await response).text(), "<p>page</p>");
  } finally {
    await server.shutdown();
  }
});

Deno.test("a port in use is a usage error that says so", () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  assert.throws(
    () => serveExplorer(site, ".", { hostname: "127.0.0.1", port }),
    (error) =>
      error instanceof UsageError &&
      error.message ===
        `127.0.0.1:${port} is in use: stop what listens there, or pass another --port`,
  );
});
