// chhnn_ros teach console: live view with the recognised objects, click an object and name it,
// the classes with thumbnails, recent confidence per class, node health.  Talks to the node over
// one WebSocket (updates; each answered with "next" once drawn, so a slow device skips frames) and
// the HTTP API (teach, forget).  Every text from the robot is set as textContent, never as HTML.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const withToken = (url) => (token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url);
  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, children = []) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "text") e.textContent = v;
      else if (k === "cls") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.appendChild(c);
    return e;
  };
  const COLOURS = { known: "#12a150", unknown: "#e8890c", selected: "#1f6feb" };
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];

  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  const form = $("teach-form");
  const nameInput = $("teach-name");
  let view = null; // {meta, image}
  let selected = null; // {track_id, box}
  let myCommand = null; // id of the last command this page sent
  let armed = null; // label whose Forget button was pressed once
  let armedTimer = null;
  let classesKey = "";
  let classOrder = [];

  function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(path, Object.assign({}, options, { headers }));
  }

  // ------------------------------------------------------------------ live view
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(withToken(`${proto}//${location.host}/ws`));
    ws.binaryType = "blob";
    let pending = null; // a frame's meta, waiting for its JPEG
    const next = () => { if (ws.readyState === WebSocket.OPEN) ws.send("next"); };
    ws.onopen = () => setConnection(true);
    ws.onclose = () => { setConnection(false); setTimeout(connect, 1500); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const update = JSON.parse(ev.data);
        if (update.state) applyState(update.state);
        if (update.frame) { pending = update.frame; return; } // its JPEG comes next
        next();
      } else {
        const meta = pending;
        pending = null;
        showFrame(meta, ev.data).finally(next);
      }
    };
  }

  function setConnection(on) {
    const c = $("conn");
    c.textContent = on ? "live" : "disconnected";
    c.className = "conn " + (on ? "on" : "off");
  }

  async function decode(blob) {
    if ("createImageBitmap" in window) return createImageBitmap(blob);
    const url = URL.createObjectURL(blob);
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      return img;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  async function showFrame(meta, blob) {
    if (!meta) return;
    try {
      const image = await decode(blob);
      if (view && view.image.close) view.image.close();
      view = { meta, image };
      draw();
    } catch (e) {
      $("view-note").textContent = "could not show a frame: " + e;
    }
  }

  function caption(o) {
    const score = Number(o.score || 0).toFixed(2);
    if (o.known) return `${o.label} ${score}`;
    return o.nearest ? `${o.label} (nearest: ${o.nearest} ${score})` : o.label;
  }

  function iou(a, b) {
    const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
    const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
    if (w <= 0 || h <= 0) return 0;
    const inter = w * h;
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
  }

  function isSelected(o) {
    if (!selected) return false;
    if (selected.track_id !== null && selected.track_id !== undefined) return o.track_id === selected.track_id;
    return iou(o.box, selected.box) > 0.5;
  }

  function colourOf(o) {
    return isSelected(o) ? COLOURS.selected : o.known ? COLOURS.known : COLOURS.unknown;
  }

  function draw() {
    if (!view) return;
    const { meta, image } = view;
    if (canvas.width !== meta.width || canvas.height !== meta.height) {
      canvas.width = meta.width;
      canvas.height = meta.height;
    }
    ctx.drawImage(image, 0, 0, meta.width, meta.height);
    const line = Math.max(2, meta.width / 320);
    const fontPx = Math.round(Math.max(12, meta.width / 45));
    ctx.font = `${fontPx}px system-ui, sans-serif`;
    for (const o of meta.objects) {
      const [x1, y1, x2, y2] = o.box;
      const colour = colourOf(o);
      ctx.lineWidth = isSelected(o) ? 2 * line : line;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const text = caption(o);
      const tw = ctx.measureText(text).width + 8;
      const th = fontPx + 6;
      const ty = y1 - th >= 0 ? y1 - th : y1;
      const tx = Math.max(0, Math.min(x1, meta.width - tw)); // the whole caption inside the image
      ctx.fillStyle = colour;
      ctx.globalAlpha = 0.8; // an object under another's caption stays visible
      ctx.fillRect(tx, ty, tw, th);
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#fff";
      ctx.fillText(text, tx + 4, ty + th - 5);
    }
    canvas.dataset.seq = meta.seq;
    canvas.dataset.boxes = meta.objects.length;
    $("view-note").textContent = meta.paired ? "" : "no objects from the classifier yet: the camera image is shown without boxes";
    renderObjects(meta.objects);
  }

  function renderObjects(objects) {
    const list = $("objects");
    list.replaceChildren(...objects.map((o) => {
      const li = el("li", { cls: isSelected(o) ? "selected" : "", "data-label": o.label, "data-box": o.box.join(","),
                            "data-track": o.track_id === null || o.track_id === undefined ? "" : String(o.track_id),
                            "data-known": String(!!o.known) }, [
        el("span", { cls: "swatch" }),
        el("span", { text: caption(o) + (o.track_id !== null && o.track_id !== undefined ? `  · track ${o.track_id}` : "") }),
      ]);
      li.firstChild.style.background = colourOf(o);
      li.tabIndex = 0; // keyboard users select an object from this list
      li.addEventListener("click", () => select(o));
      li.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(o); } });
      return li;
    }));
  }

  canvas.addEventListener("click", (ev) => {
    if (!view) return;
    const r = canvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) * canvas.width) / r.width;
    const y = ((ev.clientY - r.top) * canvas.height) / r.height;
    const hits = view.meta.objects.filter((o) => x >= o.box[0] && x <= o.box[2] && y >= o.box[1] && y <= o.box[3]);
    if (!hits.length) return;
    const area = (o) => (o.box[2] - o.box[0]) * (o.box[3] - o.box[1]);
    hits.sort((a, b) => area(a) - area(b)); // the innermost box under the pointer
    select(hits[0]);
  });

  function select(o) {
    selected = { track_id: o.track_id, box: o.box.slice() };
    form.hidden = false;
    const how = o.track_id !== null && o.track_id !== undefined ? `track ${o.track_id}` : `box [${o.box.map(Math.round).join(", ")}]`;
    $("teach-target").textContent = `Selected: ${caption(o)} (${how})`;
    nameInput.value = o.known ? o.label : "";
    nameInput.focus();
    draw();
  }

  function unselect() {
    selected = null;
    form.hidden = true;
    draw();
  }

  $("teach-cancel").addEventListener("click", unselect);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") unselect(); });

  // ------------------------------------------------------------------ teach and forget
  async function send(command) {
    try {
      const res = await api("/api/teach?wait=0", { method: "POST", headers: { "Content-Type": "application/json" },
                                                  body: JSON.stringify(command) });
      const body = await res.json();
      if (res.status === 202) {
        myCommand = body.id;
        showProgress(body);
        return true;
      }
      setProgress(body.error || `error ${res.status}`, "error");
    } catch (e) {
      setProgress("could not reach the console: " + e, "error");
    }
    return false;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const label = nameInput.value.trim();
    if (!selected || !label) return;
    const command = selected.track_id !== null && selected.track_id !== undefined
      ? { label, track_id: selected.track_id }
      : { label, box: selected.box.map((v) => Math.round(v * 100) / 100) };
    $("teach-submit").disabled = true;
    if (await send(command)) unselect();
    $("teach-submit").disabled = false;
  });

  function setProgress(text, kind = "") {
    const p = $("teach-progress");
    p.textContent = text;
    p.className = "progress " + kind;
  }

  function showProgress(cmd) {
    const s = cmd.status;
    const what = cmd.kind === "forget" ? `forget ${cmd.label}` : cmd.label;
    if (!s) return setProgress(`${what}: sent, waiting for the classifier…`);
    if (s.state === "collecting") {
      return setProgress(s.needed ? `${what}: collecting ${s.collected}/${s.needed}` : `${what}: ${s.message}`);
    }
    if (s.state === "learned") return setProgress(`${what}: learned (database version ${s.database_version})`, "done");
    if (s.state === "forgotten") return setProgress(`${what}: forgotten`, "done");
    return setProgress(`${what}: error — ${s.message}`, "error");
  }

  function forgetClicked(label, button) {
    if (armed !== label) { // the first press arms the button, the second forgets
      armed = label;
      clearTimeout(armedTimer);
      armedTimer = setTimeout(() => { armed = null; classesKey = ""; }, 4000);
      button.textContent = "Forget?";
      button.classList.add("armed");
      return;
    }
    armed = null;
    send({ forget: label });
  }

  // ------------------------------------------------------------------ side panels
  function applyState(s) {
    $("db-version").textContent = s.database_version === null || s.database_version === undefined ? "–" : s.database_version;
    renderClasses(s.classes);
    renderPlot(s.history);
    renderLog(s.teach_log);
    renderHealth(s.health);
    const mine = (s.commands || []).find((c) => c.id === myCommand);
    if (mine) showProgress(mine);
  }

  function renderClasses(classes) {
    classOrder = classes.map((c) => c.label);
    const key = JSON.stringify(classes);
    if (key === classesKey) return; // unchanged: keep the images as they are
    classesKey = key;
    $("no-classes").hidden = classes.length > 0;
    $("classes").replaceChildren(...classes.map((c) => {
      const thumb = c.thumbnail === null
        ? el("div", { cls: "thumb" })
        : el("img", { alt: `thumbnail of ${c.label}`, src: withToken(`/api/thumbnail?label=${encodeURIComponent(c.label)}&v=${c.thumbnail}`) });
      const button = el("button", { cls: "danger" + (armed === c.label ? " armed" : ""), type: "button",
                                    text: armed === c.label ? "Forget?" : "Forget" });
      button.addEventListener("click", () => forgetClicked(c.label, button));
      const teaches = c.teaches === null ? "" : `taught ${c.teaches}×`;
      return el("li", { "data-label": c.label }, [
        thumb, el("div", { cls: "grow" }, [el("div", { cls: "name", text: c.label }), el("div", { cls: "meta", text: teaches })]), button,
      ]);
    }));
  }

  function colourOfClass(label) {
    const i = classOrder.indexOf(label);
    return PALETTE[(i < 0 ? classOrder.length : i) % PALETTE.length];
  }

  function renderPlot(history) {
    const svg = $("plot");
    const NS = "http://www.w3.org/2000/svg";
    const W = 300, H = 140, L = 26, R = 6, T = 6, B = 18, SPAN = 60;
    const sx = (ago) => L + (W - L - R) * (1 - Math.min(ago, SPAN) / SPAN);
    const sy = (v) => T + (H - T - B) * (1 - v);
    const node = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const parts = [];
    for (const v of [0, 0.5, 1]) {
      parts.push(node("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), stroke: "#d9dde5" }));
      parts.push(node("text", { x: 2, y: sy(v) + 3 }, v.toFixed(1)));
    }
    for (const s of [60, 30, 0]) parts.push(node("text", { x: sx(s) - 8, y: H - 4 }, s ? `-${s}s` : "now"));
    const legend = [];
    for (const [label, points] of Object.entries(history || {})) {
      if (!points.length) continue;
      const colour = colourOfClass(label);
      const d = points.map(([ago, v]) => `${sx(ago).toFixed(1)},${sy(v).toFixed(1)}`).join(" ");
      parts.push(node("polyline", { points: d, fill: "none", stroke: colour, "stroke-width": 1.5 }));
      const [ago, v] = points[points.length - 1]; // the latest value, visible even as a single point
      parts.push(node("circle", { cx: sx(ago).toFixed(1), cy: sy(v).toFixed(1), r: 2.5, fill: colour }));
      const li = el("li", {}, [el("i"), document.createTextNode(label)]);
      li.firstChild.style.background = colour;
      legend.push(li);
    }
    svg.replaceChildren(...parts);
    $("legend").replaceChildren(...legend);
  }

  function renderLog(log) {
    $("teach-log").replaceChildren(...(log || []).slice().reverse().map((s) =>
      el("li", { cls: s.state === "error" ? "error" : "", text: `${s.age_s}s ago · ${s.label || "(none)"}: ${s.state} — ${s.message}` })));
  }

  function renderHealth(health) {
    const names = Object.keys(health || {}).sort();
    $("health").replaceChildren(...names.map((name) => {
      const h = health[name];
      const hz = h.values && h.values.input_hz !== undefined ? ` · ${h.values.input_hz} Hz in` : "";
      return el("li", { cls: h.level, "data-node": name }, [el("span", { cls: "dot" }),
        document.createTextNode(`${name} — ${h.level}: ${h.message}${hz}`)]);
    }));
  }

  connect();
})();
