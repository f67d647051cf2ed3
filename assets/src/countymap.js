/* The counties of one state, projected for an SVG: shared by the campaign map and the state dashboard.
 * window.cgCountyMap.project(topology, stateFips) -> { counties, collection, path } or null when the atlas has none.
 * window.cgCountyMap.draw(svg, topology, stateFips, paint) draws one <path class="cg-county" data-fips> (with a
 *   <title>) per county, crops the SVG to the state and returns { paths: Map fips -> <path>, names: Map fips ->
 *   atlas name, path, group } or null; paint(shape, fips, feature) colours and titles each shape.
 * Needs d3-geo and topojson-client (loaded before this file). */
(function () {
  "use strict";

  const WIDTH = 960;
  const HEIGHT = 600;
  const MARGIN = 8;

  function centreLongitude(x0, x1) {
    // geoBounds gives x0 > x1 when the area crosses the antimeridian (Alaska).
    let centre = x0 <= x1 ? (x0 + x1) / 2 : (x0 + x1 + 360) / 2;
    if (centre > 180) {
      centre -= 360;
    }
    return centre;
  }

  function project(topology, stateFips) {
    // Only the state's counties are turned into features (the atlas holds the whole country).
    const own = {
      type: "GeometryCollection",
      geometries: topology.objects.counties.geometries.filter((g) => String(g.id).slice(0, 2) === stateFips),
    };
    const counties = window.topojson.feature(topology, own).features;
    if (!counties.length) {
      return null;
    }
    const collection = { type: "FeatureCollection", features: counties };
    const [[x0, y0], [x1, y1]] = window.d3.geoBounds(collection);
    // A conformal conic with its standard parallels inside the state keeps counties' shapes.
    const projection = window.d3
      .geoConicConformal()
      .parallels([y0 + (y1 - y0) / 6, y1 - (y1 - y0) / 6])
      .rotate([-centreLongitude(x0, x1), 0])
      .fitExtent(
        [
          [MARGIN, MARGIN],
          [WIDTH - MARGIN, HEIGHT - MARGIN],
        ],
        collection,
      );
    return { counties, collection, path: window.d3.geoPath(projection), width: WIDTH, height: HEIGHT };
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  function draw(svg, topology, stateFips, paint) {
    const projected = project(topology, stateFips);
    if (!projected) {
      return null;
    }
    const { counties, collection, path } = projected;
    const paths = new Map();
    const names = new Map();
    const group = document.createElementNS(SVG_NS, "g");
    group.setAttribute("class", "cg-map__counties");
    for (const feature of counties) {
      const fips = String(feature.id);
      names.set(fips, feature.properties.name);
      const shape = document.createElementNS(SVG_NS, "path");
      shape.setAttribute("d", path(feature));
      shape.setAttribute("class", "cg-county");
      shape.setAttribute("data-fips", fips);
      shape.appendChild(document.createElementNS(SVG_NS, "title"));
      if (paint) {
        paint(shape, fips, feature);
      }
      group.appendChild(shape);
      paths.set(fips, shape);
    }
    svg.appendChild(group);
    // Crop the drawing to the state, so that a tall state is not lost in a wide box.
    const [[bx0, by0], [bx1, by1]] = path.bounds(collection);
    const box = [bx0 - MARGIN, by0 - MARGIN, bx1 - bx0 + 2 * MARGIN, by1 - by0 + 2 * MARGIN];
    svg.setAttribute("viewBox", box.map((v) => v.toFixed(1)).join(" "));
    return { paths, names, path, group };
  }

  window.cgCountyMap = { project, draw };
})();
