// The brain graph view: our own WebGL renderer (no library), fed by the public API.
//
// One request (GET /brains/{name}/graph, NDJSON) brings the current version's
// neurons, synapses, lobes and memberships. Everything the renderer needs then
// lives in typed arrays: positions, colours and sizes are rebuilt with one pass
// over them when the colour mode, the lobe filter or the highlighted pathway
// changes; pan and zoom only change two uniforms. Neurons are gl.POINTS,
// synapses gl.LINES. After each draw the root element carries
// data-drawn-nodes / data-drawn-edges, so a test (or a user) can read what the
// canvas shows. Text from the API only ever reaches the page via textContent.

const KIND_CODES = { input: 0, output: 1, hidden: 2, concept: 3 };
const KIND_NAMES = ["input", "output", "hidden", "concept", "other"];
const KIND_COLOURS = [
  [0.25, 0.65, 1.0],
  [1.0, 0.55, 0.15],
  [0.55, 0.6, 0.7],
  [0.75, 0.35, 0.95],
  [0.9, 0.9, 0.9],
];
const NO_LOBE_COLOUR = [0.45, 0.45, 0.5];
const POSITIVE_EDGE = [0.2, 0.55, 1.0];
const NEGATIVE_EDGE = [1.0, 0.3, 0.25];
const PATH_COLOUR = [1.0, 0.9, 0.1];
const SELECTED_COLOUR = [1.0, 1.0, 1.0];
// A click picks the nearest neuron only when it lies this close on screen (CSS pixels).
const PICK_RADIUS_PX = 12;
// Synapses listed in the neuron panel: a hub can have thousands.
const PANEL_SYNAPSES_MAX = 50;

const VERTEX_SHADER = `
attribute vec2 a_position;
attribute vec4 a_colour;
attribute float a_size;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_point_scale;
varying vec4 v_colour;
void main() {
  gl_Position = vec4(a_position * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = max(1.0, a_size * u_point_scale);
  v_colour = a_colour;
}`;

const FRAGMENT_SHADER = `
precision mediump float;
varying vec4 v_colour;
uniform bool u_round;
void main() {
  if (u_round) {
    vec2 d = gl_PointCoord - vec2(0.5);
    if (dot(d, d) > 0.25) discard;
  }
  gl_FragColor = v_colour;
}`;

/**
 * Render `brain`'s graph inside `root` and wire its controls.
 *
 * rest(method, path, body) and gql(query, variables) are the explorer's API
 * helpers (they add the token): rest reads the graph export (NDJSON, as text),
 * gql a neuron's details and pathways.
 * onStatus(text) reports progress and errors.
 * Returns {ready, selectNeuron(id), showPathway(from, to), locate(id), destroy()};
 * `ready` answers the parsed graph (ids, kinds, synapse weights...) once the first
 * frame is drawn.
 */
export function mountGraph(root, { rest, gql, brain, onStatus = () => {} }) {
  root.replaceChildren();
  root.classList.add("graph-view");
  const ui = buildControls(root);
  const gl = ui.canvas.getContext("webgl", { antialias: true, preserveDrawingBuffer: true });
  if (!gl) {
    onStatus("WebGL is not available in this browser");
    return { ready: Promise.reject(new Error("WebGL unavailable")), destroy() {} };
  }
  const renderer = createRenderer(gl);
  const view = { scale: 1, x: 0, y: 0 };
  const settings = { colourBy: "kind", lobe: -1, minStrength: 0 };
  let graph = null;
  let path = null; // {neurons: index[], edges: [index, index][]}
  let selected = -1; // index of the neuron shown in the panel
  let destroyed = false;

  function draw() {
    if (!graph || destroyed) return;
    const counts = renderer.draw(ui.canvas, view);
    root.dataset.drawnNodes = String(counts.nodes);
    root.dataset.drawnEdges = String(counts.edges);
  }

  function rebuild() {
    const visible = visibleMask(graph, settings.lobe);
    renderer.upload(buildBuffers(graph, visible, settings, path, selected));
    draw();
  }

  const ready = (async () => {
    onStatus(`Loading ${brain}…`);
    const started = performance.now();
    const text = await rest("GET", graphPath(brain));
    graph = parseGraph(text);
    layout(graph);
    fillLobeFilter(ui.lobeSelect, graph);
    rebuild();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    onStatus(
      `${brain} v${graph.version}: ${graph.count} neurons, ${graph.edgeCount} synapses (${seconds} s)`,
    );
    return graph;
  })();
  ready.catch((error) => onStatus(`Could not load ${brain}: ${error.message}`));

  ui.colourSelect.addEventListener("change", () => {
    settings.colourBy = ui.colourSelect.value;
    if (graph) rebuild();
  });
  ui.strengthInput.addEventListener("input", () => {
    settings.minStrength = Number(ui.strengthInput.value);
    ui.strengthShown.textContent = settings.minStrength.toFixed(2);
    if (graph) rebuild();
  });
  ui.lobeSelect.addEventListener("change", () => {
    settings.lobe = Number(ui.lobeSelect.value);
    if (graph) rebuild();
  });

  async function selectNeuron(id) {
    const index = graph ? graph.indexOf.get(id) : undefined;
    if (index === undefined) return;
    root.dataset.selectedNeuron = String(id);
    selected = index;
    rebuild();
    ui.panel.replaceChildren(element("p", "", `Loading neuron ${id}…`));
    try {
      const data = await gql(NEURON_QUERY, { brain, id });
      // A later click may have answered first: only the latest selection fills the panel.
      if (selected === index) showNeuron(ui.panel, data.neuron, graph, index);
    } catch (error) {
      if (selected === index) {
        ui.panel.replaceChildren(element("p", "error", `Neuron ${id}: ${error.message}`));
      }
    }
  }

  async function showPathway(from, to) {
    if (!graph) return;
    ui.pathResult.textContent = "Searching…";
    try {
      const data = await gql(PATHWAY_QUERY, { brain, from, to });
      const found = data.pathway;
      if (!found) {
        path = null;
        root.dataset.pathNeurons = "";
        ui.pathResult.textContent = `No path from ${from} to ${to}`;
      } else {
        path = pathHighlight(graph, found);
        root.dataset.pathNeurons = found.neurons.join(",");
        ui.pathResult.textContent =
          `${found.hops} hops: ${found.neurons.join(" → ")} ` +
          `(relative strength ${found.relativeStrength.toPrecision(3)})`;
      }
      rebuild();
    } catch (error) {
      ui.pathResult.textContent = `Pathway: ${error.message}`;
    }
  }

  ui.pathForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const from = Number.parseInt(ui.fromInput.value, 10);
    const to = Number.parseInt(ui.toInput.value, 10);
    if (!Number.isInteger(from) || !Number.isInteger(to)) {
      ui.pathResult.textContent = "Enter two neuron ids";
      return;
    }
    showPathway(from, to);
  });

  const detach = attachPanZoom(ui.canvas, view, draw, (x, y) => {
    if (!graph) return;
    const index = pick(graph, ui.canvas, view, x, y, visibleMask(graph, settings.lobe));
    if (index >= 0) selectNeuron(graph.ids[index]);
  });
  const resize = new ResizeObserver(() => draw());
  resize.observe(ui.canvas);

  // Where neuron `id` is drawn, in CSS pixels from the canvas's top-left corner (null
  // when it is unknown or filtered out): for a script that wants to point at it.
  function locate(id) {
    const index = graph ? graph.indexOf.get(id) : undefined;
    if (index === undefined || !visibleMask(graph, settings.lobe)[index]) return null;
    const [x, y] = toScreen(ui.canvas, view, graph.x[index], graph.y[index]);
    return { x, y };
  }

  return {
    ready,
    selectNeuron,
    showPathway,
    locate,
    destroy() {
      destroyed = true;
      resize.disconnect();
      detach();
      renderer.dispose();
      root.replaceChildren();
    },
  };
}

const NEURON_QUERY = `query Neuron($brain: String!, $id: Int!) {
  neuron(brain: $brain, id: $id) {
    id kind neuronType bias attention energy state
    lobe { name }
    incoming { source weight synapseType }
    outgoing { target weight synapseType }
  }
}`;

const PATHWAY_QUERY = `query Pathway($brain: String!, $from: Int!, $to: Int!) {
  pathway(brain: $brain, from: $from, to: $to) {
    neurons hops strength relativeStrength
    synapses { source target weight }
  }
}`;

// The whole graph in one request: the current version's tables as NDJSON.
function graphPath(brain) {
  return `/brains/${encodeURIComponent(brain)}/graph?tables=neurons,synapses,lobes,memberships`;
}

// NDJSON -> typed arrays. One pass per table; rows arrive grouped by table.
function parseGraph(text) {
  const lines = text.split("\n");
  const header = JSON.parse(lines[0]);
  const count = header.counts.neurons;
  const edgeCount = header.counts.synapses;
  const graph = {
    version: header.version,
    count,
    edgeCount,
    ids: new Float64Array(count),
    kinds: new Uint8Array(count),
    seedX: new Float32Array(count),
    seedY: new Float32Array(count),
    stateNorm: new Float32Array(count),
    lobeOf: new Int32Array(count).fill(-1),
    x: new Float32Array(count),
    y: new Float32Array(count),
    src: new Int32Array(edgeCount),
    dst: new Int32Array(edgeCount),
    weight: new Float32Array(edgeCount),
    lobeNames: [],
    indexOf: new Map(),
  };
  const lobeIndex = new Map();
  let n = 0;
  let e = 0;
  const memberships = [];
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i];
    if (!line) continue;
    const row = JSON.parse(line);
    if (row.table === "neurons") {
      graph.ids[n] = row.id;
      graph.kinds[n] = KIND_CODES[row.kind] ?? 4;
      graph.seedX[n] = row.seed_cx ?? Number.NaN;
      graph.seedY[n] = row.seed_cy ?? Number.NaN;
      let sum = 0;
      for (const v of row.state || []) sum += v * v;
      graph.stateNorm[n] = Math.sqrt(sum);
      graph.indexOf.set(row.id, n);
      n += 1;
    } else if (row.table === "synapses") {
      graph.src[e] = row.src;
      graph.dst[e] = row.dst;
      graph.weight[e] = row.weight;
      e += 1;
    } else if (row.table === "lobes") {
      lobeIndex.set(row.id, graph.lobeNames.length);
      graph.lobeNames.push(row.name);
    } else if (row.table === "memberships") {
      memberships.push(row);
    }
  }
  // Synapses name neurons by id; the renderer wants array indices.
  for (let k = 0; k < e; k += 1) {
    graph.src[k] = graph.indexOf.get(graph.src[k]) ?? -1;
    graph.dst[k] = graph.indexOf.get(graph.dst[k]) ?? -1;
  }
  for (const m of memberships) {
    const index = graph.indexOf.get(m.neuron);
    const lobe = lobeIndex.get(m.lobe);
    if (index !== undefined && lobe !== undefined) graph.lobeOf[index] = lobe;
  }
  graph.count = n;
  graph.edgeCount = e;
  return graph;
}

// Deterministic, force-free: hidden neurons sit at their Mandelbrot seed point;
// inputs form a column on the left, outputs one on the right, anything without a
// seed point a golden-angle spiral around the centre. Then all fit in [-0.95, 0.95].
function layout(graph) {
  const { count, seedX, seedY, kinds, x, y } = graph;
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < count; i += 1) {
    if (kinds[i] === 2 && Number.isFinite(seedX[i]) && Number.isFinite(seedY[i])) {
      minX = Math.min(minX, seedX[i]);
      maxX = Math.max(maxX, seedX[i]);
      minY = Math.min(minY, seedY[i]);
      maxY = Math.max(maxY, seedY[i]);
    }
  }
  if (!Number.isFinite(minX)) {
    minX = -1;
    maxX = 1;
    minY = -1;
    maxY = 1;
  }
  const spanX = Math.max(maxX - minX, 1e-6);
  const spanY = Math.max(maxY - minY, 1e-6);
  const counters = [0, 0, 0];
  const totals = [0, 0, 0];
  for (let i = 0; i < count; i += 1) {
    const seeded = kinds[i] === 2 && Number.isFinite(seedX[i]) && Number.isFinite(seedY[i]);
    if (!seeded) totals[kinds[i] < 2 ? kinds[i] : 2] += 1;
  }
  const GOLDEN = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < count; i += 1) {
    const seeded = kinds[i] === 2 && Number.isFinite(seedX[i]) && Number.isFinite(seedY[i]);
    if (seeded) {
      x[i] = -0.8 + (1.6 * (seedX[i] - minX)) / spanX;
      y[i] = -0.8 + (1.6 * (seedY[i] - minY)) / spanY;
    } else if (kinds[i] === 0 || kinds[i] === 1) {
      const side = kinds[i];
      const k = counters[side]++;
      x[i] = side === 0 ? -0.95 : 0.95;
      y[i] = totals[side] > 1 ? -0.9 + (1.8 * k) / (totals[side] - 1) : 0;
    } else {
      const k = counters[2]++;
      const radius = 0.9 * Math.sqrt((k + 0.5) / Math.max(totals[2], 1));
      x[i] = radius * Math.cos(k * GOLDEN);
      y[i] = radius * Math.sin(k * GOLDEN);
    }
  }
}

function visibleMask(graph, lobe) {
  const mask = new Uint8Array(graph.count);
  if (lobe < 0) return mask.fill(1);
  for (let i = 0; i < graph.count; i += 1) mask[i] = graph.lobeOf[i] === lobe ? 1 : 0;
  return mask;
}

function lobeColour(lobe) {
  if (lobe < 0) return NO_LOBE_COLOUR;
  // Evenly spread hues (golden ratio), fixed saturation and lightness.
  const hue = (lobe * 0.618033988749895) % 1;
  return hslToRgb(hue, 0.7, 0.55);
}

function hslToRgb(h, s, l) {
  const f = (n) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return l - a * Math.max(-1, Math.min(k - 3, Math.min(9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

function pathHighlight(graph, found) {
  const neurons = found.neurons.map((id) => graph.indexOf.get(id)).filter((i) => i !== undefined);
  const edges = found.synapses
    .map((s) => [graph.indexOf.get(s.source), graph.indexOf.get(s.target)])
    .filter(([a, b]) => a !== undefined && b !== undefined);
  return { neurons, edges };
}

// Vertex data for one frame: edges first (drawn underneath), then nodes, then the
// highlighted path on top. Interleaved [x, y, r, g, b, a, size] per vertex.
function buildBuffers(graph, visible, { colourBy, minStrength }, path, selected) {
  const STRIDE = 7;
  let maxWeight = 0;
  for (let k = 0; k < graph.edgeCount; k += 1) {
    maxWeight = Math.max(maxWeight, Math.abs(graph.weight[k]));
  }
  maxWeight = maxWeight || 1;
  const shown = (k) => {
    const a = graph.src[k];
    const b = graph.dst[k];
    return a >= 0 && b >= 0 && visible[a] && visible[b] && Math.abs(graph.weight[k]) >= minStrength * maxWeight;
  };
  let edgeCount = 0;
  for (let k = 0; k < graph.edgeCount; k += 1) {
    if (shown(k)) edgeCount += 1;
  }
  let nodeCount = 0;
  for (let i = 0; i < graph.count; i += 1) nodeCount += visible[i];
  const density = Math.min(1, Math.sqrt(2000 / Math.max(edgeCount, 1)));
  // Big dots for a small brain, small ones when 10,000 share the canvas.
  const baseSize = Math.min(12, Math.max(2, 400 / Math.sqrt(Math.max(nodeCount, 1))));
  const pathEdges = path ? path.edges.length : 0;
  // The selected neuron rides along as one more highlighted node.
  const marked = selected >= 0 && visible[selected] ? 1 : 0;
  const pathNodes = (path ? path.neurons.length : 0) + marked;
  const data = new Float32Array((edgeCount * 2 + nodeCount + pathEdges * 2 + pathNodes) * STRIDE);
  let o = 0;
  const put = (i, colour, alpha, size) => {
    data[o] = graph.x[i];
    data[o + 1] = graph.y[i];
    data[o + 2] = colour[0];
    data[o + 3] = colour[1];
    data[o + 4] = colour[2];
    data[o + 5] = alpha;
    data[o + 6] = size;
    o += STRIDE;
  };
  for (let k = 0; k < graph.edgeCount; k += 1) {
    if (!shown(k)) continue;
    const a = graph.src[k];
    const b = graph.dst[k];
    const w = graph.weight[k];
    const colour = w >= 0 ? POSITIVE_EDGE : NEGATIVE_EDGE;
    // Faint for weak synapses, solid for the strongest: size shows as opacity,
    // thinned out as synapses multiply so tens of thousands do not blot out the nodes.
    const alpha = 0.03 + 0.7 * density * (Math.abs(w) / maxWeight);
    put(a, colour, alpha, 1);
    put(b, colour, alpha, 1);
  }
  let maxNorm = 0;
  for (let i = 0; i < graph.count; i += 1) maxNorm = Math.max(maxNorm, graph.stateNorm[i]);
  maxNorm = maxNorm || 1;
  for (let i = 0; i < graph.count; i += 1) {
    if (!visible[i]) continue;
    const colour =
      colourBy === "lobe" ? lobeColour(graph.lobeOf[i]) : KIND_COLOURS[graph.kinds[i]];
    // Hidden neurons grow with their state's norm; inputs and outputs stay prominent.
    const size =
      graph.kinds[i] === 2
        ? baseSize * (0.6 + 0.6 * (graph.stateNorm[i] / maxNorm))
        : Math.max(5, baseSize * 1.2);
    put(i, colour, 1, size);
  }
  if (path) {
    for (const [a, b] of path.edges) {
      put(a, PATH_COLOUR, 1, 1);
      put(b, PATH_COLOUR, 1, 1);
    }
    for (const i of path.neurons) put(i, PATH_COLOUR, 1, Math.max(9, baseSize * 1.5));
  }
  if (marked) put(selected, SELECTED_COLOUR, 1, Math.max(11, baseSize * 2));
  return { data, edgeCount, nodeCount, pathEdges, pathNodes };
}

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error(`shader: ${gl.getShaderInfoLog(shader)}`);
  }
  return shader;
}

function createRenderer(gl) {
  const program = gl.createProgram();
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX_SHADER));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT_SHADER));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new Error(`program: ${gl.getProgramInfoLog(program)}`);
  }
  const buffer = gl.createBuffer();
  const where = {
    position: gl.getAttribLocation(program, "a_position"),
    colour: gl.getAttribLocation(program, "a_colour"),
    size: gl.getAttribLocation(program, "a_size"),
    scale: gl.getUniformLocation(program, "u_scale"),
    offset: gl.getUniformLocation(program, "u_offset"),
    pointScale: gl.getUniformLocation(program, "u_point_scale"),
    round: gl.getUniformLocation(program, "u_round"),
  };
  let frame = { edgeCount: 0, nodeCount: 0, pathEdges: 0, pathNodes: 0 };

  return {
    upload(built) {
      frame = built;
      gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
      gl.bufferData(gl.ARRAY_BUFFER, built.data, gl.STATIC_DRAW);
    },
    draw(canvas, view) {
      const ratio = window.devicePixelRatio || 1;
      const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
      const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      gl.viewport(0, 0, width, height);
      gl.clearColor(0.07, 0.08, 0.1, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
      gl.useProgram(program);
      gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
      const bytes = 7 * 4;
      gl.enableVertexAttribArray(where.position);
      gl.vertexAttribPointer(where.position, 2, gl.FLOAT, false, bytes, 0);
      gl.enableVertexAttribArray(where.colour);
      gl.vertexAttribPointer(where.colour, 4, gl.FLOAT, false, bytes, 8);
      gl.enableVertexAttribArray(where.size);
      gl.vertexAttribPointer(where.size, 1, gl.FLOAT, false, bytes, 24);
      const [sx, sy] = viewScale(canvas, view);
      gl.uniform2f(where.scale, sx, sy);
      gl.uniform2f(where.offset, view.x, view.y);
      gl.uniform1f(where.pointScale, ratio * Math.sqrt(view.scale));
      let first = 0;
      gl.uniform1i(where.round, 0);
      gl.drawArrays(gl.LINES, first, frame.edgeCount * 2);
      first += frame.edgeCount * 2;
      gl.uniform1i(where.round, 1);
      gl.drawArrays(gl.POINTS, first, frame.nodeCount);
      first += frame.nodeCount;
      gl.uniform1i(where.round, 0);
      gl.drawArrays(gl.LINES, first, frame.pathEdges * 2);
      first += frame.pathEdges * 2;
      gl.uniform1i(where.round, 1);
      gl.drawArrays(gl.POINTS, first, frame.pathNodes);
      return { nodes: frame.nodeCount, edges: frame.edgeCount };
    },
    dispose() {
      gl.deleteBuffer(buffer);
      gl.deleteProgram(program);
    },
  };
}

// World [-1, 1] square -> clip space, keeping the aspect ratio square.
function viewScale(canvas, view) {
  const w = canvas.clientWidth || 1;
  const h = canvas.clientHeight || 1;
  const fit = Math.min(w, h);
  return [(view.scale * fit) / w, (view.scale * fit) / h];
}

function toScreen(canvas, view, x, y) {
  const [sx, sy] = viewScale(canvas, view);
  return [
    ((x * sx + view.x + 1) / 2) * (canvas.clientWidth || 1),
    ((1 - (y * sy + view.y)) / 2) * (canvas.clientHeight || 1),
  ];
}

// The visible neuron nearest to (px, py) CSS pixels, within PICK_RADIUS_PX; else -1.
function pick(graph, canvas, view, px, py, visible) {
  const w = canvas.clientWidth || 1;
  const h = canvas.clientHeight || 1;
  const [sx, sy] = viewScale(canvas, view);
  let best = -1;
  let bestDistance = PICK_RADIUS_PX * PICK_RADIUS_PX;
  for (let i = 0; i < graph.count; i += 1) {
    if (!visible[i]) continue;
    const cx = ((graph.x[i] * sx + view.x + 1) / 2) * w;
    const cy = ((1 - (graph.y[i] * sy + view.y)) / 2) * h;
    const d = (cx - px) ** 2 + (cy - py) ** 2;
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  }
  return best;
}

function attachPanZoom(canvas, view, draw, onClick) {
  let drag = null;
  const down = (event) => {
    drag = { x: event.clientX, y: event.clientY, moved: false };
    canvas.setPointerCapture?.(event.pointerId);
  };
  const move = (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    view.x += (2 * dx) / (canvas.clientWidth || 1);
    view.y -= (2 * dy) / (canvas.clientHeight || 1);
    drag.x = event.clientX;
    drag.y = event.clientY;
    draw();
  };
  const up = (event) => {
    if (drag && !drag.moved) {
      const box = canvas.getBoundingClientRect();
      onClick(event.clientX - box.left, event.clientY - box.top);
    }
    drag = null;
  };
  const wheel = (event) => {
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    // Zoom about the cursor: the clip point under it stays put.
    const cx = ((event.clientX - box.left) / (box.width || 1)) * 2 - 1;
    const cy = 1 - ((event.clientY - box.top) / (box.height || 1)) * 2;
    const factor = Math.exp(-event.deltaY * 0.0015);
    const next = Math.min(200, Math.max(0.2, view.scale * factor));
    const applied = next / view.scale;
    view.x = cx - (cx - view.x) * applied;
    view.y = cy - (cy - view.y) * applied;
    view.scale = next;
    draw();
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("wheel", wheel, { passive: false });
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("wheel", wheel);
  };
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function labelled(text, control) {
  const label = element("label", "", text + " ");
  label.append(control);
  return label;
}

function buildControls(root) {
  const toolbar = element("div", "graph-toolbar");
  const colourSelect = element("select", "graph-colour");
  for (const [value, text] of [
    ["kind", "kind"],
    ["lobe", "lobe"],
  ]) {
    const option = element("option", "", text);
    option.value = value;
    colourSelect.append(option);
  }
  const lobeSelect = element("select", "graph-lobe-filter");
  const pathForm = element("form", "graph-pathway");
  const fromInput = element("input", "graph-path-from");
  const toInput = element("input", "graph-path-to");
  for (const input of [fromInput, toInput]) {
    input.type = "number";
    input.min = "0";
    input.required = true;
  }
  fromInput.placeholder = "from id";
  toInput.placeholder = "to id";
  const submit = element("button", "", "Show pathway");
  submit.type = "submit";
  pathForm.append(labelled("Path", fromInput), toInput, submit);
  const pathResult = element("span", "graph-path-result");
  // Synapses weaker than this share of the strongest |weight| are not drawn: at 10,000
  // neurons the strong ones are otherwise lost among the many weak.
  const strengthInput = element("input", "graph-min-strength");
  strengthInput.type = "range";
  strengthInput.min = "0";
  strengthInput.max = "0.95";
  strengthInput.step = "0.05";
  strengthInput.value = "0";
  const strengthShown = element("output", "graph-min-strength-value", "0.00");
  toolbar.append(
    labelled("Colour by", colourSelect),
    labelled("Lobe", lobeSelect),
    labelled("Hide synapses under", strengthInput),
    strengthShown,
    pathForm,
    pathResult,
  );
  toolbar.style.display = "flex";
  toolbar.style.flexWrap = "wrap";
  toolbar.style.alignItems = "center";
  toolbar.style.gap = "12px";
  const body = element("div", "graph-body");
  const canvas = element("canvas", "graph-canvas");
  // Sizes through the CSSOM (allowed by the page's style-src 'self'), so the view
  // works before any stylesheet styles it.
  body.style.display = "flex";
  body.style.gap = "8px";
  canvas.style.flex = "1 1 auto";
  canvas.style.minWidth = "0";
  canvas.style.height = "70vh";
  canvas.style.touchAction = "none";
  const panel = element("aside", "graph-panel");
  panel.style.width = "22rem";
  panel.style.maxHeight = "70vh";
  panel.style.overflow = "auto";
  panel.append(element("p", "", "Click a neuron to see its state and synapses."));
  body.append(canvas, panel);
  root.append(toolbar, body);
  return { canvas, panel, colourSelect, lobeSelect, strengthInput, strengthShown, pathForm, fromInput, toInput, pathResult };
}

function fillLobeFilter(select, graph) {
  const all = element("option", "", "all");
  all.value = "-1";
  select.replaceChildren(all);
  graph.lobeNames.forEach((name, index) => {
    const option = element("option", "", name);
    option.value = String(index);
    select.append(option);
  });
}

function showNeuron(panel, neuron, graph, index) {
  if (!neuron) {
    panel.replaceChildren(element("p", "error", "Neuron not found"));
    return;
  }
  const title = element("h3", "", `Neuron ${neuron.id}`);
  const facts = element("dl", "neuron-facts");
  const fact = (name, value) => facts.append(element("dt", "", name), element("dd", "", value));
  fact("kind", neuron.kind);
  fact("type", neuron.neuronType);
  fact("lobe", neuron.lobe ? neuron.lobe.name : "none");
  fact("bias", neuron.bias.toPrecision(4));
  fact("energy", neuron.energy.toPrecision(4));
  fact("state norm", graph.stateNorm[index].toPrecision(4));
  const state = element("p", "neuron-state", `state [${neuron.state.length}]: `);
  state.append(element("code", "", neuron.state.map((v) => v.toFixed(3)).join(", ")));
  panel.replaceChildren(
    title,
    facts,
    state,
    synapseList("incoming", neuron.incoming, "source"),
    synapseList("outgoing", neuron.outgoing, "target"),
  );
}

function synapseList(title, synapses, endKey) {
  const section = element("section", `neuron-${title}`);
  section.append(element("h4", "", `${title} (${synapses.length})`));
  const list = element("ul");
  for (const s of synapses.slice(0, PANEL_SYNAPSES_MAX)) {
    const sign = s.weight >= 0 ? "positive" : "negative";
    list.append(
      element("li", `synapse ${sign}`, `${s[endKey]}  w=${s.weight.toFixed(3)}  ${s.synapseType}`),
    );
  }
  if (synapses.length > PANEL_SYNAPSES_MAX) {
    list.append(element("li", "", `… ${synapses.length - PANEL_SYNAPSES_MAX} more`));
  }
  section.append(list);
  return section;
}
