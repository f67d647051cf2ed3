// Measurement charts and the state dashboard map. Every chart and the map have a table next to
// them, rendered by the server first: these drawings add nothing the tables do not say.
(function () {
  "use strict";

  const BLUE = "#005ea2";
  const ORANGE = "#c05600";
  const GREY = "#565c65";
  const GREEN = "#538200";

  function config(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function chartReady() {
    return typeof window.Chart === "function";
  }

  // --- The posture radar (assessment results) ---------------------------------------------

  function radar() {
    const data = config("posture-chart");
    const canvas = document.getElementById("posture-radar");
    if (!data || !canvas || !chartReady()) {
      return;
    }
    const datasets = [
      { label: `${data.year}`, data: data.own, borderColor: BLUE, backgroundColor: "rgba(0, 94, 162, 0.15)" },
      {
        label: `Recommended minimum (${data.minimum})`,
        data: data.labels.map(() => data.minimum),
        borderColor: GREY,
        borderDash: [6, 4],
        pointRadius: 0,
        fill: false,
      },
    ];
    if (data.peers) {
      datasets.push({ label: "Peers (mean)", data: data.peers, borderColor: ORANGE, fill: false });
    }
    if (data.previous) {
      datasets.push({ label: `${data.previous_year}`, data: data.previous, borderColor: GREEN, fill: false });
    }
    new window.Chart(canvas, {
      type: "radar",
      data: { labels: data.labels, datasets },
      options: {
        animation: false,
        scales: { r: { min: 0, max: 7, ticks: { stepSize: 1 } } },
        plugins: {
          tooltip: {
            callbacks: { title: (items) => `${data.labels[items[0].dataIndex]} ${data.titles[items[0].dataIndex]}` },
          },
        },
      },
    });
  }

  // --- The survey trend ------------------------------------------------------------------

  function surveyTrend() {
    const data = config("survey-chart");
    const canvas = document.getElementById("survey-trend");
    if (!data || !canvas || !chartReady()) {
      return;
    }
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.years,
        datasets: [
          { label: "Excellent (%)", data: data.excellent, borderColor: BLUE, spanGaps: false },
          { label: "Poor (%)", data: data.poor, borderColor: ORANGE, spanGaps: false },
          {
            label: `National baseline: poor (${data.baseline_poor} %)`,
            data: data.years.map(() => data.baseline_poor),
            borderColor: GREY,
            borderDash: [6, 4],
            pointRadius: 0,
          },
        ],
      },
      options: { animation: false, scales: { y: { min: 0, max: 100 } } },
    });
  }

  // --- The dashboard: map and trends ---------------------------------------------------

  function drawMap(root, data, topology) {
    const svg = root.querySelector("svg");
    const byFips = new Map(data.counties.map((c) => [c.fips, c]));
    const drawn = window.cgCountyMap.draw(svg, topology, data.state.fips, (shape, fips, feature) => {
      const county = byFips.get(fips);
      shape.setAttribute("fill", county ? county.colour : data.no_value_colour);
      shape.firstChild.textContent = `${county ? county.name : feature.properties.name}: ${
        county ? county.display : "no data"
      }`;
    });
    if (!drawn) {
      return;
    }
    root.classList.add("cg-map--drawn");
    root.dataset.drawnMs = String(Math.round(performance.now()));
  }

  function trends(data) {
    if (!chartReady()) {
      return;
    }
    for (const canvas of document.querySelectorAll(".cg-trend__chart")) {
      const key = canvas.dataset.layer;
      const points = data.trends[key] || [];
      new window.Chart(canvas, {
        type: "line",
        data: {
          labels: points.map((p) => String(p.year)),
          datasets: [{ label: key, data: points.map((p) => p.value), borderColor: BLUE, spanGaps: false }],
        },
        options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
      });
    }
  }

  function dashboard() {
    const cfg = config("dashboard-data");
    const root = document.getElementById("dashboard-map");
    if (!cfg || !root) {
      return;
    }
    if (!window.d3 || !window.topojson) {
      trends(cfg.data);
      return;
    }
    fetch(cfg.atlas_url, { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) {
          throw new Error(`county atlas: HTTP ${response.status}`);
        }
        return response.json();
      })
      .then((topology) => drawMap(root, cfg.data, topology))
      .catch((error) => console.warn(error))
      .finally(() => trends(cfg.data)); // the map first, then the charts
  }

  radar();
  surveyTrend();
  dashboard();
})();
