// The workbench's only script (the CSP allows no inline script): htmx settings, the CSRF
// header on htmx requests, sign-out after idle time, a signed-out response leading to the
// sign-in page, and the needs-review form's selection of words in a chart document.
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

  // The needs-review form (templates/_supply.html): words selected in a chart document
  // (pre.document-text, whose text is the stored text and data-length its length) become
  // the document and the offsets of the form. Offsets count code points, as Python and the
  // server do; a JavaScript string counts UTF-16 units, two for an emoji.
  function codePoints(text) {
    return Array.from(text).length;
  }

  function chartText(node) {
    var element = node && node.nodeType === Node.ELEMENT_NODE ? node : node && node.parentElement;
    return element ? element.closest("pre.document-text") : null;
  }

  function offsetIn(pre, node, offset) {
    var range = document.createRange();
    range.selectNodeContents(pre);
    range.setEnd(node, offset);
    return codePoints(range.toString());
  }

  // The selection as {pre, start, end} in one document (trimmed of white space at its
  // ends), or {problem} when it cannot be one, or null when nothing is selected.
  function selectedSpan() {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) {
      return null;
    }
    var range = selection.getRangeAt(0);
    var pres = Array.prototype.filter.call(
      document.querySelectorAll("pre.document-text"),
      function (pre) { return range.intersectsNode(pre); });
    if (pres.length === 0) {
      return null;
    }
    if (pres.length > 1) {
      return { problem: "Select words within one document." };
    }
    var pre = pres[0];
    var chars = Array.from(pre.textContent);
    if (chars.length !== parseInt(pre.getAttribute("data-length") || "-1", 10)) {
      return { problem: "This page does not hold the document's text exactly: type the " +
                        "numbers instead." };
    }
    // A selection that runs past the document (a triple click) is cut at its edges.
    var start = chartText(range.startContainer) === pre ?
      offsetIn(pre, range.startContainer, range.startOffset) : 0;
    var end = chartText(range.endContainer) === pre ?
      offsetIn(pre, range.endContainer, range.endOffset) : chars.length;
    while (start < end && /\s/.test(chars[start])) { start += 1; }
    while (end > start && /\s/.test(chars[end - 1])) { end -= 1; }
    if (start >= end) {
      return null;
    }
    return { pre: pre, start: start, end: end };
  }

  function supplyForm() {
    return document.getElementById("supply-form");
  }

  // Show the words the form's document and numbers choose, as the server will read them
  // (or why a selection could not be used).
  function showChosen(problem) {
    var form = supplyForm();
    var line = document.getElementById("supply-selection-line");
    var out = document.getElementById("supply-selection");
    var trouble = document.getElementById("supply-selection-problem");
    if (!form || !line || !out || !trouble) {
      return;
    }
    trouble.textContent = problem || "";
    trouble.hidden = !problem;
    if (problem) {
      return;
    }
    var option = form.elements.document_id.selectedOptions[0];
    var pre = option && document.getElementById(option.getAttribute("data-text"));
    var start = parseInt(form.elements.start.value, 10);
    var end = parseInt(form.elements.end.value, 10);
    if (!pre || isNaN(start) || isNaN(end) || start < 0 || end <= start) {
      line.hidden = true;
      return;
    }
    out.textContent = Array.from(pre.textContent).slice(start, end).join("");
    line.hidden = false;
  }

  function useSelection(span) {
    var form = supplyForm();
    if (!form || !span) {
      return false;
    }
    if (span.problem) {
      showChosen(span.problem);
      return false;
    }
    var select = form.elements.document_id;
    Array.prototype.forEach.call(select.options, function (option) {
      if (option.getAttribute("data-text") === span.pre.id) {
        select.value = option.value;
      }
    });
    form.elements.start.value = String(span.start);
    form.elements.end.value = String(span.end);
    showChosen();
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = supplyForm();
    if (!form) {
      return;
    }
    // The last selection made in a document: moving the focus to the form (a click in a
    // field, Tab) may take the selection away before the button is pressed.
    var last = null;
    var button = document.getElementById("supply-use-selection");
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!useSelection(selectedSpan() || last)) {
        showChosen("Select words in a chart document first.");
      }
    });
    var pending = 0;
    document.addEventListener("selectionchange", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        var span = selectedSpan();
        if (span && !span.problem) {
          last = span;
        }
        useSelection(span);
      }, 120);
    });
    ["input", "change"].forEach(function (name) {
      form.addEventListener(name, function () { showChosen(); });
    });
    showChosen();
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
