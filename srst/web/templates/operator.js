"use strict";
// Put each "live" event's fragment in place: the page is never reloaded.
(function () {
  const live = document.getElementById("live");
  const connection = document.getElementById("connection");
  const source = new EventSource(document.body.dataset.events);
  source.addEventListener("live", function (event) {
    live.innerHTML = event.data;
    connection.textContent = "live";
  });
  source.addEventListener("open", function () { connection.textContent = "live"; });
  source.addEventListener("error", function () { connection.textContent = "reconnecting…"; });
})();
