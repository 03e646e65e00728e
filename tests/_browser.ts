// deno-lint-ignore-file no-import-prefix
/**
 * A headless Chromium (Debian's `chromium`) for the explorer page's tests, driven by puppeteer-core. The
 * pinned import lives here, on the test side only: puppeteer pulls in `node:*`, which no page may import.
 */
import puppeteer from "npm:puppeteer-core@25.16.0";
import type { Browser, Page } from "npm:puppeteer-core@25.16.0";

export type { Browser, Page };

/** The browser the tests drive: `$CHROMIUM`, else Debian's. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Whether that browser is installed (`.ci/run` installs it). */
export const HAS_CHROMIUM: boolean = await Deno.stat(CHROMIUM).then(
  (info) => info.isFile,
  () => false,
);

/**
 * Runs `use` with a fresh headless Chromium, and closes it whatever happens (Deno's sanitizers do not
 * notice a browser left running).
 */
export async function withBrowser<T>(use: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    // WebGL through SwiftShader, Chromium's software GPU, where there is no GPU.
    args: ["--no-sandbox", "--headless=new", "--enable-unsafe-swiftshader"],
  });
  try {
    return await use(browser);
  } finally {
    await browser.close();
  }
}

/** A page, what went wrong in it, and closing it with `await using`. */
export interface WatchedPage extends AsyncDisposable {
  page: Page;
  /** Console errors, uncaught errors, failed requests and error responses, as they happen. */
  problems: string[];
}

/** A new page of `browser` that collects what goes wrong in it. */
export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error}`));
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  return { page, problems, [Symbol.asyncDispose]: () => page.close() };
}
