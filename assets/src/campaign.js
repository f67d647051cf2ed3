// The campaign map: the hub state's counties (us-atlas, drawn with d3-geo), coloured by the
// sightings reported there, and the table that says the same in words. It refreshes at once when
// the live feed (live.js) says a sighting was reported on the mapped alert (or on any alert, for the
// statewide map), and otherwise asks the server for fresh figures every few seconds, as a fallback;
// `CommonGuardCampaign.refresh()` does it on demand.
(function () {
  "use strict";

  const root = document.getElementById("campaign-map");
  const configNode = document.getElementById("campaign-data");
  if (!root || !configNode || !window.d3 || !window.topojson) {
    return;
  }
  const config = JSON.parse(configNode.textContent);
  const svg = root.querySelector("svg");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const paths = new Map(); // county FIPS -> <path>
  const atlasNames = new Map(); // county FIPS -> the atlas's name ("Ingham")
  let current = config.data;
  let lastSummary = null;
  let timer = null;
  let stopped = false;

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function colourFor(sightings) {
    let colour = config.scale.none;
    for (const step of config.scale.classes) {
      if (sightings >= step.min) {
        colour = step.colour;
      }
    }
    return colour;
  }

  function countyName(fips, fromServer) {
    if (fromServer) {
      return fromServer;
    }
    if (config.county_names[fips]) {
      return config.county_names[fips];
    }
    const atlas = atlasNames.get(fips);
    return atlas ? `${atlas} (county ${fips})` : `County ${fips}`;
  }

  function formatTime(iso, withSeconds) {
    return iso ? new Date(iso).toISOString().slice(0, withSeconds ? 19 : 16).replace("T", " ") : "";
  }

  function element(name, attributes, text) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attributes || {})) {
      node.setAttribute(key, value);
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // --- Drawing the counties (once) -------------------------------------------------------

  function draw(topology) {
    const stateFips = config.data.state.fips;
    const drawn = window.cgCountyMap.draw(svg, topology, stateFips);
    if (!drawn) {
      return;
    }
    drawn.names.forEach((name, fips) => atlasNames.set(fips, name));
    drawn.paths.forEach((shape, fips) => paths.set(fips, shape));
    const states = topology.objects.states;
    const own = { type: "GeometryCollection", geometries: states.geometries.filter((g) => String(g.id) === stateFips) };
    const outline = document.createElementNS(SVG_NS, "path");
    outline.setAttribute("d", drawn.path(window.topojson.mesh(topology, own)));
    outline.setAttribute("class", "cg-map__state");
    svg.appendChild(outline);
    root.classList.add("cg-map--drawn");
  }

  // --- Applying figures (every refresh) --------------------------------------------------

  function summaryText(data) {
    const t = data.totals;
    let text = "No sightings reported yet.";
    if (t.sightings) {
      text = `${plural(t.sightings, "sighting", "sightings")} from ${plural(t.organisations, "organisation", "organisations")}`;
      if (t.counties) {
        text += ` in ${plural(t.counties, "county", "counties")}`;
      }
      text += ".";
    }
    return `${text} ${plural(t.false_positives, "organisation", "organisations")} found it a false positive (not mapped).`;
  }

  function tooltip(name, area) {
    if (!area) {
      return `${name}: no sightings`;
    }
    let text = `${name}: ${plural(area.sightings, "sighting", "sightings")} from ${plural(area.organisations, "organisation", "organisations")}`;
    if (area.reporters.length) {
      text += ` (${area.reporters.join(", ")})`;
    }
    return text;
  }

  function applyMap(data, byFips) {
    for (const [fips, shape] of paths) {
      const area = byFips.get(fips);
      const name = countyName(fips, area && area.name);
      shape.setAttribute("fill", colourFor(area ? area.sightings : 0));
      shape.classList.toggle("cg-county--seen", Boolean(area));
      shape.firstChild.textContent = tooltip(name, area);
    }
    const listed = data.counties.slice(0, 20).map((a) => `${countyName(a.fips, a.name)} ${a.sightings}`);
    let label = `Map of ${data.state.name} counties coloured by sightings. `;
    if (data.counties.length) {
      label += `Sightings by county: ${listed.join(", ")}`;
      if (data.counties.length > listed.length) {
        label += ` and ${data.counties.length - listed.length} more`;
      }
      label += ". The table below gives the same figures.";
    } else {
      label += "No county has reported a sighting yet.";
    }
    svg.setAttribute("aria-label", label);
  }

  function applyTable(data) {
    const body = document.getElementById("campaign-rows");
    const rows = [];
    for (const area of data.counties) {
      const row = element("tr", { "data-fips": area.fips });
      row.appendChild(element("th", { scope: "row", "data-label": "County" }, countyName(area.fips, area.name)));
      row.appendChild(element("td", { "data-label": "Sightings" }, String(area.sightings)));
      row.appendChild(element("td", { "data-label": "Organisations" }, String(area.organisations)));
      row.appendChild(element("td", { "data-label": "Times seen" }, String(area.times)));
      row.appendChild(element("td", { "data-label": "Last seen (UTC)" }, formatTime(area.last_seen)));
      row.appendChild(element("td", { "data-label": "Reported by" }, area.reporters.join(", ") || "—"));
      rows.push(row);
    }
    if (!rows.length) {
      const row = element("tr");
      row.appendChild(element("td", { colspan: "6" }, "No county has reported a sighting yet."));
      rows.push(row);
    }
    body.replaceChildren(...rows);
    const other = data.not_mapped;
    let text = "";
    if (other.sightings) {
      text = `Not shown by county: ${plural(other.sightings, "sighting", "sightings")} from ${plural(other.organisations, "organisation", "organisations")}`;
      text += other.reporters.length ? ` (${other.reporters.join(", ")}).` : ".";
    }
    document.getElementById("campaign-not-mapped").textContent = text;
  }

  function apply(data) {
    current = data;
    const byFips = new Map(data.counties.map((a) => [a.fips, a]));
    applyMap(data, byFips);
    applyTable(data);
    // Announced (aria-live) only when the figures change, not at every poll.
    const summary = summaryText(data);
    if (summary !== lastSummary) {
      document.getElementById("campaign-summary").textContent = summary;
      lastSummary = summary;
    }
    document.getElementById("campaign-updated").textContent = `Figures as of ${formatTime(data.updated_at, true)} UTC.`;
  }

  // --- Refreshing ------------------------------------------------------------------------

  async function refresh() {
    if (stopped) {
      return current;
    }
    const response = await fetch(config.data_url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (response.status === 404) {
      // The alert is gone, or no longer shared with this person: stop asking.
      stopped = true;
      document.getElementById("campaign-updated").textContent = "This alert is no longer available to you.";
      return current;
    }
    if (!response.ok) {
      throw new Error(`campaign data: HTTP ${response.status}`);
    }
    apply(await response.json());
    return current;
  }

  function schedule() {
    timer = window.setTimeout(async () => {
      if (!document.hidden) {
        try {
          await refresh();
        } catch (error) {
          console.warn(error); // a dropped connection: try again at the next tick
        }
      }
      if (!stopped) {
        schedule();
      }
    }, config.poll_seconds * 1000);
  }

  // Live: a sighting on this alert (any alert, statewide) fetches the figures now, not at the next tick.
  let pending = null;
  document.addEventListener("cg:sighting", (event) => {
    const detail = event.detail || {};
    if (current.alert && detail.id !== current.alert) {
      return;
    }
    if (pending === null) {
      // A burst of sightings (a log lookup records several) is one fetch.
      pending = window.setTimeout(() => {
        pending = null;
        refresh().catch((error) => console.warn(error));
      }, 250);
    }
  });

  window.CommonGuardCampaign = { refresh, apply, current: () => current };
  lastSummary = document.getElementById("campaign-summary").textContent.trim();
  fetch(config.atlas_url, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(`county atlas: HTTP ${response.status}`);
      }
      return response.json();
    })
    .then((topology) => {
      draw(topology);
      apply(current);
    })
    .catch((error) => console.warn(error))
    .finally(() => {
      if (timer === null) {
        schedule();
      }
    });
})();
