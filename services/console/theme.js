// Light, dark or the system's choice, applied before the page paints (a classic
// script, so there is no flash of the wrong theme); the choice is kept per browser.
(function () {
  var KEY = "junction.theme";
  function apply(choice) {
    var root = document.documentElement;
    if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
    else root.removeAttribute("data-theme");
  }
  var saved = null;
  try { saved = localStorage.getItem(KEY); } catch (e) { /* storage may be off */ }
  apply(saved);
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("theme");
    if (!select) return;
    select.value = saved === "light" || saved === "dark" ? saved : "system";
    select.addEventListener("change", function () {
      try { localStorage.setItem(KEY, select.value); } catch (e) { /* kept for this page only */ }
      apply(select.value);
      document.dispatchEvent(new CustomEvent("themechange"));
    });
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
      document.dispatchEvent(new CustomEvent("themechange"));
    });
  }
})();
