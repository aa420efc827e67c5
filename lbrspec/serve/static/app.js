// lbrspec explorer: the page.  Everything it shows comes from the server's /api/view; every
// button is one POST to /api/<operation>.  No library, no network but this server.
"use strict";

const TOKEN = new URL(document.getElementById("app").src).searchParams.get("token");
const SVGNS = "http://www.w3.org/2000/svg";
let view = null;
let busy = false;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function say(text, isError) {
  const m = $("message");
  m.textContent = text || "";
  m.className = isError ? "error" : (text ? "info" : "");
}

async function call(op, body) {
  if (busy) return;
  busy = true;
  document.body.classList.add("busy");
  say(op === "counterexample" || op === "lasso" || op === "query" ? "working…" : "");
  try {
    const r = await fetch(op === "view" ? "/api/view" : "/api/" + op, {
      method: op === "view" ? "GET" : "POST",
      headers: {"X-Lbrspec-Token": TOKEN, "Content-Type": "application/json"},
      body: op === "view" ? undefined : JSON.stringify(body || {}),
    });
    const data = await r.json();
    if (!r.ok) { say(data.error || ("HTTP " + r.status), true); return; }
    render(data);
  } catch (e) {
    say("the server did not answer (" + e + "); is lbrspec serve still running?", true);
  } finally {
    busy = false;
    document.body.classList.remove("busy");
  }
}

// -- rendering ----------------------------------------------------------------------------------
function render(v) {
  view = v;
  $("title").textContent = `${v.model} · ${v.variant} · ${v.describe}`;
  $("source").textContent = v.source + (v.loop !== null ? ` (a lasso: the last state is state ${v.loop} again)` : "");
  if (v.message) say(v.message, false);
  $("cursor").textContent = `${v.cursor} of ${v.length}`;
  $("initial-count").textContent = `${v.initial.count.toLocaleString()} (0 to ${v.initial.count - 1})`;
  $("initial").max = v.initial.count - 1;
  if (v.initial.index !== null) $("initial").value = v.initial.index;
  renderVariants(v);
  renderPath(v);
  renderEnabled(v);
  renderState(v);
  renderInvariants(v);
  renderMachines(v);
  renderSequence(v);
  $("back").disabled = v.cursor === 0;
  $("forward").disabled = v.cursor === v.length && v.loop === null;
  document.body.dataset.cursor = v.cursor;
  document.body.dataset.length = v.length;
  document.body.dataset.violated = v.invariants.filter(i => !i.value).map(i => i.name).join(" ");
}

function renderVariants(v) {
  const sel = $("variant");
  if (sel.options.length !== v.variants.length) {
    sel.replaceChildren(...v.variants.map(n => el("option", {value: n}, n)));
  }
  sel.value = v.variant;
  const props = $("cex-prop");
  const want = ["", ...v.counterexamples];
  if ([...props.options].map(o => o.value).join() !== want.join()) {
    props.replaceChildren(el("option", {value: ""}, v.counterexamples.length ? "(first violated)" : "(first violated; search to list them)"),
      ...v.counterexamples.map(n => el("option", {value: n}, n)));
  }
}

function renderPath(v) {
  const ol = $("path");
  const items = [el("li", {class: v.cursor === 0 ? "here" : "", "data-i": 0},
    el("a", {href: "#", onclick: (e) => { e.preventDefault(); call("goto", {cursor: 0}); }}, "initial state"))];
  v.steps.forEach((s, k) => {
    const i = k + 1;
    const cls = [i === v.cursor ? "here" : "", v.loop !== null && k === v.loop ? "loop-start" : ""].join(" ").trim();
    items.push(el("li", {class: cls, "data-i": i},
      el("a", {href: "#", onclick: (e) => { e.preventDefault(); call("goto", {cursor: i}); }}, s)));
  });
  ol.replaceChildren(...items);
  const here = ol.querySelector(".here");
  if (here) here.scrollIntoView({block: "nearest"});
}

function renderEnabled(v) {
  const ul = $("enabled");
  if (!v.enabled.length) { ul.replaceChildren(el("li", {class: "none"}, "no step is enabled (deadlock)")); return; }
  ul.replaceChildren(...v.enabled.map(s => el("li", {},
    el("button", {class: "step", "data-action": s.action, "data-label": s.label, title: s.changes.join("\n") || "changes nothing",
                  onclick: () => call("step", {id: s.id})}, s.label),
    el("span", {class: "changes"}, s.changes.length ? " " + s.changes.join("; ") : " (no change)"))));
}

function renderState(v) {
  const box = $("state");
  box.replaceChildren(...v.machines.map(m => {
    const rows = m.vars.map(x => el("tr", {class: x.before !== null ? "changed" : ""},
      el("td", {class: "slot"}, x.slot + (x.ghost ? " (ghost)" : "")),
      el("td", {class: "value"}, x.value),
      el("td", {class: "before"}, x.before !== null ? "was " + x.before : "")));
    return el("div", {class: "machine", "data-machine": m.name}, el("h3", {}, m.name), el("table", {}, ...rows));
  }));
}

function formulaWithMark(f, anchor) {
  const span = el("code", {class: "formula"});
  if (!anchor) { span.textContent = f; return span; }
  span.append(f.slice(0, anchor[0]), el("mark", {class: "false-conjunct"}, f.slice(anchor[0], anchor[1])), f.slice(anchor[1]));
  return span;
}

function renderInvariants(v) {
  const ul = $("invariants");
  const bad = v.invariants.filter(i => !i.value);
  const good = v.invariants.filter(i => i.value);
  ul.replaceChildren(...bad.map(i => {
    const ex = i.explanation;
    const steps = el("ol", {class: "why"}, ...ex.steps.slice(1).map(s =>
      el("li", {}, el("span", {class: "reason"}, s.why + ": "), el("code", {}, s.text),
         el("span", {class: s.value ? "t" : "f"}, s.value ? " true" : " false"))));
    return el("li", {class: "inv false", "data-name": i.name},
      el("div", {}, el("strong", {}, "✗ " + i.name), " ", el("span", {class: "summary"}, i.summary)),
      formulaWithMark(ex.formula, ex.anchor),
      el("div", {class: "conjunct"}, "false conjunct: ", el("code", {class: "conjunct-text"}, ex.conjunct),
        ex.bindings.length ? ` (at ${ex.bindings.map(b => b[0] + " = " + b[1]).join(", ")})` : ""),
      steps);
  }), ...good.map(i => el("li", {class: "inv true", "data-name": i.name, title: i.formula},
      el("span", {}, "✓ " + i.name), " ", el("span", {class: "summary"}, i.summary))));
}

// -- machine diagrams -------------------------------------------------------------------------------
function renderMachines(v) {
  const box = $("machines");
  box.replaceChildren(...v.control.map(c => {
    const lit = new Map();
    for (const m of c.members) {
      if (!lit.has(m.value)) lit.set(m.value, []);
      lit.get(m.value).push(m);
    }
    const fig = el("div", {class: "diagram"});
    if (c.svg) {
      fig.innerHTML = c.svg;  // laid out by Graphviz on the server, from the model's text
      c.values.forEach((val, i) => {
        const g = fig.querySelector(`[id="cs-${CSS.escape(c.machine)}-${i}"]`);
        if (!g) return;
        if (lit.has(val)) {
          g.classList.add("lit");
          if (lit.get(val).some(m => m.before !== null)) g.classList.add("just");
          const t = svg("title", {}, lit.get(val).map(m => m.member).join(", "));
          g.append(t);
        }
      });
    } else {
      fig.append(circleLayout(c, lit));
    }
    const who = c.members.map(m => `${m.member} = ${m.value}` + (m.before !== null ? ` (was ${m.before})` : "")).join("; ");
    return el("figure", {class: "machine-diagram", "data-machine": c.machine},
      el("figcaption", {}, el("strong", {}, c.machine), ` (control variable ${c.var}): ${who}`), fig);
  }));
}

function circleLayout(c, lit) {
  // without Graphviz: the values on a circle, edges as chords
  const n = c.values.length, R = 40 + 18 * n, W = 2 * R + 160, H = 2 * R + 60;
  const pos = c.values.map((_, i) => [W / 2 + R * Math.cos(2 * Math.PI * i / n - Math.PI / 2),
                                       H / 2 + R * Math.sin(2 * Math.PI * i / n - Math.PI / 2)]);
  const s = svg("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`});
  const defs = svg("defs", {});
  const mk = svg("marker", {id: "arr-" + c.machine, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto"});
  mk.append(svg("path", {d: "M0,0 L10,5 L0,10 z", fill: "#777"}));
  defs.append(mk);
  s.append(defs);
  for (const e of c.edges) {
    const a = pos[c.values.indexOf(e.src)], b = pos[c.values.indexOf(e.dst)];
    if (e.src === e.dst) continue;
    const l = svg("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: "#999", "marker-end": `url(#arr-${c.machine})`});
    l.append(svg("title", {}, e.labels.join("\n")));
    s.append(l);
  }
  c.values.forEach((val, i) => {
    const g = svg("g", {class: "node" + (lit.has(val) ? " lit" : ""), id: `cs-${c.machine}-${i}`});
    g.append(svg("rect", {x: pos[i][0] - 48, y: pos[i][1] - 12, width: 96, height: 24, rx: 6}));
    g.append(svg("text", {x: pos[i][0], y: pos[i][1] + 4, "text-anchor": "middle"}, val));
    s.append(g);
  });
  return s;
}

// -- the sequence diagram ---------------------------------------------------------------------------
function renderSequence(v) {
  const seq = v.sequence;
  const lanes = seq.lanes.map(l => l[0]);
  const X = (id) => 90 + 190 * Math.max(0, lanes.indexOf(id));
  const W = 90 + 190 * lanes.length;
  const rows = [];
  let y = 50;
  for (const it of seq.items) {
    const lines = String(it.text || it.label || "").split("\n");
    let h = 0;
    if (it.kind === "Message") h = it.src === it.dst ? 42 : 30;
    else if (it.kind === "Note") h = 14 * lines.length + 12;
    else if (it.kind === "RegionStart") h = 14 * Math.ceil(lines.join(" ").length / 110) + 8;
    else if (it.kind === "LoopStart" || it.kind === "LoopEnd") h = 24;
    else if (it.kind === "RegionEnd") h = 4;
    rows.push([it, y, h, lines]);
    y += h + (h ? 6 : 0);
  }
  const s = svg("svg", {width: W, height: y + 30, class: "seq"});
  const defs = svg("defs", {});
  for (const [id, cls] of [["seq-arrow", "#333"], ["seq-arrow-irq", "#c0392b"]]) {
    const mk = svg("marker", {id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto"});
    mk.append(svg("path", {d: "M0,0 L10,5 L0,10 z", fill: cls}));
    defs.append(mk);
  }
  s.append(defs);
  const back = svg("g", {}), lifelines = svg("g", {}), front = svg("g", {});
  s.append(back, lifelines, front);
  seq.lanes.forEach(([id, name]) => {
    lifelines.append(svg("line", {x1: X(id), y1: 30, x2: X(id), y2: y + 20, class: "lifeline"}));
    lifelines.append(svg("rect", {x: X(id) - 70, y: 6, width: 140, height: 24, rx: 4, class: "lane"}));
    lifelines.append(svg("text", {x: X(id), y: 22, "text-anchor": "middle", class: "lane-name"}, name));
  });
  const regions = [], active = new Map();
  for (const [it, top, h, lines] of rows) {
    const num = /^(\d+)\. /.exec(it.text || "");
    const cur = num && Number(num[1]) === v.cursor;
    if (it.kind === "Message") {
      const x1 = X(it.src), x2 = X(it.dst);
      const irq = it.style === "interrupt";
      const cls = "msg" + (cur ? " current" : "") + (irq ? " interrupt" : "");
      const arrow = irq ? "url(#seq-arrow-irq)" : "url(#seq-arrow)";
      if (x1 === x2) {
        front.append(svg("path", {d: `M${x1},${top + 16} h40 v16 h-40`, class: cls, "marker-end": arrow, fill: "none"}));
      } else {
        front.append(svg("line", {x1, y1: top + 20, x2, y2: top + 20, class: cls, "marker-end": arrow}));
      }
      front.append(svg("text", {x: Math.min(x1, x2) + 6, y: top + 13, class: "msg-label" + (cur ? " current" : "") + (irq ? " interrupt" : "")}, it.text));
    } else if (it.kind === "Note") {
      const xs = (it.lanes || []).map(X);
      const x0 = Math.min(...xs) - 80, x1 = Math.max(...xs) + 80;
      const bad = /^violated/.test(it.text);
      front.append(svg("rect", {x: x0, y: top, width: x1 - x0, height: h, class: "note" + (bad ? " bad" : "")}));
      lines.forEach((ln, k) => front.append(svg("text", {x: x0 + 6, y: top + 15 + 14 * k, class: "note-text"}, ln)));
    } else if (it.kind === "RegionStart") {
      // a window between a check and the action relying on it: red where something may
      // interleave (interrupts on), green where nothing can
      regions.push({top, tone: it.tone, label: it.label});
      const words = it.label.split(" ");
      let line = "", k = 0;
      for (const w of words) {
        if ((line + " " + w).length > 110) { front.append(svg("text", {x: 16, y: top + 13 + 14 * k++, class: "region-text " + it.tone}, line)); line = w; }
        else line = line ? line + " " + w : w;
      }
      if (line) front.append(svg("text", {x: 16, y: top + 13 + 14 * k, class: "region-text " + it.tone}, line));
    } else if (it.kind === "RegionEnd") {
      const r = regions.pop();
      if (r) back.append(svg("rect", {x: 10, y: r.top - 3, width: W - 20, height: top - r.top + 6, class: "region " + r.tone}));
    } else if (it.kind === "Activate") {
      active.set(it.lane, top);
    } else if (it.kind === "Deactivate") {
      const t0 = active.get(it.lane);
      if (t0 !== undefined) {
        lifelines.append(svg("rect", {x: X(it.lane) - 4, y: t0, width: 8, height: Math.max(8, top - t0), class: "activation"}));
        active.delete(it.lane);
      }
    } else {
      // a loop's start and end, or any other kind of row: a labelled band across the lanes
      back.append(svg("rect", {x: 10, y: top, width: W - 20, height: h, class: "band " + it.kind}));
      front.append(svg("text", {x: 16, y: top + 16, class: "band-text"}, it.kind === "LoopEnd" ? "end of the loop" : (lines.join(" ") || it.kind)));
    }
  }
  for (const r of regions) back.append(svg("rect", {x: 10, y: r.top - 3, width: W - 20, height: y - r.top, class: "region " + r.tone}));
  for (const [lane, t0] of active) lifelines.append(svg("rect", {x: X(lane) - 4, y: t0, width: 8, height: y - t0, class: "activation"}));
  $("sequence").replaceChildren(s);
}

// -- wiring ----------------------------------------------------------------------------------------------
function wire() {
  $("reset").onclick = () => call("reset", {initial: Number($("initial").value) || 0});
  $("back").onclick = () => call("back", {});
  $("forward").onclick = () => call("forward", {});
  $("walk").onclick = () => call("random", {steps: Number($("walk-steps").value) || 20});
  $("variant").onchange = () => call("variant", {variant: $("variant").value});
  $("load-cex").onclick = () => call("counterexample", {variant: $("variant").value, property: $("cex-prop").value});
  $("load-lasso").onclick = () => call("lasso", {variant: $("variant").value});
  $("itf-file").onchange = async (e) => {
    const f = e.target.files[0];
    if (!f) return;
    let obj;
    try { obj = JSON.parse(await f.text()); } catch (err) { say(`${f.name}: not JSON (${err.message})`, true); return; }
    await call("itf", {trace: obj, name: f.name});
    e.target.value = "";
  };
  $("query-form").onsubmit = (e) => { e.preventDefault(); call("query", {expr: $("query").value}); };
  document.addEventListener("keydown", (e) => {
    if (e.altKey && e.key === "ArrowLeft") call("back", {});
    if (e.altKey && e.key === "ArrowRight") call("forward", {});
  });
  call("view");
}

wire();
