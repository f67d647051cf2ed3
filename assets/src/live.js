// The live feed: listens to /alerts/live/ (server-sent events) and, when an alert arrives, shows a
// banner, refreshes the alert list if it is on the page, and pops up a browser notification when
// the person allowed them; a sighting on a readable alert is passed on as a `cg:sighting` DOM event
// (the campaign map refreshes). Everything shown comes from the stream as text, never as HTML.
(function () {
  "use strict";
  var region = document.getElementById("cg-live");
  if (!region || !window.EventSource) {
    return;
  }
  var wantsNotifications = region.getAttribute("data-notify") === "1";

  function banner(alert) {
    var box = document.createElement("div");
    box.className = "usa-alert usa-alert--info usa-alert--slim cg-live-alert";
    var body = document.createElement("div");
    body.className = "usa-alert__body";
    var text = document.createElement("p");
    text.className = "usa-alert__text";
    var prefix = alert.status === "revoked" ? "Alert revoked: " : alert.status === "updated" ? "Alert updated: " : "New alert: ";
    text.appendChild(document.createTextNode(prefix));
    var link = document.createElement("a");
    link.className = "usa-link";
    link.href = alert.url;
    link.textContent = alert.title;
    text.appendChild(link);
    text.appendChild(document.createTextNode(" (" + alert.tlp + ", " + alert.severity + ")"));
    body.appendChild(text);
    box.appendChild(body);
    region.insertBefore(box, region.firstChild);
    while (region.children.length > 3) {
      region.removeChild(region.lastChild);
    }
  }

  function notify(alert) {
    if (!wantsNotifications || !("Notification" in window) || Notification.permission !== "granted") {
      return;
    }
    var note = new Notification(alert.tlp + " " + alert.title, {
      body: alert.severity + " · " + alert.category,
      tag: alert.id + ":" + alert.version,
    });
    note.onclick = function () {
      window.focus();
      window.location.href = alert.url;
    };
  }

  function refreshList() {
    var results = document.getElementById("results");
    if (results && results.hasAttribute("data-live-refresh") && window.htmx) {
      window.htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#results", swap: "innerHTML" });
    }
  }

  var source = new EventSource(region.getAttribute("data-stream"));
  source.addEventListener("hello", function () {
    region.setAttribute("data-connected", "1");
  });
  source.addEventListener("alert", function (event) {
    var alert = JSON.parse(event.data);
    banner(alert);
    notify(alert);
    refreshList();
  });
  // A sighting was reported on an alert this person may read: no banner, but an open campaign map
  // (campaign.js) listens for this and fetches its figures again.
  source.addEventListener("sighting", function (event) {
    var detail = JSON.parse(event.data);
    document.dispatchEvent(new CustomEvent("cg:sighting", { detail: detail }));
  });

  // The preferences page: ask the browser for permission to notify.
  var ask = document.getElementById("cg-notify-permission");
  var status = document.getElementById("cg-notify-status");
  if (ask && "Notification" in window) {
    ask.hidden = Notification.permission === "granted";
    if (status) {
      status.textContent = "Browser notifications: " + Notification.permission + ".";
    }
    ask.addEventListener("click", function () {
      Notification.requestPermission().then(function (answer) {
        if (status) {
          status.textContent = "Browser notifications: " + answer + ".";
        }
        ask.hidden = answer === "granted";
      });
    });
  }
})();
