/* activelab label: the labelling page (plain JavaScript, no build step, no external resources).
 *
 * - The token comes from ?token=T; every API call sends `Authorization: Bearer T`.
 * - A local queue of leased items (GET /api/next) is refilled when fewer than QUEUE_LOW remain,
 *   so answering never waits for the network.
 * - Every answer gets a uid and is written to localStorage before anything else; it leaves
 *   localStorage only once POST /api/answers returned 200 (retried with the same uid after a
 *   failure and at page load), so no answer the server has not acknowledged is lost.
 * - Keys: 1-9 answer classes 1-9, 0 the tenth (classes beyond ten: buttons only), S skip,
 *   U unsure, Z or Backspace undo.
 * - Text is always set with textContent: markup in an item shows as text.
 * - A pairs project (task "pairs" in /api/status) sends pair items {kind: "pair", a, b}: both
 *   items are shown side by side (stacked on narrow screens) under "Same group?", and the class
 *   buttons are the project's classes ("1 different", "2 same").
 */
(function () {
  "use strict";

  var QUEUE_LOW = 5;          // fetch more items when fewer remain
  var FETCH_N = 10;           // items per GET /api/next
  var STATUS_MS = 4000;       // progress panel refresh
  var EMPTY_POLL_MS = 3000;   // polling while the server has nothing to ask
  var BATCH_MAX = 100;        // answers per POST
  var REQUEST_TIMEOUT_MS = 15000;
  var SKIP = -1, UNSURE = -2;
  var PENDING_KEY = "activelab.pending";
  var REJECTED_KEY = "activelab.rejected";
  var NAME_KEY = "activelab.annotator";
  var SVG_NS = "http://www.w3.org/2000/svg";

  var TOKEN = new URLSearchParams(window.location.search).get("token") || "";

  // ---------------------------------------------------------------- storage
  var storage = (function () {
    try {
      var k = "activelab.probe";
      window.localStorage.setItem(k, "1");
      window.localStorage.removeItem(k);
      return window.localStorage;
    } catch (e) {
      return null;
    }
  })();
  var memoryStore = {};

  function load(key, fallback) {
    try {
      var raw = storage ? storage.getItem(key) : memoryStore[key];
      return raw == null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }

  function save(key, value) {
    var raw = JSON.stringify(value);
    if (storage) {
      try {
        storage.setItem(key, raw);
        return true;
      } catch (e) { /* quota: keep it in memory below and say so */ }
    }
    memoryStore[key] = raw;
    return false;
  }

  // ---------------------------------------------------------------- helpers
  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  function newUid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function randomName() {
    var hex = newUid().replace(/-/g, "");
    return "annotator-" + hex.slice(0, 4);
  }

  function validName(name) {
    // the server accepts 1-100 printable characters
    return typeof name === "string" && name.trim().length > 0 && name.length <= 100 &&
      !/[\u0000-\u001f\u007f-\u009f]/.test(name) && name.trim() !== "import";   // "import": the data's own labels
  }

  function pct(x) { return (100 * x).toFixed(1) + " %"; }

  function imageUrl(id) {
    return "/api/items/" + encodeURIComponent(id) + "/image?token=" + encodeURIComponent(TOKEN);
  }

  // ---------------------------------------------------------------- API
  function api(path, opts) {
    opts = opts || {};
    var headers = { "Authorization": "Bearer " + TOKEN, "Accept": "application/json" };
    var init = { method: opts.method || "GET", headers: headers, cache: "no-store", keepalive: !!opts.keepalive };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = null;
    if (ctl && !opts.keepalive) {
      init.signal = ctl.signal;
      timer = setTimeout(function () { ctl.abort(); }, REQUEST_TIMEOUT_MS);
    }
    return fetch(path, init).then(function (resp) {
      return resp.text().then(function (body) {
        var data = null;
        try { data = body ? JSON.parse(body) : null; } catch (e) { data = null; }
        if (resp.status === 401) {
          banner("The server refused the token. Open the link that `activelab label serve` printed (it ends with ?token=…).");
        } else if (resp.ok) {
          clearBanner("token");
        }
        return {
          ok: resp.ok, status: resp.status, data: data,
          error: (data && data.error) || ("HTTP " + resp.status + " " + resp.statusText),
        };
      });
    }, function (err) {
      var why = err && err.name === "AbortError" ? "the server did not answer in time" : "the server cannot be reached";
      return { ok: false, status: 0, data: null, error: why };
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  var bannerReason = null;
  function banner(text, reason) {
    var b = $("banner");
    b.textContent = text;
    b.hidden = false;
    bannerReason = reason || "token";
  }
  function clearBanner(reason) {
    if (bannerReason === reason) {
      $("banner").hidden = true;
      bannerReason = null;
    }
  }

  function message(text) {
    $("message").textContent = text || "";
  }

  // ---------------------------------------------------------------- state
  var classes = [];           // names, from GET /api/status
  var task = "classify";      // "classify" or "pairs", from GET /api/status
  var queue = [];             // leased items not yet answered; queue[0] is shown
  var answeredIds = {};       // ids answered in this page (never shown again unless undone)
  var history = [];           // [{item, uid, annotator}] of this page's answers, newest last
  var annotator = "";
  var serverSkew = 0;         // server time - local time, seconds (from /api/status)
  var serverEmpty = false;    // the last GET /api/next gave nothing new
  var fetching = false;
  var fetchTimer = null;
  var fetchDelay = 1000;

  // ---------------------------------------------------------------- annotator
  function initAnnotator() {
    var input = $("annotator");
    var stored = load(NAME_KEY, null);
    annotator = validName(stored) ? stored.trim() : randomName();
    save(NAME_KEY, annotator);
    input.value = annotator;
    input.addEventListener("change", function () {
      var name = input.value.trim();
      if (!validName(name)) {
        input.value = annotator;
        message("An annotator name needs 1 to 100 printable characters (and not “import”); kept “" + annotator + "”.");
        return;
      }
      input.value = name;
      if (name === annotator) return;
      var old = annotator;
      var oldIds = queue.map(function (item) { return item.id; });
      annotator = name;
      save(NAME_KEY, annotator);
      // the queued items are leased to the old name: give them back, ask for new ones under the new name
      if (oldIds.length) api("/api/release", { method: "POST", body: { annotator: old, ids: oldIds } });
      queue = [];
      showCurrent();
      refill(true);
      message("Answering as “" + annotator + "”.");
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === "Escape") {
        if (ev.key === "Escape") input.value = annotator;
        input.blur();
        $("labelling").focus();
      }
    });
  }

  // ---------------------------------------------------------------- pending answers
  var inflight = {};          // uid -> true while a POST carries it
  var flushing = null;        // the running flush (a promise) or null
  var flushTimer = null;
  var flushDelay = 1000;

  function pendingList() {
    var list = load(PENDING_KEY, []);
    return Array.isArray(list) ? list : [];
  }

  function setPending(list) {
    var persisted = save(PENDING_KEY, list);
    if (!list.length) clearBanner("save");
    if (!persisted && list.length) {
      banner("This browser does not keep data for this page: answers not yet saved would be lost on reload.", "storage");
    }
    renderPending();
  }

  function renderPending() {
    var n = pendingList().length;
    var rejected = load(REJECTED_KEY, []);
    var node = $("pending");
    node.dataset.count = String(n);
    node.classList.toggle("waiting", n > 0);
    var text = n === 0 ? "All answers saved" : n + " waiting to be saved";
    if (Array.isArray(rejected) && rejected.length) {
      text += " · " + rejected.length + " refused by the server (kept in this browser)";
      node.classList.add("refused");
    } else {
      node.classList.remove("refused");
    }
    node.textContent = text;
  }

  function removeUids(uids) {
    var drop = {};
    uids.forEach(function (u) { drop[u] = true; });
    setPending(pendingList().filter(function (a) { return !drop[a.uid]; }));
  }

  function permanent(status) {
    // the server will refuse this body again: a malformed answer, an unknown id, a lease of
    // someone else, a label out of range
    return status === 400 || status === 404 || status === 409 || status === 422;
  }

  function reject(answer, error) {
    var rejected = load(REJECTED_KEY, []);
    if (!Array.isArray(rejected)) rejected = [];
    answer.error = error;
    rejected.push(answer);
    save(REJECTED_KEY, rejected.slice(-500));
    removeUids([answer.uid]);
    message("The server refused the answer to item " + answer.id + ": " + error);
  }

  function scheduleFlush(ms) {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = setTimeout(function () { flushTimer = null; flush(); }, ms);
  }

  function flush() {
    if (flushing) return flushing;
    // started on a later tick, so that `flushing` is set before the body can end
    flushing = Promise.resolve().then(sendPending).finally(function () {
      inflight = {};
      flushing = null;
    });
    return flushing;
  }

  async function sendPending() {
    var batchMax = BATCH_MAX;
    for (;;) {
      var list = pendingList();
      if (!list.length) break;
      var who = list[0].annotator;
      var batch = list.filter(function (a) { return a.annotator === who; }).slice(0, batchMax);
      batch.forEach(function (a) { inflight[a.uid] = true; });
      var res = await api("/api/answers", {
        method: "POST",
        body: { annotator: who, answers: batch.map(function (a) { return { id: a.id, label: a.label, uid: a.uid }; }) },
      });
      inflight = {};
      if (res.ok) {
        removeUids(batch.map(function (a) { return a.uid; }));
        flushDelay = 1000;
        clearBanner("save");
        continue;
      }
      if (res.status === 413 && batchMax > 1) { batchMax = Math.max(1, Math.floor(batchMax / 4)); continue; }
      if (res.status === 400 && res.data && res.data.field === "annotator") {
        res.status = 0;   // the name, not the answers, was refused: keep them and say so (below)
      }
      if (permanent(res.status)) {
        if (batch.length > 1) { batchMax = 1; continue; }   // find the one the server refuses
        reject(batch[0], res.error);
        continue;
      }
      // transient (network, 5xx, 401): keep everything and retry with the same uids
      var wait = flushDelay;
      flushDelay = Math.min(flushDelay * 2, 30000);
      if (res.status !== 401) {
        var n = pendingList().length;
        banner("Saving failed (" + res.error + "); " + n + (n === 1 ? " answer is" : " answers are") +
          " kept in this browser and sent again in " + Math.round(wait / 1000) + " s.", "save");
      }
      scheduleFlush(wait);
      break;
    }
  }

  // ---------------------------------------------------------------- queue
  function inQueue(id) {
    return queue.some(function (it) { return it.id === id; });
  }

  function pendingIds() {
    var ids = {};
    pendingList().forEach(function (a) { ids[a.id] = true; });
    return ids;
  }

  function leaseExpired(item) {
    if (typeof item.lease_until !== "number") return false;
    return item.lease_until - 5 < Date.now() / 1000 + serverSkew;
  }

  function scheduleFetch(ms) {
    if (fetchTimer) clearTimeout(fetchTimer);
    fetchTimer = setTimeout(function () { fetchTimer = null; refill(true); }, ms);
  }

  var fetchError = null;       // why the last GET /api/next failed, or null

  async function refill(force) {
    if (fetching) return;
    if (!force && queue.length >= QUEUE_LOW) return;
    if (!force && serverEmpty && fetchTimer) return;   // already polling
    fetching = true;
    var asked = annotator;
    try {
      var res = await api("/api/next?n=" + FETCH_N + "&annotator=" + encodeURIComponent(asked));
      if (asked !== annotator) return;                  // the name changed meanwhile: its own refill runs
      if (!res.ok || !res.data || !Array.isArray(res.data.items)) {
        var wait = fetchDelay;
        fetchDelay = Math.min(fetchDelay * 2, 30000);
        fetchError = "Cannot get items: " + res.error + ". Trying again in " + Math.round(wait / 1000) + " s.";
        scheduleFetch(wait);
        return;
      }
      fetchError = null;
      fetchDelay = 1000;
      var waiting = pendingIds();
      var held = {};
      queue.forEach(function (it) { held[it.id] = it; });
      res.data.items.forEach(function (it) {   // our own leases come back renewed
        if (it && held[it.id] && typeof it.lease_until === "number") held[it.id].lease_until = it.lease_until;
      });
      var fresh = res.data.items.filter(function (it) {
        return it && it.id != null && !held[it.id] && !answeredIds[it.id] && !waiting[it.id];
      });
      fresh.forEach(function (it) { it.annotator = asked; });
      queue = queue.concat(fresh);
      preload();
      serverEmpty = fresh.length === 0;
      if (queue.length < QUEUE_LOW) scheduleFetch(EMPTY_POLL_MS);   // the server had too little: ask again soon
    } finally {
      fetching = false;
      if (!current() || document.getElementById("item").dataset.state !== "item") showCurrent();
      updateLocalQueue();
    }
  }

  function current() {
    return queue.length ? queue[0] : null;
  }

  function preloadImage(it) {
    if (it && it.kind === "image" && !it.preloaded) {
      it.preloaded = new Image();
      it.preloaded.src = imageUrl(it.id);
    }
  }

  function preload() {
    queue.slice(1, 4).forEach(function (it) {
      if (it.kind === "pair") {
        preloadImage(it.a);
        preloadImage(it.b);
      } else {
        preloadImage(it);
      }
    });
  }

  function updateLocalQueue() {
    var n = Math.max(0, queue.length - 1);
    $("local-queue").textContent = queue.length ? n + " more ready" : "";
  }

  // ---------------------------------------------------------------- showing an item
  function setItemState(state, text) {
    var box = $("item");
    box.replaceChildren();
    box.dataset.itemId = "";
    box.dataset.kind = "";
    box.dataset.state = state;
    box.appendChild(el("p", "placeholder", text));
    $("item-id").textContent = "";
    setAnswerable(false);
  }

  function setAnswerable(on) {
    Array.prototype.forEach.call(document.querySelectorAll("#classes button, #skip, #unsure"), function (b) {
      b.disabled = !on;
    });
  }

  function showCurrent() {
    // drop items whose lease ran out while they waited (their answers would be refused)
    while (queue.length > 1 && leaseExpired(queue[0])) queue.shift();
    var item = current();
    updateLocalQueue();
    preload();
    if (!item) {
      if (!TOKEN) {
        setItemState("error", "This page needs the token: open the link that `activelab label serve` printed.");
      } else if (fetchError) {
        setItemState("error", fetchError);
      } else if (fetching) {
        setItemState("loading", "Loading…");
      } else {
        setItemState("empty", "Nothing to label right now: the model may be choosing the next items, or every item " +
          "has an answer. Checking again every " + EMPTY_POLL_MS / 1000 + " s.");
        if (!fetchTimer) scheduleFetch(EMPTY_POLL_MS);
      }
      return;
    }
    var box = $("item");
    box.replaceChildren();
    box.dataset.itemId = String(item.id);
    box.dataset.kind = item.kind || "";
    box.dataset.state = "item";
    $("item-id").textContent = String(item.id);
    $("item-word").textContent = item.kind === "pair" ? "Pair" : "Item";
    box.appendChild(item.kind === "pair" ? renderPair(item) : renderContent(item));
    setAnswerable(classes.length > 0);
  }

  function renderContent(item) {
    if (item.kind === "image") return renderImage(item);
    if (item.kind === "text") {
      var p = el("p", "text");
      p.textContent = item.text == null ? "" : String(item.text);   // never innerHTML
      return p;
    }
    if (Array.isArray(item.features)) return renderFeatures(item.features);
    return el("p", "placeholder", "This item (kind " + item.kind + ") has nothing to show.");
  }

  function renderPair(item) {
    // both items side by side (stacked on narrow screens), the question above them
    var wrap = el("div", "pair");
    wrap.appendChild(el("p", "question", "Same group?"));
    var sides = el("div", "pair-sides");
    [["a", "A"], ["b", "B"]].forEach(function (end) {
      var base = item[end[0]];
      var side = el("figure", "side");
      side.dataset.side = end[0];
      side.appendChild(base ? renderContent(base) : el("p", "placeholder", "This item is missing."));
      side.appendChild(el("figcaption", "side-id", end[1] + " · " + (base ? String(base.id) : "?")));
      sides.appendChild(side);
    });
    wrap.appendChild(sides);
    return wrap;
  }

  function renderImage(item) {
    var img = item.preloaded || new Image();
    img.className = "image";
    img.alt = "Image item " + item.id;
    img.decoding = "async";
    function fit() {
      // small images (digits, thumbnails) are enlarged with crisp pixels
      var w = img.naturalWidth, h = img.naturalHeight;
      if (w && h && Math.max(w, h) < 256) {
        var scale = Math.max(1, Math.floor(320 / Math.max(w, h)));
        img.style.width = w * scale + "px";
        img.classList.add("pixelated");
      }
    }
    if (img.complete && img.naturalWidth) fit(); else img.addEventListener("load", fit, { once: true });
    img.addEventListener("error", function () {
      img.alt = "The image of item " + item.id + " could not be loaded.";
    }, { once: true });
    if (!item.preloaded) img.src = imageUrl(item.id);
    return img;
  }

  function renderFeatures(values) {
    var cols = values.length <= 8 ? values.length : (values.length % 8 === 0 || values.length > 16 ? 8 : 4);
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (v < lo) lo = v; if (v > hi) hi = v; });
    var span = hi > lo ? hi - lo : 1;
    var table = el("table", "features");
    table.appendChild(el("caption", "visually-hidden", values.length + " feature values"));
    var head = el("thead");
    var hr = el("tr");
    hr.appendChild(el("th", "corner", ""));
    for (var c = 0; c < cols; c++) {
      var th = el("th", null, "+" + c);
      th.scope = "col";
      hr.appendChild(th);
    }
    head.appendChild(hr);
    table.appendChild(head);
    var body = el("tbody");
    for (var r = 0; r * cols < values.length; r++) {
      var tr = el("tr");
      var rh = el("th", null, String(r * cols));
      rh.scope = "row";
      tr.appendChild(rh);
      for (var k = 0; k < cols; k++) {
        var i = r * cols + k;
        if (i >= values.length) { tr.appendChild(el("td")); continue; }
        var v = values[i];
        var td = el("td", null, formatValue(v));
        var t = (v - lo) / span;   // shade cells by value: digits-like rows show their shape
        td.style.backgroundColor = "rgba(11, 61, 145, " + (0.08 + 0.8 * t).toFixed(3) + ")";
        if (t > 0.55) td.classList.add("dark");
        td.title = "feature " + i + ": " + v;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    table.appendChild(body);
    return table;
  }

  function formatValue(v) {
    if (typeof v !== "number" || !isFinite(v)) return String(v);
    if (v === Math.round(v) && Math.abs(v) < 1e5) return String(v);
    var a = Math.abs(v);
    return a >= 1000 || a < 0.01 ? v.toPrecision(2) : v.toFixed(2);
  }

  // ---------------------------------------------------------------- answering
  function answer(label) {
    var item = current();
    if (!item || !classes.length) return;
    var entry = { id: item.id, label: label, uid: newUid(), annotator: item.annotator || annotator, time: Date.now() };
    var list = pendingList();
    list.push(entry);
    setPending(list);                  // stored before anything else happens
    answeredIds[item.id] = true;
    history.push({ item: item, uid: entry.uid, annotator: entry.annotator });
    if (history.length > 200) history.shift();
    queue.shift();
    showCurrent();
    var what = label === SKIP ? "skipped" : label === UNSURE ? "unsure" : classes[label];
    message((item.kind === "pair" ? "Pair " : "Item ") + item.id + ": " + what + ".");
    flush();
    refill(false);
  }

  function restore(id) {
    delete answeredIds[id];
    for (var i = history.length - 1; i >= 0; i--) {
      if (history[i].item.id === id) {
        var item = history[i].item;
        history.splice(i, 1);
        queue = queue.filter(function (it) { return it.id !== id; });
        queue.unshift(item);
        showCurrent();
        return true;
      }
    }
    return false;
  }

  async function fetchBack(id) {
    // an answer given before this page loaded: the store leases the undone item back to us,
    // so asking for every item we hold brings it (GET /api/next returns our own leases first)
    delete answeredIds[id];
    var res = await api("/api/next?n=" + Math.min(200, queue.length + FETCH_N) + "&annotator=" + encodeURIComponent(annotator));
    if (!res.ok || !res.data || !Array.isArray(res.data.items)) return false;
    var item = null;
    var waiting = pendingIds();
    res.data.items.forEach(function (it) {
      if (it.id === id) {
        item = it;
      } else if (!inQueue(it.id) && !answeredIds[it.id] && !waiting[it.id]) {
        it.annotator = annotator;
        queue.push(it);
      }
    });
    if (!item) return false;
    item.annotator = annotator;
    queue = queue.filter(function (it) { return it.id !== id; });
    queue.unshift(item);
    showCurrent();
    return true;
  }

  var undoing = false;
  async function undo() {
    if (undoing) return;
    undoing = true;
    try {
      var list = pendingList();
      var last = list.length ? list[list.length - 1] : null;
      if (last && inflight[last.uid] && flushing) {
        await flushing;                  // saved or not, decide once the POST is over
        list = pendingList();
        last = list.length ? list[list.length - 1] : null;
      }
      if (last && !inflight[last.uid]) {
        // not saved yet: take it back here, the server never saw it
        list.pop();
        setPending(list);
        if (!restore(last.id)) await fetchBack(last.id);   // answered before a reload: still leased to us
        message("Undid the answer to item " + last.id + ".");
        return;
      }
      if (flushing) await flushing;      // the server must hold every answer before it undoes the last
      var who = history.length ? history[history.length - 1].annotator : annotator;
      var uid = newUid();
      var res = null;
      for (var attempt = 0; attempt < 3; attempt++) {
        res = await api("/api/undo", { method: "POST", body: { annotator: who, uid: uid } });
        if (res.ok || (res.status >= 400 && res.status < 500)) break;
        await new Promise(function (resolve) { setTimeout(resolve, 500 * (attempt + 1)); });
      }
      if (!res.ok) {
        message("Undo failed: " + res.error);
        return;
      }
      var undone = res.data && res.data.undone;
      if (!undone) {
        message("Nothing to undo.");
        return;
      }
      var id = undone.id;
      if (restore(id) || await fetchBack(id)) {
        message("Undid the answer to item " + id + ".");
      } else {
        message("Undid the answer to item " + id + "; it will be asked again later.");
      }
    } finally {
      undoing = false;
    }
  }

  // ---------------------------------------------------------------- class buttons and keys
  function keyFor(index) {
    if (index < 9) return String(index + 1);
    if (index === 9) return "0";
    return null;                        // beyond ten classes: buttons only
  }

  function buildButtons(names) {
    var box = $("classes");
    box.replaceChildren();
    names.forEach(function (name, i) {
      var b = el("button", "btn class");
      b.type = "button";
      b.dataset.label = String(i);
      var key = keyFor(i);
      if (key) {
        b.appendChild(el("kbd", null, key));
        b.setAttribute("aria-keyshortcuts", key);
      }
      b.appendChild(el("span", "name", name));
      b.addEventListener("click", function () { answer(i); });
      box.appendChild(b);
    });
    box.classList.toggle("many", names.length > 6);
    var last = Math.min(names.length, 10);
    var range = last <= 9 ? "1–" + last : "1–9 and 0";
    var answerKeys = task === "pairs" ? names.map(function (name, i) { return (i + 1) + " " + name; }).join(" · ")
      : range + " answer a class" + (names.length > 10 ? " (classes beyond the tenth: click or Tab to them)" : "");
    $("keys-help").textContent = "Keys: " + answerKeys + " · S skip · U unsure · Z or Backspace undo · Tab moves between buttons.";
    showCurrent();
  }

  function onKey(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var key = ev.key;
    var handled = true;
    if (key === "z" || key === "Z" || key === "Backspace") {
      if (!ev.repeat) undo();
    } else if (ev.repeat) {
      handled = /^[0-9suSU]$/.test(key);   // a held key answers once
    } else if (/^[0-9]$/.test(key)) {
      var index = key === "0" ? 9 : Number(key) - 1;
      if (index < classes.length) answer(index); else handled = false;
    } else if (key === "s" || key === "S") {
      answer(SKIP);
    } else if (key === "u" || key === "U") {
      answer(UNSURE);
    } else {
      handled = false;
    }
    if (handled) ev.preventDefault();
  }

  // ---------------------------------------------------------------- progress panel
  function countFor(perClass, i, name) {
    if (Array.isArray(perClass)) {
      var v = perClass[i];
      return typeof v === "number" ? v : (v && typeof v.count === "number" ? v.count : 0);
    }
    if (perClass && typeof perClass === "object") {
      var x = perClass[name];
      if (x == null) x = perClass[String(i)];
      return typeof x === "number" ? x : (x && typeof x.count === "number" ? x.count : 0);
    }
    return 0;
  }

  function renderStatus(s) {
    if (s.task === "pairs" && task !== "pairs") {
      task = "pairs";
      document.body.dataset.task = "pairs";
      $("st-answers-label").textContent = "Answered pairs";
      $("st-accuracy-label").textContent = "Clusters";
      $("curve-heading").textContent = "Clusters";
      $("classes").setAttribute("aria-label", "Same group?");
      if (classes.length) buildButtons(classes);
    }
    if (Array.isArray(s.classes) && s.classes.join("\u0000") !== classes.join("\u0000")) {
      classes = s.classes.map(String);
      buildButtons(classes);
    }
    if (typeof s.time === "number") serverSkew = s.time - Date.now() / 1000;
    $("st-answers").textContent = s.n_answers != null ? String(s.n_answers) : "–";
    $("st-items").textContent = s.n_items == null ? "" : task === "pairs" ? "· " + s.n_items + " items" : "of " + s.n_items;

    var m = s.model;
    $("st-model").textContent = m ? "version " + m.version + (m.n_labelled != null ? " · " + m.n_labelled +
      (task === "pairs" ? " answers" : " labels") : "") : "none yet";
    var phase = $("st-phase");
    phase.textContent = m && m.phase ? String(m.phase) : "–";
    phase.title = !m ? "" : m.phase === "cold start" ? "Too few labels of every class yet: the items asked cover the data."
      : m.phase === "pairs" ? "The pair strategy chooses the pairs whose answers change the clustering most."
      : "The project's strategy chooses what the model needs most.";
    if (task === "pairs") {
      $("st-accuracy").textContent = typeof s.n_clusters === "number" ? s.n_clusters + " clusters" +
        (m && typeof m.ari === "number" ? " · ARI " + m.ari.toFixed(3) : "") : "–";
    } else {
      $("st-accuracy").textContent = m && typeof m.cv_accuracy === "number" ? pct(m.cv_accuracy)
        : (m ? "n/a (too few labels)" : "–");
    }

    var q = s.queue;
    if (typeof q === "number") {
      $("st-queue").textContent = q + " items";
    } else if (q && typeof q === "object" && q.size != null) {
      // {size, free, version, time}: the trainer's queue, how much of it is not leased, its model version
      $("st-queue").textContent = q.size + " items" + (q.free != null ? " · " + q.free + " free" : "") +
        (q.version != null ? " · from v" + q.version : "");
    } else {
      $("st-queue").textContent = "–";
    }

    var tr = s.trainer, td = $("st-trainer");
    td.classList.remove("ok", "bad");
    if (!tr) {
      td.textContent = "not run by this server";
    } else if (tr.alive) {
      td.textContent = "alive" + (tr.restarts ? " (restarted " + tr.restarts + "×)" : "");
      td.classList.add("ok");
    } else {
      td.textContent = "not running" + (tr.last_exit != null ? " (last exit code " + tr.last_exit + ")" : "") +
        (tr.restarts ? ", restarted " + tr.restarts + "×" : "");
      td.classList.add("bad");
    }

    var ul = $("st-classes");
    ul.replaceChildren();
    var counts = classes.map(function (name, i) { return countFor(s.per_class, i, name); });
    var most = Math.max.apply(null, [1].concat(counts));
    classes.forEach(function (name, i) {
      var li = el("li");
      li.appendChild(el("span", "bar-name", name));
      var track = el("span", "bar-track");
      var fill = el("span", "bar-fill");
      fill.style.width = (100 * counts[i] / most).toFixed(1) + "%";
      track.appendChild(fill);
      li.appendChild(track);
      li.appendChild(el("span", "bar-count", counts[i]));
      ul.appendChild(li);
    });
    var pc = s.per_class;
    if (pc && !Array.isArray(pc) && typeof pc === "object") {
      [["skip", ["-1", "skip", "skipped"]], ["unsure", ["-2", "unsure"]]].forEach(function (pair) {
        var n = null;
        pair[1].forEach(function (k) { if (typeof pc[k] === "number") n = pc[k]; });
        if (n != null) {
          var li = el("li", "extra");
          li.appendChild(el("span", "bar-name", pair[0]));
          li.appendChild(el("span", "bar-track"));
          li.appendChild(el("span", "bar-count", n));
          ul.appendChild(li);
        }
      });
    }

    renderCurve(Array.isArray(s.history) ? s.history : []);
    $("st-updated").textContent = "Updated " + new Date().toLocaleTimeString();
  }

  function renderCurve(history) {
    var pts = history.filter(function (h) {
      return h && typeof h.cv_accuracy === "number" && typeof h.n_labelled === "number";
    });
    var box = $("curve");
    box.replaceChildren();
    if (task === "pairs") {
      var newest = history.length ? history[history.length - 1] : null;
      box.appendChild(el("p", "muted small", newest && typeof newest.n_clusters === "number"
        ? "The clustering of every answer so far has " + newest.n_clusters + " clusters (version " + newest.version + ")."
        : "The clustering appears once the trainer has run."));
      return;
    }
    if (!pts.length) {
      box.appendChild(el("p", "muted small", "The curve starts once every class has two labels (cross-validated accuracy)."));
      return;
    }
    var W = 340, H = 190, L = 40, R = 12, T = 12, B = 34;
    var xmax = Math.max.apply(null, pts.map(function (p) { return p.n_labelled; }));
    var xmin = Math.min.apply(null, pts.map(function (p) { return p.n_labelled; }));
    if (xmax === xmin) { xmin = Math.max(0, xmin - 1); xmax = xmax + 1; }
    function X(v) { return L + (W - L - R) * (v - xmin) / (xmax - xmin); }
    function Y(v) { return T + (H - T - B) * (1 - v); }
    var last = pts[pts.length - 1];
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "curve-title curve-desc", class: "curve-svg" });
    var title = svg("title", { id: "curve-title" });
    title.textContent = "Cross-validated accuracy against the number of labels";
    var desc = svg("desc", { id: "curve-desc" });
    desc.textContent = pts.length + " model versions; the latest: " + pct(last.cv_accuracy) + " with " + last.n_labelled + " labels.";
    root.appendChild(title);
    root.appendChild(desc);
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: v === 0 ? "axis" : "grid" }));
      var t = svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", class: "tick" });
      t.textContent = Math.round(v * 100) + "%";
      root.appendChild(t);
    });
    root.appendChild(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
    [xmin, Math.round((xmin + xmax) / 2), xmax].forEach(function (v, i, arr) {
      if (i === 1 && (v === xmin || v === xmax)) return;
      if (i === 2 && arr[0] === v) return;
      var t = svg("text", { x: X(v), y: H - B + 16, "text-anchor": "middle", class: "tick" });
      t.textContent = String(v);
      root.appendChild(t);
    });
    var xl = svg("text", { x: L + (W - L - R) / 2, y: H - 4, "text-anchor": "middle", class: "axis-label" });
    xl.textContent = "labels";
    root.appendChild(xl);
    var d = pts.map(function (p, i) { return (i ? "L" : "M") + X(p.n_labelled).toFixed(1) + " " + Y(p.cv_accuracy).toFixed(1); }).join(" ");
    root.appendChild(svg("path", { d: d, class: "line" }));
    pts.forEach(function (p) {
      var c = svg("circle", { cx: X(p.n_labelled), cy: Y(p.cv_accuracy), r: 3.5, class: "dot" });
      var tt = svg("title");
      tt.textContent = "version " + p.version + ": " + p.n_labelled + " labels, " + pct(p.cv_accuracy);
      c.appendChild(tt);
      root.appendChild(c);
    });
    box.appendChild(root);
  }

  var statusTimer = null;
  async function pollStatus() {
    if (statusTimer) { clearTimeout(statusTimer); statusTimer = null; }
    try {
      var res = await api("/api/status");
      if (res.ok && res.data) {
        renderStatus(res.data);
        clearBanner("status");
      } else if (res.status !== 401) {
        $("st-updated").textContent = "Progress not updated: " + res.error;
      }
    } finally {
      statusTimer = setTimeout(pollStatus, document.hidden ? 4 * STATUS_MS : STATUS_MS);
    }
  }

  // ---------------------------------------------------------------- start
  function start() {
    renderPending();
    initAnnotator();
    if (!TOKEN) {
      banner("This page needs the token: open the link that `activelab label serve` printed (it ends with ?token=…).");
      setItemState("error", "No token in the address.");
      return;
    }
    document.addEventListener("keydown", onKey);
    $("skip").addEventListener("click", function () { answer(SKIP); });
    $("unsure").addEventListener("click", function () { answer(UNSURE); });
    $("undo").addEventListener("click", function () { undo(); });
    window.addEventListener("online", function () { flush(); refill(true); });
    window.addEventListener("storage", function (ev) {
      if (ev.key === PENDING_KEY || ev.key === REJECTED_KEY) renderPending();
    });
    window.addEventListener("pagehide", function () {
      // a last try for answers not yet acknowledged; they stay in localStorage either way
      var list = pendingList().filter(function (a) { return !inflight[a.uid] && a.annotator === annotator; });
      var waiting = pendingIds();
      var unanswered = queue.map(function (item) { return item.id; }).filter(function (id) { return !waiting[id]; });
      if (unanswered.length) {  // give back what this page will not answer, so others need not wait for the lease
        api("/api/release", { method: "POST", keepalive: true, body: { annotator: annotator, ids: unanswered } });
      }
      if (list.length) {
        api("/api/answers", {
          method: "POST", keepalive: true,
          body: { annotator: annotator, answers: list.slice(0, BATCH_MAX).map(function (a) { return { id: a.id, label: a.label, uid: a.uid }; }) },
        });
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { pollStatus(); flush(); }
    });
    pollStatus();
    flush();                            // answers left over from an earlier visit, same uids
    refill(true);
    setInterval(function () { if (pendingList().length && !flushing && !flushTimer) flush(); }, 10000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
