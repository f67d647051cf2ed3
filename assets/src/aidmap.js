/* The mutual aid dashboard's county map: counties coloured by responders deployed there.
 * The table under the map gives the same figures (the map's text alternative). */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const MARGIN = 8;

  function draw(root, data, topology) {
    const projected = window.cgCountyMap.project(topology, data.state.fips);
    if (!projected) {
      return;
    }
    const { counties, collection, path } = projected;
    const svg = root.querySelector("svg");
    const byFips = new Map(data.counties.map((c) => [c.fips, c]));
    const group = document.createElementNS(SVG_NS, "g");
    for (const feature of counties) {
      const fips = String(feature.id);
      const county = byFips.get(fips);
      const shape = document.createElementNS(SVG_NS, "path");
      shape.setAttribute("d", path(feature));
      shape.setAttribute("class", "cg-county");
      shape.setAttribute("data-fips", fips);
      shape.setAttribute("fill", county ? county.colour : data.no_value_colour);
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `${county ? county.name : feature.properties.name}: ${county ? county.display : "none deployed"}`;
      shape.appendChild(title);
      group.appendChild(shape);
    }
    svg.appendChild(group);
    const [[x0, y0], [x1, y1]] = path.bounds(collection);
    const box = [x0 - MARGIN, y0 - MARGIN, x1 - x0 + 2 * MARGIN, y1 - y0 + 2 * MARGIN];
    svg.setAttribute("viewBox", box.map((v) => v.toFixed(1)).join(" "));
    root.classList.add("cg-map--drawn");
  }

  const node = document.getElementById("aid-map-data");
  const root = document.getElementById("aid-map");
  if (!node || !root || !window.d3 || !window.topojson || !window.cgCountyMap) {
    return;
  }
  const cfg = JSON.parse(node.textContent);
  fetch(cfg.atlas_url, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(`county atlas: HTTP ${response.status}`);
      }
      return response.json();
    })
    .then((topology) => draw(root, cfg.data, topology))
    .catch((error) => console.warn(error));
})();
