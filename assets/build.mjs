// Builds assets/build/ from the npm packages and assets/src/: no CDN, no committed bundles.
import { cpSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "build");
const uswds = join(here, "node_modules", "@uswds", "uswds", "dist");
const htmx = join(here, "node_modules", "htmx.org", "dist", "htmx.min.js");

for (const required of [uswds, htmx]) {
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
cpSync(join(here, "src"), join(out, "app"), { recursive: true });
console.log(`built ${out}`);
