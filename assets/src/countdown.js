// Live countdowns to reporting deadlines: every element with data-cg-due="<ISO time>" shows the time
// left ("5 h 20 min left") or, once passed, "overdue by …". The server renders the same text, so the
// page reads correctly without scripts; this only keeps it current. Text only, never HTML.
(function () {
  "use strict";
  var clocks = document.querySelectorAll("[data-cg-due]");
  if (!clocks.length) {
    return;
  }

  function span(seconds) {
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    if (days) {
      return days + " d " + hours + " h";
    }
    if (hours) {
      return hours + " h " + minutes + " min";
    }
    return minutes + " min";
  }

  function tick() {
    var now = Date.now();
    for (var i = 0; i < clocks.length; i++) {
      var due = Date.parse(clocks[i].getAttribute("data-cg-due"));
      if (isNaN(due)) {
        continue;
      }
      var seconds = Math.round((due - now) / 1000);
      clocks[i].textContent = seconds > 0 ? span(seconds) + " left" : "overdue by " + span(-seconds);
      clocks[i].classList.toggle("cg-countdown--overdue", seconds <= 0);
    }
  }

  tick();
  window.setInterval(tick, 15000);
})();
