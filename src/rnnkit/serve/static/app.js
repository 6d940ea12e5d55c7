// The try-it page: reads /metadata, shows the panel for the loaded kind, and calls the
// same endpoints a client would. No build step, no library: fetch, a canvas, and a small
// reader for Server-Sent Events (EventSource can only GET; /generate takes a POST body).
"use strict";

const $ = (id) => document.getElementById(id);

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

// FastAPI's errors: a string, or a list of {loc, msg} (422) -> one readable line
function describeError(body, code) {
  const detail = body && body.detail !== undefined ? body.detail : body;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return `${code}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`;
}

async function post(path, body) {
  const resp = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new Error(describeError(data, resp.status));
  return data;
}

function numberOrNull(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

// ------------------------------------------------------------------ forecast
// band: null, or {lower, upper} over the first steps of the forecast (up to the horizon)
function drawForecast(history, forecast, band = null) {
  const canvas = $("forecast-plot");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, pad = 36;
  ctx.clearRect(0, 0, W, H);
  const all = history.concat(forecast, band ? band.lower.concat(band.upper) : []);
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi === lo) { hi += 1; lo -= 1; }
  const n = history.length + forecast.length;
  const x = (i) => pad + (W - 2 * pad) * (n > 1 ? i / (n - 1) : 0.5);
  const y = (v) => H - pad - (H - 2 * pad) * (v - lo) / (hi - lo);
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1;                       // axes
  ctx.beginPath(); ctx.moveTo(pad, pad / 2); ctx.lineTo(pad, H - pad);
  ctx.lineTo(W - pad / 2, H - pad); ctx.stroke();
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText(hi.toPrecision(3), 2, y(hi) + 4);
  ctx.fillText(lo.toPrecision(3), 2, y(lo));
  const line = (values, offset, colour) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
    values.forEach((v, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(i + offset), y(v)));
    ctx.stroke();
  };
  if (band) {                           // shaded between its bounds, under the lines
    const k = band.lower.length, at = (i) => x(history.length + i);
    ctx.fillStyle = "rgba(56, 161, 105, 0.3)"; ctx.beginPath();
    band.upper.forEach((v, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, at(i), y(v)));
    for (let i = k - 1; i >= 0; i--) ctx.lineTo(at(i), y(band.lower[i]));
    ctx.closePath(); ctx.fill();
    if (k === 1) {                        // one step has no area: a bar
      ctx.strokeStyle = "rgba(56, 161, 105, 0.8)"; ctx.lineWidth = 4; ctx.beginPath();
      ctx.moveTo(at(0), y(band.upper[0])); ctx.lineTo(at(0), y(band.lower[0])); ctx.stroke();
    }
  }
  line(history, 0, "#2b6cb0");
  // the forecast starts from the last known value, so the two lines join
  const joined = history.length ? [history[history.length - 1]].concat(forecast) : forecast;
  line(joined, history.length ? history.length - 1 : 0, "#dd6b20");
  canvas.dataset.history = String(history.length);
  canvas.dataset.forecast = String(forecast.length);
  canvas.dataset.band = String(band ? band.lower.length : 0);
}

let interval = null;           // /metadata's task.interval: the band /forecast can give

async function runForecast() {
  const body = { steps: numberOrNull("forecast-steps") };
  const text = $("forecast-history").value.trim();
  if (text) body.history = text.split(/[\s,;]+/).filter(Boolean).map(Number);
  status("forecasting…");
  try {
    const out = await post("/forecast", body);
    const target = out.targets[0];
    const history = out.history[target] || [];
    const forecast = out.forecast[target];
    let band = null;
    if (interval) {              // its quantiles reach the horizon: asked for those steps
      const steps = Math.min(out.steps, interval.horizon);
      const q = await post("/forecast", { ...body, steps, quantiles: interval.levels });
      const [low, high] = interval.levels.map((l) => q.quantiles[target][String(l)]);
      band = { lower: low, upper: high };
    }
    drawForecast(history, forecast, band);
    $("forecast-band").hidden = !band;
    $("forecast-values").replaceChildren(...forecast.map((v) => {
      const li = document.createElement("li");
      li.textContent = v.toFixed(4);
      return li;
    }));
    status(`${out.steps} steps of ${target} forecast after ${history.length} known values`);
  } catch (err) { status(err.message, true); }
}

// ------------------------------------------------------------------ generate (SSE)
async function* serverSentEvents(resp) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      yield { event, data: data ? JSON.parse(data) : null };
    }
  }
}

async function runGenerate() {
  const prompt = $("generate-prompt").value;
  const body = {
    prompt, length: numberOrNull("generate-length") ?? 200,
    temperature: numberOrNull("generate-temperature") ?? 1.0,
    top_k: numberOrNull("generate-top-k"), top_p: numberOrNull("generate-top-p"),
    seed: numberOrNull("generate-seed"), stream: true,
  };
  const out = $("generate-output");
  out.textContent = prompt;
  out.dataset.done = "false";
  $("generate-run").disabled = true;
  status("generating…");
  try {
    const resp = await fetch("/generate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!resp.ok) {
      throw new Error(describeError(await resp.json().catch(() => null), resp.status));
    }
    let tokens = 0;
    for await (const { event, data } of serverSentEvents(resp)) {
      if (event === "token") { out.textContent += data.token; tokens += 1; }
      else if (event === "error") throw new Error(data.detail);
      else if (event === "done") { out.dataset.done = "true"; }
    }
    status(`${tokens} tokens generated`);
  } catch (err) { status(err.message, true); }
  finally { $("generate-run").disabled = false; }
}

// ------------------------------------------------------------------ classify, translate
async function runClassify() {
  status("classifying…");
  try {
    const out = await post("/classify", { texts: [$("classify-text").value] });
    const result = out.results[0];
    $("classify-label").textContent = `label: ${result.label}`;
    $("classify-probs").replaceChildren(...Object.entries(result.probabilities)
      .sort((a, b) => b[1] - a[1]).map(([name, p]) => {
        const row = document.createElement("div");
        row.className = "bar";
        const label = document.createElement("span");
        label.className = "name"; label.textContent = name;
        const fill = document.createElement("span");
        fill.className = "fill"; fill.style.width = `${Math.round(p * 300)}px`;
        const value = document.createElement("span");
        value.textContent = `${(100 * p).toFixed(1)}%`;
        row.append(label, fill, value);
        return row;
      }));
    status("");
  } catch (err) { status(err.message, true); }
}

async function runTranslate() {
  status("translating…");
  try {
    const out = await post("/translate", {
      texts: [$("translate-text").value], beam: numberOrNull("translate-beam") ?? 1,
    });
    $("translate-output").textContent = out.translations[0];
    status("");
  } catch (err) { status(err.message, true); }
}

// ------------------------------------------------------------------ predict, sessions
async function runPredict() {
  try {
    const out = await post("/predict", { x: JSON.parse($("predict-x").value) });
    $("predict-output").textContent = JSON.stringify(out.y);
    status(`output shape ${JSON.stringify(out.shape)}`);
  } catch (err) { status(err.message, true); }
}

let sessionId = null;

async function openSession() {
  try {
    sessionId = (await post("/sessions", {})).id;
    $("session-send").disabled = $("session-close").disabled = false;
    $("session-output").textContent = "";
    status("session open");
  } catch (err) { status(err.message, true); }
}

async function sendSteps() {
  try {
    let steps = JSON.parse($("session-steps").value);
    if (!Array.isArray(steps)) steps = [steps];
    const out = await post(`/sessions/${encodeURIComponent(sessionId)}/steps`, { steps });
    $("session-output").textContent += out.y.map((v) => JSON.stringify(v)).join("\n") + "\n";
    status(`${out.steps} steps so far in this session`);
  } catch (err) { status(err.message, true); }
}

async function closeSession() {
  await fetch(`/sessions/${encodeURIComponent(sessionId)}`, { method: "DELETE" });
  sessionId = null;
  $("session-send").disabled = $("session-close").disabled = true;
  status("session closed");
}

// ------------------------------------------------------------------ start
async function start() {
  let meta;
  try {
    meta = await (await fetch("/metadata")).json();
  } catch (err) { status(`cannot read /metadata: ${err.message}`, true); return; }
  $("model").textContent =
    `${meta.model} · ${meta.parameters.toLocaleString()} parameters · ${meta.folder}`;
  document.body.dataset.kind = meta.kind;
  const show = (id) => { $(id).hidden = false; };
  const has = (path) => meta.endpoints.includes(path);
  if (has("/forecast")) {
    show("forecast");
    $("forecast-steps").value = Math.max(meta.task.horizon, 12);
    if (meta.task.interval) {
      interval = { ...meta.task.interval, horizon: meta.task.horizon };
      $("forecast-band-label").textContent =
        `${interval.coverage} % interval (first ${interval.horizon} step` +
        `${interval.horizon === 1 ? "" : "s"})`;
    }
  }
  if (has("/generate")) show("generate");
  if (has("/classify")) show("classify");
  if (has("/translate")) show("translate");
  if (meta.kind === "sequential" && has("/predict")) show("predict");
  if (meta.kind === "sequential" && has("/sessions")) show("session");
  $("forecast-run").onclick = runForecast;
  $("generate-run").onclick = runGenerate;
  $("classify-run").onclick = runClassify;
  $("translate-run").onclick = runTranslate;
  $("predict-run").onclick = runPredict;
  $("session-open").onclick = openSession;
  $("session-send").onclick = sendSteps;
  $("session-close").onclick = closeSession;
  document.body.dataset.ready = "true";
}

start();
