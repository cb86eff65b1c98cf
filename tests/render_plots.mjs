// Renders every plot of a `dvc plots show` page to SVG with the vega, vega-lite packages
// `npm ci` installs (no browser, no network) and prints, per plot, what a person would
// look for: how many marks it drew, whether a dashed reference line is among them, and
// the numbers written on it. Used by tests/test_plots_offline.py.
//   node tests/render_plots.mjs dvc_plots/index.html
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../package.json", import.meta.url));
const vega = require("vega");
const vegaLite = require("vega-lite");

const page = readFileSync(process.argv[2], "utf8");
// DVC writes each plot as `var spec = {...};` followed by `vegaEmbed('#id', spec);`
const specs = [...page.matchAll(/var spec = (\{[\s\S]*?\});\s*vegaEmbed\(/g)];
const plots = [];
for (const [, text] of specs) {
  const spec = JSON.parse(text);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  plots.push({
    title: spec.title?.text ?? "",
    marks: (svg.match(/<(path|rect|text|line)\b/g) || []).length,
    dashed: /stroke-dasharray="4,4"/.test(svg),
    labels: [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]),
  });
}
console.log(JSON.stringify(plots));
