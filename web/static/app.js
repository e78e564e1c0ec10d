/* The desk's behaviour: live ticket list, transcript that follows the recording.
   Plain JavaScript, bundled with the app (no CDN), and every page works without it. */
(function () {
  "use strict";

  var POLL_MS = 10000;

  /* --- the ticket list: new tickets appear without reloading ---------------------------- */
  function startLiveList(table) {
    if (table.dataset.live !== "on") { return; }
    var status = document.getElementById("live-status");
    var label = status ? status.dataset.newLabel : "";
    var arrived = 0;
    var timer = null;

    function poll() {
      if (document.hidden) { return; }
      var url = table.dataset.updatesUrl;
      url += (url.indexOf("?") >= 0 ? "&" : "?") + "after=" + encodeURIComponent(table.dataset.after);
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", redirect: "error" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          table.dataset.after = String(data.latest_id);
          if (!data.rows || !data.rows.length) { return; }
          var body = table.tBodies[0];
          var template = document.createElement("template");
          template.innerHTML = data.rows.join("");
          var rows = Array.prototype.slice.call(template.content.querySelectorAll("tr"));
          rows.reverse().forEach(function (row) {
            row.classList.add("is-new");
            body.insertBefore(row, body.firstChild);
          });
          var empty = document.getElementById("empty-note");
          if (empty) { empty.remove(); }
          arrived += data.count;
          if (status) { status.textContent = label.replace("{n}", String(arrived)); }
          document.title = "(" + arrived + ") " + document.title.replace(/^\(\d+\) /, "");
        })
        .catch(function () {
          /* Signed out or offline: stop asking; a reload shows the login page or the list. */
          if (timer) { clearInterval(timer); }
        });
    }
    timer = setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
  }

  /* --- the transcript: click a line to play from there; the playing line is marked ------ */
  function startTranscript(list) {
    var audio = document.getElementById(list.dataset.player);
    if (!audio) { return; }
    var buttons = Array.prototype.slice.call(list.querySelectorAll(".segment"));
    var current = null;

    function seek(seconds) {
      var go = function () {
        audio.currentTime = seconds;
        var played = audio.play();
        if (played && played.catch) { played.catch(function () {}); }
      };
      if (audio.readyState >= 1) { go(); }
      else { audio.addEventListener("loadedmetadata", go, { once: true }); audio.load(); }
    }

    function mark(time) {
      var found = null;
      for (var i = 0; i < buttons.length; i++) {
        var start = parseFloat(buttons[i].dataset.start);
        var end = parseFloat(buttons[i].dataset.end);
        if (time >= start && time < end) { found = buttons[i]; break; }
      }
      if (found === current) { return; }
      if (current) { current.classList.remove("is-playing"); current.removeAttribute("aria-current"); }
      current = found;
      if (current) { current.classList.add("is-playing"); current.setAttribute("aria-current", "true"); }
    }

    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var start = parseFloat(button.dataset.start) || 0;
        mark(start);
        seek(start);
      });
    });
    audio.addEventListener("timeupdate", function () { mark(audio.currentTime); });
    audio.addEventListener("seeked", function () { mark(audio.currentTime); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("ticket-table");
    if (table) { startLiveList(table); }
    Array.prototype.forEach.call(document.querySelectorAll(".segments[data-player]"), startTranscript);
  });
})();
