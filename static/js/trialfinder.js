// TrialFinder progressive enhancement. Every page works without this file; with it, the search
// filters update the results in place (htmx) and "Use my location" fills in the browser's
// position. No inline script anywhere: the Content-Security-Policy forbids it.
"use strict";

document.documentElement.classList.add("js");

function onReady(fn) {
  if (document.readyState !== "loading") fn();
  else document.addEventListener("DOMContentLoaded", fn);
}

onReady(function () {
  // Filters apply as soon as they change; the text boxes wait for "Search" (or Enter), so that
  // tabbing out of a half-typed query does not start a search.
  ["id_q", "id_near"].forEach(function (id) {
    var input = document.getElementById(id);
    if (input) input.addEventListener("change", function (event) { event.stopPropagation(); });
  });

  var button = document.getElementById("use-location");
  var near = document.getElementById("id_near");
  if (button && near && "geolocation" in navigator) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      button.disabled = true;
      button.textContent = button.dataset.labelBusy;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          // Three decimals (about 100 m) are enough to find nearby sites.
          near.value = position.coords.latitude.toFixed(3) + "," + position.coords.longitude.toFixed(3);
          button.disabled = false;
          button.textContent = label;
          var form = near.form;
          if (form.requestSubmit) form.requestSubmit();
          else form.submit();
        },
        function () {
          button.disabled = false;
          button.textContent = button.dataset.labelDenied;
          near.focus();
        },
        { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 }
      );
    });
  } else if (button) {
    button.hidden = true;
  }

  // Contact form: the "other language" box only when "Other language" is chosen (without
  // JavaScript it is always shown).
  var otherBox = document.querySelector(".other-language");
  var languages = document.querySelectorAll('input[name="preferred_language"]');
  if (otherBox && languages.length) {
    var sync = function () {
      var other = document.querySelector('input[name="preferred_language"]:checked');
      var show = other && other.value === "other";
      var input = otherBox.querySelector("input");
      otherBox.classList.toggle("is-hidden", !show && !(input && input.value));
    };
    languages.forEach(function (radio) { radio.addEventListener("change", sync); });
    sync();
  }
});

// Search filters: closed on phones (the results come first), open beside the results on wide
// screens; a phone user who opened them keeps them open while the results update.
(function () {
  var wide = window.matchMedia("(min-width: 992px)");
  var keptOpen = false;
  function place() {
    var filters = document.getElementById("filters");
    if (filters) filters.open = wide.matches || keptOpen;
  }
  onReady(place);
  wide.addEventListener("change", place);
  document.addEventListener("htmx:beforeSwap", function () {
    var filters = document.getElementById("filters");
    keptOpen = !wide.matches && !!(filters && filters.open);
  });
  document.addEventListener("htmx:afterSettle", place);
})();
