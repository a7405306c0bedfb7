// The workbench's only script (the CSP allows no inline script): htmx settings, the CSRF
// header on htmx requests, sign-out after idle time, and a signed-out response leading
// to the sign-in page.
(function () {
  "use strict";
  if (window.htmx) {
    // Set before htmx starts (both scripts are deferred, htmx first).
    htmx.config.includeIndicatorStyles = false; // it would add an inline <style>
    htmx.config.allowEval = false;
    htmx.config.allowScriptTags = false;
    htmx.config.selfRequestsOnly = true;
    htmx.config.historyCacheSize = 0; // no page (PHI) kept in localStorage
    htmx.config.refreshOnHistoryMiss = true;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A request whose session ended was sent to /login: show that page, not a fragment.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var url = event.detail.xhr && event.detail.xhr.responseURL;
    if (url && new URL(url).pathname === "/login") {
      event.detail.shouldSwap = false;
      window.location.assign("/login");
    }
  });

  // "Approve" approves the saved letter: say so when the editor holds an unsaved edit.
  document.addEventListener("submit", function (event) {
    var text = document.getElementById("letter-markdown");
    if (event.target.id === "approve-form" && text && text.value !== text.defaultValue &&
        !window.confirm("Your edit is not saved. Approve the saved letter without it?")) {
      event.preventDefault();
    }
  });

  // Sign out after the server's idle time without a key press, click or pointer move,
  // so a screen left open stops showing PHI (the server ends the session too). While the
  // auditor is active without sending requests (reading a letter), /ping keeps the
  // server's session alive.
  document.addEventListener("DOMContentLoaded", function () {
    var seconds = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
    var form = document.getElementById("logout-form");
    if (!form || !seconds) {
      return;
    }
    var lastActive = Date.now();
    var lastPing = Date.now();
    ["keydown", "mousedown", "pointermove", "scroll", "touchstart"].forEach(function (name) {
      document.addEventListener(name, function () { lastActive = Date.now(); },
                                { passive: true });
    });
    var every = Math.max(5, Math.min(60, Math.floor(seconds / 3))) * 1000;
    window.setInterval(function () {
      var now = Date.now();
      if (now - lastActive >= seconds * 1000) {
        form.submit();
      } else if (lastActive > lastPing) {
        lastPing = now;
        fetch("/ping", { credentials: "same-origin", cache: "no-store" });
      }
    }, every);
  });
})();
