// The printable trial summary: its "Print this page" button (hidden without JavaScript, where
// the browser's own Print command does the same).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
