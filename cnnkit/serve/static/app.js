// cnnkit serve: the drawing pad and the answer of every layer. Plain JavaScript, no build step, no CDN.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const statusLine = document.getElementById("status");
const prediction = document.getElementById("prediction");
const bars = document.getElementById("bars");
const layersBox = document.getElementById("layers");
const inputImage = document.getElementById("input-image");
const inputFigure = document.getElementById("input-figure");
const LINE_WIDTH = 22;          // in canvas pixels (the canvas is 280×280, like a 28×28 digit at 10×)
let drawing = null;             // the pointer id of the stroke in progress
let last = null;                // its last point
let sent = 0;                   // numbers the requests: an answer older than the newest shown one is dropped
let shown = 0;
let inked = false;

function clearPad() {
  ctx.fillStyle = "#000";       // an opaque black field: light strokes on black, like the training digits
  ctx.fillRect(0, 0, pad.width, pad.height);
  inked = false;
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function segment(a, b) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = LINE_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  inked = true;
}

pad.addEventListener("pointerdown", (event) => {
  if (drawing !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = event.pointerId;
  last = point(event);
  segment(last, last);          // a dot for a tap
});

pad.addEventListener("pointermove", (event) => {
  if (event.pointerId !== drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of (events.length ? events : [event])) {
    const p = point(e);
    segment(last, p);
    last = p;
  }
});

function endStroke(event) {
  if (event.pointerId !== drawing) return;
  drawing = null;
  last = null;
  send();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function reset() {
  clearPad();
  sent += 1;                    // answers still on their way are for a drawing that is gone
  shown = sent;
  prediction.textContent = "?";
  inputFigure.hidden = true;
  renderBars(null);
  layersBox.replaceChildren(paragraph("Draw a digit to see them.", "muted"));
  statusLine.textContent = "cleared";
}
document.getElementById("clear").addEventListener("click", reset);
pad.addEventListener("keydown", (event) => {
  if (event.key === "Escape" || event.key === "Delete" || event.key === "Backspace") {
    event.preventDefault();
    reset();
  }
});

function paragraph(text, cls) {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  return p;
}

async function send() {
  if (!inked) return;
  const id = ++sent;
  statusLine.textContent = "thinking…";
  const blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
  let answer;
  try {
    const response = await fetch("/api/predict", { method: "POST", headers: { "Content-Type": "image/png" }, body: blob });
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  } catch (error) {
    if (id >= shown) statusLine.textContent = `error: ${error.message}`;
    return;
  }
  if (id < shown) return;       // a newer answer (or a clear) is already on the page
  shown = id;
  render(answer);
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function renderBars(answer) {
  const items = [];
  const classes = answer ? answer.classes : (window.cnnkitClasses || []);
  classes.forEach((name, k) => {
    const p = answer ? answer.probabilities[k] : 0;
    const li = document.createElement("li");
    if (answer && k === answer.prediction) li.className = "top";
    li.setAttribute("aria-label", `${name}: ${answer ? percent(p) : "no answer yet"}`);
    const label = document.createElement("span");
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${100 * p}%`;
    fill.style.display = "block";
    track.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = answer ? percent(p) : "";
    li.append(label, track, pct);
    items.push(li);
  });
  bars.replaceChildren(...items);
}

function tileScale(height) {     // feature maps shown at about 48 CSS pixels, in whole multiples
  return Math.max(1, Math.round(48 / height));
}

function renderLayers(layers) {
  const sections = layers.map((layer) => {
    const section = document.createElement("section");
    section.className = "layer";
    section.dataset.layer = layer.name;
    const title = document.createElement("h3");
    const shape = document.createElement("span");
    shape.className = "shape";
    shape.textContent = ` ${layer.type} · ${layer.shape.join("×")}`;
    title.append(layer.name, shape);
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    const spatial = layer.shape.length === 4 && layer.shape[2] * layer.shape[3] > 1;
    layer.tiles.forEach((data, c) => {
      const img = document.createElement("img");
      img.src = `data:image/png;base64,${data}`;
      if (spatial) {
        const k = tileScale(layer.shape[2]);
        img.width = layer.shape[3] * k;
        img.height = layer.shape[2] * k;
        img.alt = `${layer.name}, map ${c}`;
        img.title = `${layer.name} map ${c}`;
      } else {
        img.className = "strip";
        img.alt = `${layer.name}: ${layer.values.length} values`;
        img.title = `${layer.name}: ${layer.values.length} values from ${layer.min.toFixed(2)} to ${layer.max.toFixed(2)}`;
      }
      tiles.append(img);
    });
    section.append(title, tiles);
    return section;
  });
  layersBox.replaceChildren(...sections);
}

function render(answer) {
  prediction.textContent = answer.label;
  inputImage.src = `data:image/png;base64,${answer.input.png}`;
  inputFigure.hidden = false;
  renderBars(answer);
  renderLayers(answer.layers);
  const top = answer.probabilities[answer.prediction];
  statusLine.textContent = `${answer.label} (${percent(top)})` +
    (answer.light_background ? " · light background: the model expects light strokes on black" : "");
}

async function loadModel() {
  const info = document.getElementById("model-info");
  try {
    const response = await fetch("/api/model");
    const model = await response.json();
    if (!response.ok) throw new Error(model.error || `HTTP ${response.status}`);
    window.cnnkitClasses = model.classes;
    const facts = [`${model.model}`, `${model.parameters.toLocaleString("en")} parameters`];
    if (model.data) facts.push(`trained on ${model.data}`);
    if (model.test_accuracy !== null) {
      facts.push(`test accuracy ${(100 * model.test_accuracy).toFixed(2)}%` + (model.epoch ? ` after ${model.epoch} epochs` : ""));
    }
    info.textContent = facts.join(" · ");
    renderBars(null);
  } catch (error) {
    info.textContent = `cannot load the model: ${error.message}`;
  }
}

clearPad();
loadModel();
