// Opens a page in Debian's headless Chromium (driven by playwright-core, no network: every
// request that is not a file is refused and counted) and prints, as JSON, what a person
// would see: the width of each table against the width it is given, the colours of the
// chart's lines against the background, how much each plot drew. Used by tests/test_seen.py.
//   node tests/render_seen.mjs '{"page": "/tmp/x.html", "kind": "comment", ...}'
// kind "comment": waits for Mermaid (window.__rendered); kind "plots": waits for vega-embed.
// "screenshot": a PNG path for the full page; "width": the viewport's width.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(new URL("../package.json", import.meta.url));
const { chromium } = require("playwright-core");

const job = JSON.parse(process.argv[2]);
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const profile = mkdtempSync(join(tmpdir(), "mlgate-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: job.chromium ?? "/usr/bin/chromium",
  headless: true,
  args: FLAGS,
  viewport: { width: job.width ?? 880, height: 900 },
  colorScheme: job.dark ? "dark" : "light",
  offline: true,
});
const refused = [];
const errors = [];
try {
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
    refused.push(url);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(pathToFileURL(job.page).href);
  const result =
    job.kind === "plots" ? await plots(page) : await comment(page);
  if (job.screenshot) await page.screenshot({ path: job.screenshot, fullPage: true });
  console.log(JSON.stringify({ ...result, refused, errors }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

async function comment(page) {
  await page.waitForFunction(() => window.__rendered || window.__error, null, { timeout: 60000 });
  return page.evaluate(() => {
    const body = document.querySelector(".markdown-body");
    const colour = (element, property) => getComputedStyle(element)[property];
    const tables = [...body.querySelectorAll("table")].map((table) => ({
      header: table.querySelector("tr")?.innerText.replace(/\s+/g, " ").trim() ?? "",
      scrollWidth: table.scrollWidth,
      clientWidth: table.clientWidth,
      container: body.clientWidth,
    }));
    const charts = [...body.querySelectorAll(".mermaid svg")].map((svg) => {
      const background = svg.querySelector("rect.background");
      return {
        lines: [...svg.querySelectorAll("g[class^='line-plot'] path")].map((path) =>
          colour(path, "stroke"),
        ),
        chartBackground: background ? colour(background, "fill") : null,
        width: svg.getBoundingClientRect().width,
      };
    });
    return {
      error: window.__error ?? null,
      background: colour(document.body, "backgroundColor"),
      bodyWidth: body.getBoundingClientRect().width,
      tables,
      charts,
      mermaidBlocks: body.querySelectorAll("pre > code.language-mermaid").length,
    };
  });
}

async function plots(page) {
  // vega-embed draws each plot into its div (a canvas by default): wait until every div
  // holds one, then count the pixels that are not the background.
  await page.waitForFunction(
    () => {
      if (document.body.innerText.includes("scripts are missing")) return true;
      const divs = [...document.querySelectorAll("body div[id]")];
      return divs.length > 0 && divs.every((div) => div.querySelector("canvas, svg"));
    },
    null,
    { timeout: 60000 },
  );
  await page.waitForTimeout(500); // vega renders asynchronously after inserting the canvas
  return page.evaluate(() => {
    const drawn = [...document.querySelectorAll("body div[id]")].map((div) => {
      const canvas = div.querySelector("canvas");
      let inked = 0;
      if (canvas) {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
          if (a > 0 && (r < 240 || g < 240 || b < 240)) inked += 1;
        }
      }
      return {
        id: div.id,
        title: div.closest("td, body")?.innerText.split("\n")[0] ?? "",
        inked,
        width: canvas?.width ?? 0,
        height: canvas?.height ?? 0,
      };
    });
    return { plots: drawn, note: document.body.innerText.includes("scripts are missing") };
  });
}
