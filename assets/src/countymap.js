/* The counties of one state, projected for an SVG: shared by the campaign map and the state dashboard.
 * window.cgCountyMap.project(topology, stateFips) -> { counties, collection, path } or null when the atlas has none.
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

  window.cgCountyMap = { project };
})();
