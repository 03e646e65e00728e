/**
 * The explorer's HTTP server: the site's own files, and the results folder's files under `results/` by
 * the rule of `paths.ts` — read-only (GET and HEAD), everything else 404 — on loopback unless told
 * otherwise.
 *
 * @module
 */
import { describeError, UsageError } from "../cli.ts";
import { RESULTS_PREFIX } from "./manifest.ts";
import { fileInside } from "./paths.ts";
import { contentType, type SiteFile, type SiteFiles } from "./site.ts";

/** Where the server listens. */
export interface Address {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
}

/**
 * Serves `site` (its files may still be on their way: requests wait for them) and the results folder
 * `results` at `address`; `server.addr` says where. An address that cannot be listened on (a port in
 * use, say) is a usage error that says so.
 *
 * @example
 * ```ts
 * import { serveExplorer } from "./server.ts";
 * const site = new Map([["index.html", { body: new TextEncoder().encode("hi"), type: "text/html" }]]);
 * const server = serveExplorer(site, await Deno.makeTempDir(), { hostname: "127.0.0.1", port: 0 });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(response.status, await response.text()); // 200 hi
 * await server.shutdown();
 * ```
 */
export function serveExplorer(
  site: SiteFiles | Promise<SiteFiles>,
  results: string,
  address: Address,
): Deno.HttpServer<Deno.NetAddr> {
  const handler = async (request: Request) => respond(request, await site, results);
  try {
    return Deno.serve({ ...address, onListen() {} }, handler);
  } catch (error) {
    const where = `${address.hostname}:${address.port}`;
    throw new UsageError(
      error instanceof Deno.errors.AddrInUse
        ? `${where} is in use: stop what listens there, or pass another --port`
        : `cannot listen on ${where}: ${describeError(error)}`,
    );
  }
}

/** The response to `request`: a site file, a file of the results folder, or 404 (405 for writes). */
async function respond(request: Request, site: SiteFiles, results: string): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("read-only\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  const path = new URL(request.url).pathname.slice(1);
  const file = path.startsWith(RESULTS_PREFIX)
    ? await resultsFile(results, path.slice(RESULTS_PREFIX.length))
    : site.get(path || "index.html");
  if (!file) return new Response("not found\n", { status: 404 });
  return new Response(request.method === "HEAD" ? null : file.body, {
    headers: {
      "content-type": file.type,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      // A results file is data for the page, never a document that runs anything.
      ...(path.startsWith(RESULTS_PREFIX)
        ? { "content-security-policy": "default-src 'none'" }
        : {}),
    },
  });
}

/** The results folder's file at `path` (as the URL has it), if the rule of `paths.ts` allows it. */
async function resultsFile(results: string, path: string): Promise<SiteFile | undefined> {
  const real = await fileInside(results, path);
  if (!real) return undefined;
  return { body: await Deno.readFile(real), type: contentType(real) };
}
