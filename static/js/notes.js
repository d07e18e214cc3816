// Private notes on a trial page, and notes shared through a passcode-protected link.
//
// Notes stay in this browser: localStorage, one key per trial ("tf-notes:<NCT id>"). Notes
// written without JavaScript come in a cookie of the trial's pages; they are moved here and the
// cookie is cleared. Sharing encrypts the notes in this browser before anything is sent:
//
//   master   = PBKDF2-SHA-256(passcode, random 16-byte salt, 600,000 iterations): 256 bits
//   key      = HKDF-SHA-256(master, "trialfinder notes v1 key"): the AES-256-GCM key
//   verifier = HKDF-SHA-256(master, "trialfinder notes v1 verifier"): proves the passcode
//
// The server keeps the ciphertext, IV, salt, iterations and a hash of the verifier, and answers
// with the ciphertext only to the right verifier (patients/notes.py). The AES-GCM additional
// data binds the notes to their trial.
//
// Every text shown comes from the page (data-msg-* attributes, <template>s), in the page's
// language; note texts are only ever written with textContent. No inline script or style: the
// floating button is placed through the CSSOM, which the Content-Security-Policy allows.
"use strict";

(function () {
  var encoder = new TextEncoder();
  var decoder = new TextDecoder();
  var KEY_INFO = "trialfinder notes v1 key";
  var VERIFIER_INFO = "trialfinder notes v1 verifier";
  var PASSCODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"; // no 0/o, 1/l/i
  var CONTEXT_CHARS = 32; // text kept before and after a passage, to find it again
  // Never a note's passage: controls, navigation, the notes themselves, the sidebar.
  var SKIP = "script, style, template, noscript, textarea, input, select, button, form, nav, " +
    ".tf-notes, .tf-note-float, #trial-sidebar, .gloss-def";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // --- small helpers ------------------------------------------------------------------------

  function tidy(text) { return (text || "").replace(/\s+/g, " ").trim(); }
  function squash(text) { return (text || "").replace(/\s+/g, ""); }

  function fill(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : all;
    });
  }

  function formatDate(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    try {
      return date.toLocaleDateString(document.documentElement.lang || undefined,
        { year: "numeric", month: "long", day: "numeric" });
    } catch (error) {
      return date.toISOString().slice(0, 10);
    }
  }

  function randomBytes(length) { return crypto.getRandomValues(new Uint8Array(length)); }

  function newId() {
    return Array.prototype.map.call(randomBytes(8), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function toBase64(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function fromBase64(text) {
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  // A status line read by screen readers (role=status); errors are marked as such.
  function announcer(region) {
    var timer = null;
    return function (text, isError) {
      window.clearTimeout(timer);
      region.classList.toggle("is-error", !!isError);
      region.textContent = "";
      // Emptied then refilled: a message repeated word for word is announced again.
      timer = window.setTimeout(function () { region.textContent = text || ""; }, 30);
    };
  }

  function validNote(note) {
    return note && typeof note === "object" && typeof note.id === "string" &&
      /^[0-9a-f]{8,32}$/.test(note.id) && typeof note.text === "string" && note.text.trim() !== "";
  }

  function cleanNote(note, limits) {
    function str(value, max) { return typeof value === "string" ? value.slice(0, max) : ""; }
    return {
      id: note.id,
      text: str(note.text, limits.text),
      quote: str(note.quote, limits.quote),
      prefix: str(note.prefix, CONTEXT_CHARS),
      suffix: str(note.suffix, CONTEXT_CHARS),
      section: str(note.section, 100),
      created: str(note.created, 40),
      updated: str(note.updated || note.created, 40)
    };
  }

  async function postJSON(url, body, csrfToken) {
    var response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken
        },
        body: JSON.stringify(body)
      });
    } catch (error) {
      return { status: 0, data: {} };
    }
    var data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    return { status: response.status, data: data || {} };
  }

  // --- passages: where a note is anchored ---------------------------------------------------

  function skipped(node) {
    var element = node && (node.nodeType === 1 ? node : node.parentElement);
    return !element || !!element.closest(SKIP);
  }

  function sectionOf(node) {
    var element = node && (node.nodeType === 1 ? node : node.parentElement);
    var section = element && element.closest("section[aria-labelledby]");
    return section ? section.getAttribute("aria-labelledby") : "";
  }

  function sectionTitle(id) {
    var heading = id && document.getElementById(id);
    return heading && !skipped(heading) ? tidy(heading.textContent) : "";
  }

  // The selected passage, with a little text around it and its section, or null.
  function captureSelection(root) {
    var selection = window.getSelection();
    if (!root || !selection || selection.isCollapsed || !selection.rangeCount) return null;
    var range = selection.getRangeAt(0);
    if (!root.contains(range.startContainer) || !root.contains(range.endContainer)) return null;
    if (skipped(range.startContainer) || skipped(range.endContainer)) return null;
    var quote = tidy(selection.toString());
    if (!quote) return null;
    var before = document.createRange();
    before.setStart(root, 0);
    before.setEnd(range.startContainer, range.startOffset);
    var after = document.createRange();
    after.setStart(range.endContainer, range.endOffset);
    after.setEnd(root, root.childNodes.length);
    return {
      quote: quote,
      prefix: tidy(before.toString()).slice(-CONTEXT_CHARS),
      suffix: tidy(after.toString()).slice(0, CONTEXT_CHARS),
      section: sectionOf(range.startContainer),
      rect: range.getBoundingClientRect()
    };
  }

  // The page's text without whitespace, and where each character lives: passages are found
  // whatever line breaks and spaces the selection or the markup put between words.
  function textIndex(root) {
    var chars = [], nodes = [], offsets = [];
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return skipped(node) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      }
    });
    var node;
    while ((node = walker.nextNode())) {
      var data = node.data;
      for (var i = 0; i < data.length; i++) {
        var c = data.charAt(i);
        if (c.trim() !== "") { chars.push(c); nodes.push(node); offsets.push(i); }
      }
    }
    return { text: chars.join(""), nodes: nodes, offsets: offsets };
  }

  // The start of a note's passage in the index (-1 when the page does not have it); the
  // occurrence with the same text around it wins.
  function locate(index, note) {
    var quote = squash(note.quote);
    if (!quote) return -1;
    var prefix = squash(note.prefix), suffix = squash(note.suffix);
    var best = -1, bestScore = -1;
    var at = index.text.indexOf(quote);
    while (at !== -1) {
      var score = 0;
      if (prefix && index.text.slice(Math.max(0, at - prefix.length), at) === prefix) score += 2;
      var end = at + quote.length;
      if (suffix && index.text.slice(end, end + suffix.length) === suffix) score += 1;
      if (score > bestScore) { best = at; bestScore = score; }
      if (score === 3) break;
      at = index.text.indexOf(quote, at + 1);
    }
    return best;
  }

  function wrap(index, start, length, noteId) {
    var parts = [];
    for (var i = start, end = start + length; i < end; i++) {
      var node = index.nodes[i], from = index.offsets[i], to = from;
      while (i + 1 < end && index.nodes[i + 1] === node) { i++; to = index.offsets[i]; }
      parts.push({ node: node, from: from, to: to + 1 });
    }
    // Each part is a different text node: splitting one moves no other part's offsets.
    return parts.map(function (part) {
      var middle = part.node.splitText(part.from);
      middle.splitText(part.to - part.from);
      var mark = document.createElement("mark");
      mark.className = "tf-note-mark";
      mark.dataset.noteId = noteId;
      middle.parentNode.insertBefore(mark, middle);
      mark.appendChild(middle);
      return mark;
    });
  }

  function clearMarks(root) {
    root.querySelectorAll("mark.tf-note-mark").forEach(function (mark) {
      var parent = mark.parentNode;
      while (mark.firstChild) parent.insertBefore(mark.firstChild, mark);
      parent.removeChild(mark);
      parent.normalize();
    });
  }

  // Highlights the notes' passages; returns the first mark of each note found, by note id.
  function highlight(root, notes) {
    var found = {};
    if (!root) return found;
    clearMarks(root);
    notes.forEach(function (note) {
      if (!note.quote) return;
      var index = textIndex(root); // again for each note: wrapping splits text nodes
      var at = locate(index, note);
      if (at < 0) return;
      var marks = wrap(index, at, squash(note.quote).length, note.id);
      marks[0].id = "tf-mark-" + note.id;
      marks[0].tabIndex = -1;
      found[note.id] = marks[0];
    });
    return found;
  }

  function showMark(mark) {
    // A passage inside a closed <details> (the detailed description) is opened first.
    for (var el = mark.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
    }
    document.querySelectorAll("mark.is-target").forEach(function (m) {
      m.classList.remove("is-target");
    });
    document.querySelectorAll('mark[data-note-id="' + mark.dataset.noteId + '"]')
      .forEach(function (m) { m.classList.add("is-target"); });
    mark.scrollIntoView({ block: "center" });
    mark.focus({ preventScroll: true });
  }

  // One note of a list, from the page's <template>: texts only through textContent.
  function noteItem(template, note, mark, msg) {
    var item = template.content.firstElementChild.cloneNode(true);
    item.id = "tf-note-" + note.id;
    var quote = item.querySelector(".tf-note-quote");
    if (note.quote && mark) {
      var link = document.createElement("a");
      link.href = "#" + mark.id;
      link.textContent = note.quote;
      var hint = document.createElement("span");
      hint.className = "visually-hidden";
      hint.textContent = " (" + msg.msgShow + ")";
      link.appendChild(hint);
      link.addEventListener("click", function (event) {
        event.preventDefault();
        showMark(mark);
      });
      quote.appendChild(link);
    } else {
      quote.textContent = note.quote || "";
    }
    var title = sectionTitle(note.section);
    item.querySelector(".tf-note-section").textContent =
      title ? fill(msg.msgSection, { section: title }) : "";
    var text = item.querySelector(".tf-note-text");
    text.id = "tf-note-text-" + note.id;
    text.textContent = note.text;
    var date = formatDate(note.updated || note.created);
    var dateTemplate = note.updated && note.updated !== note.created
      ? msg.msgUpdatedOn : (msg.msgAddedOn || msg.msgUpdatedOn);
    item.querySelector(".tf-note-date").textContent = date ? fill(dateTemplate, { date: date }) : "";
    return item;
  }

  // --- encryption -----------------------------------------------------------------------------

  function normalisePasscode(value) { return (value || "").trim().normalize("NFC"); }

  function generatePasscode() {
    var chars = [];
    while (chars.length < 12) {
      randomBytes(16).forEach(function (b) {
        // 248 = 8 × 31: keeping only bytes below it keeps every character equally likely.
        if (b < 248 && chars.length < 12) chars.push(PASSCODE_ALPHABET.charAt(b % 31));
      });
    }
    return [chars.slice(0, 4), chars.slice(4, 8), chars.slice(8)].map(function (group) {
      return group.join("");
    }).join("-");
  }

  async function deriveSecrets(passcode, salt, iterations) {
    var material = await crypto.subtle.importKey(
      "raw", encoder.encode(passcode), "PBKDF2", false, ["deriveBits"]);
    var master = await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt: salt, iterations: iterations }, material, 256);
    var hkdf = await crypto.subtle.importKey("raw", master, "HKDF", false,
      ["deriveBits", "deriveKey"]);
    var noSalt = new Uint8Array(0);
    var key = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: noSalt, info: encoder.encode(KEY_INFO) },
      hkdf, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    var verifier = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: noSalt, info: encoder.encode(VERIFIER_INFO) },
      hkdf, 256);
    return { key: key, verifier: new Uint8Array(verifier) };
  }

  function additionalData(nctId) { return encoder.encode("trialfinder notes v1 " + nctId); }

  function cryptoAvailable() {
    return !!(window.crypto && window.crypto.subtle && window.isSecureContext !== false);
  }

  // --- the "My notes" panel of a trial page -------------------------------------------------

  function openStorage() {
    try {
      var probe = "tf-notes-probe";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (error) {
      return null;
    }
  }

  function readCookie(name) {
    var prefix = name + "=";
    var found = document.cookie.split("; ").filter(function (part) {
      return part.indexOf(prefix) === 0;
    })[0];
    return found === undefined ? null : found.slice(prefix.length);
  }

  function decodeCookieNotes(value) {
    try {
      var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
      while (base64.length % 4) base64 += "=";
      var data = JSON.parse(decoder.decode(fromBase64(base64)));
      return Array.isArray(data) ? data : [];
    } catch (error) {
      return [];
    }
  }

  function initPanel(panel) {
    var msg = panel.dataset;
    var limits = {
      notes: Number(msg.maxNotes), text: Number(msg.maxNoteChars),
      quote: Number(msg.maxQuoteChars), bytes: Number(msg.maxBytes),
      iterations: Number(msg.iterations), passcode: Number(msg.minPasscode)
    };
    var say = announcer(panel.querySelector(".tf-notes-status"));
    var storage = openStorage();
    if (!storage) {
      // The form still posts to the server, which keeps the notes in a cookie.
      say(msg.msgNoStorage, true);
      return;
    }
    var root = document.querySelector(".trial-page");
    var key = msg.storageKey;
    var list = panel.querySelector(".tf-notes-list");
    var empty = panel.querySelector(".tf-notes-empty");
    var form = panel.querySelector(".tf-note-form");
    var textField = form.elements.text;
    var quoteField = form.elements.quote;
    var csrfToken = form.elements.csrfmiddlewaretoken.value;
    var template = panel.querySelector(".tf-note-template");
    var floating = panel.querySelector(".tf-note-float");
    var heading = document.getElementById("my-notes-heading");
    var pending = null; // the passage the note being written is about
    var lastSelection = null;

    heading.tabIndex = -1;
    panel.querySelectorAll(".tf-js-only").forEach(function (el) { el.hidden = false; });

    function load() {
      try {
        var data = JSON.parse(storage.getItem(key) || "[]");
        return Array.isArray(data)
          ? data.filter(validNote).map(function (n) { return cleanNote(n, limits); })
          : [];
      } catch (error) {
        return [];
      }
    }

    function save(notes) {
      try {
        if (notes.length) storage.setItem(key, JSON.stringify(notes));
        else storage.removeItem(key);
        return true;
      } catch (error) {
        say(msg.msgNoStorage, true);
        return false;
      }
    }

    function importCookieNotes() {
      var raw = readCookie(msg.cookieName);
      if (raw === null) return;
      var notes = load();
      var known = {};
      notes.forEach(function (n) { known[n.id] = true; });
      decodeCookieNotes(raw).forEach(function (note) {
        if (validNote(note) && !known[note.id] && notes.length < limits.notes) {
          notes.push(cleanNote(note, limits));
          known[note.id] = true;
        }
      });
      if (save(notes)) {
        document.cookie = msg.cookieName + "=; Max-Age=0; Path=" + msg.cookiePath +
          "; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
      }
    }

    function render() {
      var notes = load();
      var marks = highlight(root, notes);
      list.textContent = "";
      notes.forEach(function (note) {
        var item = noteItem(template, note, marks[note.id], msg);
        enhanceItem(item, note);
        list.appendChild(item);
      });
      empty.hidden = notes.length > 0;
    }

    function focusNote(id) {
      var item = document.getElementById("tf-note-" + id);
      var button = item && item.querySelector(".tf-note-edit");
      if (button) button.focus();
      else heading.focus();
    }

    function enhanceItem(item, note) {
      var textId = "tf-note-text-" + note.id;
      var actions = item.querySelector(".tf-note-actions");
      var editor = item.querySelector(".tf-note-editor");
      var confirm = item.querySelector(".tf-note-confirm");
      var area = editor.querySelector("textarea");
      area.id = "tf-note-edit-" + note.id;
      editor.querySelector("label").htmlFor = area.id;
      item.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-describedby", textId);
      });

      function closeEditor() {
        editor.hidden = true;
        actions.hidden = false;
        item.querySelector(".tf-note-edit").focus();
      }

      item.querySelector(".tf-note-edit").addEventListener("click", function () {
        area.value = note.text;
        actions.hidden = true;
        editor.hidden = false;
        area.focus();
      });
      item.querySelector(".tf-note-cancel").addEventListener("click", closeEditor);
      area.addEventListener("keydown", function (event) {
        if (event.key === "Escape") closeEditor();
      });
      item.querySelector(".tf-note-save").addEventListener("click", function () {
        var text = area.value.trim().slice(0, limits.text);
        if (!text) { say(msg.msgWriteFirst, true); area.focus(); return; }
        var notes = load().map(function (n) {
          return n.id === note.id ? Object.assign({}, n, { text: text, updated: new Date().toISOString() }) : n;
        });
        if (!save(notes)) return;
        render();
        focusNote(note.id);
        say(msg.msgUpdated);
      });

      item.querySelector(".tf-note-delete").addEventListener("click", function () {
        actions.hidden = true;
        confirm.hidden = false;
        confirm.querySelector(".tf-note-delete-no").focus();
      });
      item.querySelector(".tf-note-delete-no").addEventListener("click", function () {
        confirm.hidden = true;
        actions.hidden = false;
        item.querySelector(".tf-note-delete").focus();
      });
      item.querySelector(".tf-note-delete-yes").addEventListener("click", function () {
        var notes = load();
        var position = notes.findIndex(function (n) { return n.id === note.id; });
        notes = notes.filter(function (n) { return n.id !== note.id; });
        if (!save(notes)) return;
        render();
        var next = notes[Math.min(position, notes.length - 1)];
        if (next) focusNote(next.id);
        else heading.focus();
        say(msg.msgDeleted);
      });
    }

    // Writing a note about a passage.
    function useSelection(selection) {
      var quote = selection.quote.slice(0, limits.quote);
      pending = {
        quote: quote,
        prefix: selection.prefix,
        // A cut passage has a different end: its context after it would mislead.
        suffix: quote.length < selection.quote.length ? "" : selection.suffix,
        section: selection.section
      };
      quoteField.value = quote;
      textField.focus({ preventScroll: true });
      textField.scrollIntoView({ block: "center" });
      say(msg.msgPassageAdded);
    }

    function hideFloating() { floating.hidden = true; }

    function placeFloating(rect) {
      floating.hidden = false;
      var margin = 8;
      var maxLeft = window.scrollX + document.documentElement.clientWidth -
        floating.offsetWidth - margin;
      var left = Math.max(window.scrollX + margin, Math.min(rect.left + window.scrollX, maxLeft));
      floating.style.top = (rect.bottom + window.scrollY + margin) + "px";
      floating.style.left = left + "px";
    }

    var selectionTimer = null;
    function onSelectionChange() {
      var captured = captureSelection(root);
      if (captured) {
        lastSelection = captured;
        placeFloating(captured.rect);
        return;
      }
      hideFloating();
      var selection = window.getSelection();
      // A click elsewhere in the trial text drops the remembered passage; moving to the panel
      // (to press "Add a note about the selected text") keeps it.
      if (selection && selection.isCollapsed && selection.anchorNode &&
          root && root.contains(selection.anchorNode) && !skipped(selection.anchorNode)) {
        lastSelection = null;
      }
    }

    document.body.appendChild(floating);
    // Pressing the button must not drop the selection it is about.
    floating.addEventListener("mousedown", function (event) { event.preventDefault(); });
    floating.addEventListener("click", function () {
      if (lastSelection) useSelection(lastSelection);
      hideFloating();
    });
    document.addEventListener("selectionchange", function () {
      window.clearTimeout(selectionTimer);
      selectionTimer = window.setTimeout(onSelectionChange, 120);
    });
    window.addEventListener("resize", hideFloating);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") hideFloating();
    });

    panel.querySelector(".tf-note-from-selection").addEventListener("click", function () {
      var selection = captureSelection(root) || lastSelection;
      if (selection) useSelection(selection);
      else say(msg.msgSelectFirst, true);
    });

    quoteField.addEventListener("input", function () {
      if (pending && tidy(quoteField.value) !== pending.quote) pending = null;
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = textField.value.trim().slice(0, limits.text);
      if (!text) { say(msg.msgWriteFirst, true); textField.focus(); return; }
      var notes = load();
      if (notes.length >= limits.notes) { say(msg.msgTooMany, true); return; }
      var quote = tidy(quoteField.value).slice(0, limits.quote);
      var context = pending && pending.quote === quote ? pending : {};
      var now = new Date().toISOString();
      notes.push(cleanNote({
        id: newId(), text: text, quote: quote, prefix: context.prefix, suffix: context.suffix,
        section: context.section, created: now, updated: now
      }, limits));
      if (!save(notes)) return;
      form.reset();
      pending = null;
      lastSelection = null;
      render();
      say(msg.msgSaved);
    });

    window.addEventListener("storage", function (event) {
      if (event.key === key) render(); // the same trial changed in another tab
    });

    initShare(panel, msg, limits, announcer(panel.querySelector(".tf-share-status")), load,
      csrfToken);
    importCookieNotes();
    render();
  }

  function initShare(panel, msg, limits, say, load, csrfToken) {
    var form = panel.querySelector(".tf-share-form");
    var passcodeField = panel.querySelector("#tf-share-passcode");
    var expiry = panel.querySelector("#tf-share-expiry");
    var result = panel.querySelector(".tf-share-result");
    var resultHeading = result.querySelector(".tf-share-result-heading");
    var submit = form.querySelector('button[type="submit"]');
    if (!cryptoAvailable()) {
      form.hidden = true;
      say(msg.msgNoCrypto, true);
      return;
    }

    panel.querySelector(".tf-share-generate").addEventListener("click", function () {
      passcodeField.value = generatePasscode();
      passcodeField.removeAttribute("aria-invalid");
      passcodeField.focus();
      passcodeField.select();
    });

    panel.querySelectorAll(".tf-copy").forEach(function (button) {
      button.addEventListener("click", async function () {
        var field = document.getElementById(button.dataset.copy);
        try {
          await navigator.clipboard.writeText(field.value);
          say(msg.msgCopied);
        } catch (error) {
          field.focus();
          field.select();
          say(msg.msgCopyFailed, true);
        }
      });
    });

    panel.querySelector(".tf-share-again").addEventListener("click", function () {
      result.hidden = true;
      form.hidden = false;
      passcodeField.focus();
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var notes = load();
      if (!notes.length) { say(msg.msgNoNotes, true); return; }
      var passcode = normalisePasscode(passcodeField.value) || generatePasscode();
      if (passcode.length < limits.passcode) {
        passcodeField.setAttribute("aria-invalid", "true");
        say(msg.msgPasscodeShort, true);
        passcodeField.focus();
        return;
      }
      passcodeField.removeAttribute("aria-invalid");
      var nctId = panel.dataset.nctId;
      var plain = encoder.encode(JSON.stringify({ v: 1, nct_id: nctId, notes: notes }));
      if (notes.length > limits.notes || plain.length + 16 > limits.bytes) {
        say(msg.msgTooBig, true);
        return;
      }
      submit.disabled = true;
      say(msg.msgEncrypting);
      try {
        var salt = randomBytes(16);
        var iv = randomBytes(12);
        var secrets = await deriveSecrets(passcode, salt, limits.iterations);
        var ciphertext = new Uint8Array(await crypto.subtle.encrypt(
          { name: "AES-GCM", iv: iv, additionalData: additionalData(nctId) },
          secrets.key, plain));
        var answer = await postJSON(panel.dataset.shareUrl, {
          nct_id: nctId,
          ciphertext: toBase64(ciphertext),
          iv: toBase64(iv),
          salt: toBase64(salt),
          iterations: limits.iterations,
          verifier: toBase64(secrets.verifier),
          expires_days: Number(expiry.value)
        }, csrfToken);
        if (answer.status !== 201 || !answer.data.url) {
          say(answer.data.error || msg.msgFailed, true);
          return;
        }
        document.getElementById("tf-share-link").value = answer.data.url;
        document.getElementById("tf-share-code").value = passcode;
        resultHeading.textContent = msg.msgCreated + " " +
          fill(msg.msgExpires, { date: formatDate(answer.data.expires_at) });
        passcodeField.value = "";
        form.hidden = true;
        result.hidden = false;
        resultHeading.focus(); // read out: the link is ready, and until when
        say("");
      } catch (error) {
        say(msg.msgFailed, true);
      } finally {
        submit.disabled = false;
      }
    });
  }

  // --- the shared-notes page ------------------------------------------------------------------

  function parsePayload(plain, nctId) {
    var payload = JSON.parse(decoder.decode(plain));
    if (!payload || payload.nct_id !== nctId || !Array.isArray(payload.notes)) {
      throw new Error("not a notes payload");
    }
    var limits = { text: 10000, quote: 2000 };
    return payload.notes.filter(validNote).map(function (n) { return cleanNote(n, limits); });
  }

  function initShared(panel) {
    var msg = panel.dataset;
    var say = announcer(panel.querySelector(".tf-notes-status"));
    var form = panel.querySelector(".tf-open-form");
    if (!cryptoAvailable()) { say(msg.msgNoCrypto, true); return; }
    form.hidden = false;
    var field = form.querySelector("#tf-open-passcode");
    var submit = form.querySelector('button[type="submit"]');
    var csrfToken = form.elements.csrfmiddlewaretoken.value;
    var nctId = msg.nctId;
    var root = document.querySelector(".trial-page");
    var shown = panel.querySelector(".tf-shared-list");
    var list = panel.querySelector(".tf-notes-list");
    var template = panel.querySelector(".tf-note-template");

    function show(notes) {
      var marks = highlight(root, notes);
      list.textContent = "";
      notes.forEach(function (note) {
        list.appendChild(noteItem(template, note, marks[note.id], msg));
      });
      form.hidden = true;
      shown.hidden = false;
      document.getElementById("tf-shared-list-heading").focus();
      say(notes.length ? msg.msgOpened : msg.msgEmpty);
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var passcode = normalisePasscode(field.value);
      if (!passcode) { field.focus(); return; }
      submit.disabled = true;
      say(msg.msgChecking);
      try {
        var secrets = await deriveSecrets(passcode, fromBase64(msg.salt), Number(msg.iterations));
        var answer = await postJSON(msg.openUrl, { verifier: toBase64(secrets.verifier) },
          csrfToken);
        if (answer.status !== 200) {
          say(answer.data.error || msg.msgFailed, true);
          if (answer.status === 404 || answer.status === 410) {
            form.hidden = true;
          } else {
            field.setAttribute("aria-invalid", "true");
            field.focus();
            field.select();
          }
          return;
        }
        field.removeAttribute("aria-invalid");
        var notes;
        try {
          var plain = await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: fromBase64(answer.data.iv), additionalData: additionalData(nctId) },
            secrets.key, fromBase64(answer.data.ciphertext));
          notes = parsePayload(plain, nctId);
        } catch (error) {
          // AES-GCM checks integrity: a changed byte anywhere, or notes of another trial.
          say(msg.msgDecryptFailed, true);
          return;
        }
        show(notes);
      } catch (error) {
        say(msg.msgFailed, true);
      } finally {
        submit.disabled = false;
      }
    });
  }

  onReady(function () {
    var panel = document.getElementById("my-notes");
    if (panel) initPanel(panel);
    var shared = document.getElementById("shared-notes");
    if (shared) initShared(shared);
  });
})();
