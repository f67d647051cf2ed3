// Builds assets/build/ from the npm packages and assets/src/: no CDN, no committed bundles.
import { cpSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "build");
const uswds = join(here, "node_modules", "@uswds", "uswds", "dist");
const htmx = join(here, "node_modules", "htmx.org", "dist", "htmx.min.js");
// The campaign map: US county outlines (Census, via us-atlas) drawn with d3-geo.
const modules = join(here, "node_modules");
const atlas = join(modules, "us-atlas", "counties-10m.json");
const mapScripts = [
  join(modules, "d3-array", "dist", "d3-array.min.js"),
  join(modules, "d3-geo", "dist", "d3-geo.min.js"),
  join(modules, "topojson-client", "dist", "topojson-client.min.js"),
  // Measurement charts (radar, trends).
  join(modules, "chart.js", "dist", "chart.umd.min.js"),
];

for (const required of [uswds, htmx, atlas, ...mapScripts]) {
  if (!existsSync(required)) {
    console.error(`missing ${required}: run npm ci in assets/ first`);
    process.exit(1);
  }
}
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "js"), { recursive: true });
for (const part of ["css", "fonts", "img", "js"]) {
  cpSync(join(uswds, part), join(out, "uswds", part), { recursive: true });
}
cpSync(htmx, join(out, "js", "htmx.min.js"));
for (const script of mapScripts) {
  cpSync(script, join(out, "js", basename(script)));
  // A script that names its source map must ship it: the manifest static storage refuses a missing one.
  if (existsSync(`${script}.map`)) {
    cpSync(`${script}.map`, join(out, "js", `${basename(script)}.map`));
  }
}
cpSync(atlas, join(out, "atlas", "counties-10m.json"));
cpSync(join(here, "src"), join(out, "app"), { recursive: true });
console.log(`built ${out}`);
