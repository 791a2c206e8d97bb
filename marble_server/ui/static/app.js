// The explorer's pages and router. Every string that came from the API reaches the
// page through textContent (see `el`), never as markup.

import { can, events, gql, login, logout, rest, scopes, token } from "./api.js";
import { lineChart } from "./plots.js";

const BUILTIN_DATASETS = ["digits", "sine", "wine", "breast_cancer", "diabetes"];
const BRAIN_KEY = "marble.brain";
const SIGNALS = ["reward", "stress", "arousal"];

const PAGES = [
  { id: "brains", title: "Brains", render: brainsPage },
  { id: "graph", title: "Graph", render: graphPage },
  { id: "train", title: "Training", render: trainPage },
  { id: "neuromodulation", title: "Neuromodulation", render: neuromodulationPage },
  { id: "infer", title: "Inference", render: inferPage },
  { id: "cypher", title: "Cypher", render: cypherPage },
  { id: "versions", title: "Versions", render: versionsPage },
];

// Whatever a page left running (an event stream) is stopped when another page opens.
let pageAbort = new AbortController();

/**
 * A new element: `props` are set as properties (`text` as textContent, `on*` as event
 * listeners, `dataset` and `style` merged, anything else assigned); children are nodes or strings,
 * strings becoming text nodes.
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) {
      continue;
    }
    if (key === "text") {
      node.textContent = String(value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "style") {
      // Through the CSSOM: the page's CSP refuses inline style attributes.
      Object.assign(node.style, value);
    } else if (key.startsWith("on")) {
      node.addEventListener(key.slice(2), value);
    } else if (key === "for" || key.startsWith("aria-") || key === "role") {
      node.setAttribute(key, value);
    } else {
      node[key] = value;
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

/** A table of `rows` (arrays of cells: nodes or values) under `columns`. */
function table(id, columns, rows) {
  return el(
    "table",
    { id },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { text: c })))),
    el(
      "tbody",
      {},
      rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c instanceof Node ? c : cellText(c))))),
    ),
  );
}

function cellText(value) {
  if (value === null || value === undefined) {
    return "";
  }
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function status(message, isError = false) {
  const bar = document.getElementById("status");
  bar.textContent = message;
  bar.classList.toggle("error", isError);
}

function failed(error) {
  status(error.message || String(error), true);
}

function currentBrain() {
  return sessionStorage.getItem(BRAIN_KEY);
}

function chooseBrain(name) {
  sessionStorage.setItem(BRAIN_KEY, name);
}

/** A brain picker for pages about one brain; answers the chosen name (null if none). */
async function brainPicker(main) {
  const brains = await rest("GET", "/brains");
  if (!brains.length) {
    main.append(el("p", { className: "empty", text: "No brains yet: create one on the Brains page." }));
    return null;
  }
  let chosen = currentBrain();
  if (!brains.some((b) => b.name === chosen)) {
    chosen = brains[0].name;
    chooseBrain(chosen);
  }
  const select = el(
    "select",
    { id: "brain-select", onchange: () => (chooseBrain(select.value), render()) },
    brains.map((b) => el("option", { value: b.name, text: b.name, selected: b.name === chosen })),
  );
  main.append(el("label", { className: "picker" }, "Brain ", select));
  return chosen;
}

// -- login -----------------------------------------------------------------------------

function loginPage(main) {
  const input = el("input", {
    id: "token-input",
    type: "password",
    autocomplete: "off",
    placeholder: "marble_...",
    required: true,
  });
  const message = el("p", { id: "login-error", className: "error" });
  const form = el(
    "form",
    {
      id: "login-form",
      onsubmit: async (event) => {
        event.preventDefault();
        message.textContent = "";
        try {
          await login(input.value.trim());
          location.hash = "#/brains";
          render();
        } catch (error) {
          message.textContent = `Login refused: ${error.message}`;
        }
      },
    },
    el("h2", { text: "Log in" }),
    el("p", { text: "Paste an API token (marble token create NAME --scopes ...). It is kept only for this browser session." }),
    el("label", { for: "token-input", text: "Token" }),
    input,
    el("button", { id: "login-button", type: "submit", text: "Log in" }),
    message,
  );
  main.append(form);
}

// -- brains ----------------------------------------------------------------------------

async function brainsPage(main) {
  main.append(el("h2", { text: "Brains" }));
  const brains = await rest("GET", "/brains");
  const rows = brains.map((b) => [
    el("a", { href: "#/graph", text: b.name, className: "brain-link", onclick: () => chooseBrain(b.name) }),
    b.version,
    b.neuron_count,
    b.synapse_count,
    b.created_at,
    can("admin") ? deleteButton(b.name) : "",
  ]);
  main.append(table("brains-table", ["Name", "Version", "Neurons", "Synapses", "Created", ""], rows));
  if (can("train")) {
    main.append(await createBrainForm());
  }
}

function deleteButton(name) {
  // Two clicks: the first arms the button, the second deletes (no modal dialog).
  const button = el("button", {
    className: "delete-brain danger",
    text: "Delete",
    dataset: { brain: name },
    onclick: async () => {
      if (button.dataset.armed !== "true") {
        button.dataset.armed = "true";
        button.textContent = "Confirm delete";
        return;
      }
      try {
        await rest("DELETE", `/brains/${encodeURIComponent(name)}`);
        await render();
        status(`Deleted brain ${name}`);
      } catch (error) {
        failed(error);
      }
    },
  });
  return button;
}

async function datasetChoices() {
  const stored = await rest("GET", "/datasets");
  return [...BUILTIN_DATASETS, ...stored.map((d) => d.name)];
}

async function createBrainForm() {
  const name = el("input", { id: "new-brain-name", placeholder: "name", required: true });
  const dataset = el(
    "select",
    { id: "new-brain-dataset" },
    (await datasetChoices()).map((d) => el("option", { value: d, text: d })),
  );
  return el(
    "form",
    {
      id: "create-brain",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const brain = await rest("POST", "/brains", { name: name.value.trim(), dataset: dataset.value });
          chooseBrain(brain.name);
          await render();
          status(`Created brain ${brain.name}`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Create a brain" }),
    name,
    dataset,
    el("button", { id: "create-brain-button", type: "submit", text: "Create" }),
  );
}

// -- graph (graph.js renders it) -------------------------------------------------------

async function graphPage(main) {
  const brain = await brainPicker(main);
  if (!brain) {
    return;
  }
  const root = el("div", { id: "graph-root", className: "graph-root" });
  const note = el("p", { id: "graph-status" });
  main.append(note, root);
  try {
    const { mountGraph } = await import("./graph.js");
    mountGraph(root, { rest, gql, brain, onStatus: (text) => (note.textContent = text) });
  } catch (error) {
    note.textContent = `The graph view could not load: ${error.message}`;
  }
}

// -- training --------------------------------------------------------------------------

async function trainPage(main) {
  const brain = await brainPicker(main);
  if (!brain) {
    return;
  }
  const jobState = el("p", { id: "job-state", text: "No job followed yet." });
  const lossChart = el("canvas", { id: "loss-chart", className: "chart" });
  const accuracyChart = el("canvas", { id: "accuracy-chart", className: "chart" });
  const metrics = el("div", { id: "epoch-metrics" });
  let cancel = null;
  if (can("train")) {
    const dataset = el(
      "select",
      { id: "train-dataset" },
      (await datasetChoices()).map((d) => el("option", { value: d, text: d })),
    );
    const details = await rest("GET", `/brains/${encodeURIComponent(brain)}`);
    const trainedOn = details.config?.dataset?.name;
    if (trainedOn && [...dataset.options].some((o) => o.value === trainedOn)) {
      dataset.value = trainedOn;
    }
    const epochs = el("input", { id: "train-epochs", type: "number", min: 1, max: 100000, value: 5 });
    cancel = el("button", { id: "cancel-job", type: "button", text: "Cancel", hidden: true, className: "danger" });
    main.append(
      el(
        "form",
        {
          id: "train-form",
          className: "inline",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const job = await rest("POST", `/brains/${encodeURIComponent(brain)}/train`, {
                dataset: dataset.value,
                epochs: Number(epochs.value),
              });
              follow(job);
            } catch (error) {
              failed(error);
            }
          },
        },
        el("label", {}, "Dataset ", dataset),
        el("label", {}, "Epochs ", epochs),
        el("button", { id: "start-train", type: "submit", text: "Start training" }),
        cancel,
      ),
    );
  }
  main.append(jobState, lossChart, accuracyChart, metrics);
  lineChart(lossChart, [], { xLabel: "epoch", yLabel: "loss" });
  lineChart(accuracyChart, [], { xLabel: "epoch", yLabel: "accuracy" });
  // Recent jobs of this brain: any token that reads may watch one (a read-only token
  // follows a run someone else started).
  const jobs = await rest("GET", `/jobs?brain=${encodeURIComponent(brain)}&limit=10`);
  main.append(
    el("h3", { text: "Recent jobs" }),
    table(
      "jobs-table",
      ["Job", "Kind", "State", "Progress", "Created", ""],
      jobs.map((job) => [
        job.id,
        job.kind,
        job.state,
        `${Math.round(job.progress * 100)}%`,
        job.created_at,
        el("button", { className: "watch-job", type: "button", text: "Watch", dataset: { job: job.id }, onclick: () => follow(job) }),
      ]),
    ),
  );

  function follow(job) {
    pageAbort.abort();
    pageAbort = new AbortController();
    const loss = [];
    const valLoss = [];
    const accuracy = [];
    jobState.textContent = `Job ${job.id}: ${job.state}`;
    jobState.dataset.state = job.state;
    if (cancel) {
      cancel.hidden = false;
      cancel.onclick = async () => {
        try {
          await rest("POST", `/jobs/${job.id}/cancel`);
        } catch (error) {
          failed(error);
        }
      };
    }
    const onEvent = (kind, data) => {
      const view = data.job;
      jobState.textContent = `Job ${view.id}: ${view.state} (${Math.round(view.progress * 100)}%)`;
      jobState.dataset.state = view.state;
      const epoch = kind === "progress" ? data.metrics?.epoch !== undefined ? data.metrics : view.result?.last_epoch : null;
      if (epoch) {
        loss.push([epoch.epoch, epoch.loss]);
        if (Number.isFinite(epoch.val_loss)) {
          valLoss.push([epoch.epoch, epoch.val_loss]);
        }
        if (Number.isFinite(epoch.val_accuracy)) {
          accuracy.push([epoch.epoch, epoch.val_accuracy]);
        }
        lineChart(lossChart, [{ label: "loss", points: loss }, { label: "val_loss", points: valLoss }], {
          xLabel: "epoch",
          yLabel: "loss",
        });
        lineChart(accuracyChart, [{ label: "val_accuracy", points: accuracy }], {
          xLabel: "epoch",
          yLabel: "accuracy",
        });
        metrics.replaceChildren(
          table("epoch-metrics-table", ["Metric", "Value"], Object.entries(epoch).map(([k, v]) => [k, v])),
        );
      }
      if (kind === "end" && cancel) {
        cancel.hidden = true;
      }
    };
    events(`/jobs/${job.id}/events`, onEvent, pageAbort.signal).catch((error) => {
      if (error.name !== "AbortError") {
        failed(error);
      }
    });
  }
}

// -- neuromodulation -------------------------------------------------------------------

async function neuromodulationPage(main) {
  const brain = await brainPicker(main);
  if (!brain) {
    return;
  }
  const details = await rest("GET", `/brains/${encodeURIComponent(brain)}`);
  const current = details.config.neuromodulation;
  const writable = can("train");
  const mode = el("p", { id: "nm-mode", text: `Mode: ${current.mode}` });
  const inputs = {};
  main.append(el("h2", { text: "Neuromodulation for the next training run" }), mode);
  for (const signal of SIGNALS) {
    const shown = el("output", { id: `nm-${signal}-value`, text: current[signal].toFixed(2) });
    const slider = el("input", {
      id: `nm-${signal}`,
      type: "range",
      min: 0,
      max: 1,
      step: 0.05,
      value: current[signal],
      disabled: !writable,
      oninput: () => (shown.textContent = Number(slider.value).toFixed(2)),
    });
    inputs[signal] = slider;
    main.append(el("label", { className: "slider" }, `${signal} `, slider, shown));
  }
  const emotion = el("input", { id: "nm-emotion", value: current.emotion, disabled: !writable, maxLength: 64 });
  main.append(el("label", { className: "slider" }, "emotion ", emotion));
  if (!writable) {
    return;
  }
  main.append(
    el("button", {
      id: "nm-apply",
      text: "Apply to next run",
      onclick: async () => {
        try {
          const data = await gql(
            `mutation Set($brain: String!, $reward: Float, $stress: Float, $arousal: Float, $emotion: String) {
              setNeuromodulation(brain: $brain, reward: $reward, stress: $stress, arousal: $arousal, emotion: $emotion) {
                mode reward stress arousal emotion
              }
            }`,
            {
              brain,
              reward: Number(inputs.reward.value),
              stress: Number(inputs.stress.value),
              arousal: Number(inputs.arousal.value),
              emotion: emotion.value,
            },
          );
          const applied = data.setNeuromodulation;
          mode.textContent = `Mode: ${applied.mode.toLowerCase()}`;
          status(`Applied: reward ${applied.reward}, stress ${applied.stress}, arousal ${applied.arousal}, emotion ${applied.emotion}`);
        } catch (error) {
          failed(error);
        }
      },
    }),
  );
}

// -- inference -------------------------------------------------------------------------

async function inferPage(main) {
  const brain = await brainPicker(main);
  if (!brain) {
    return;
  }
  if (!can("infer")) {
    main.append(el("p", { className: "empty", text: "This token has no infer scope." }));
    return;
  }
  const details = await rest("GET", `/brains/${encodeURIComponent(brain)}`);
  const width = details.neurons_by_kind.input || 0;
  const vector = el("input", { id: "infer-vector", className: "wide", value: new Array(width).fill(0).join(",") });
  const result = el("div", { id: "infer-result" });
  if (width === 64) {
    // An 8x8 digit: each cell is one pixel in [0, 1]; click or drag to ink it.
    const pixels = new Array(64).fill(0);
    let drawing = false;
    const grid = el("div", { id: "draw-grid", className: "draw-grid" });
    const paint = (cell, index) => {
      pixels[index] = 1;
      cell.classList.add("on");
      vector.value = pixels.join(",");
    };
    pixels.forEach((_, index) => {
      const cell = el("div", {
        className: "cell",
        dataset: { index: String(index) },
        onmousedown: () => ((drawing = true), paint(cell, index)),
        onmouseenter: () => drawing && paint(cell, index),
      });
      grid.append(cell);
    });
    document.addEventListener("mouseup", () => (drawing = false), { signal: pageAbort.signal });
    const clear = el("button", {
      id: "draw-clear",
      type: "button",
      text: "Clear",
      onclick: () => {
        pixels.fill(0);
        grid.querySelectorAll(".cell").forEach((c) => c.classList.remove("on"));
        vector.value = pixels.join(",");
      },
    });
    main.append(el("p", { text: "Draw a digit (8x8):" }), grid, clear);
  }
  main.append(
    el("label", { className: "block" }, `Input vector (${width} numbers, comma-separated) `, vector),
    el("button", {
      id: "infer-run",
      text: "Infer",
      onclick: async () => {
        const row = vector.value.split(",").map((v) => Number(v.trim()));
        try {
          const answer = await rest("POST", "/infer", { brain, inputs: [row] });
          showProbabilities(result, answer);
        } catch (error) {
          failed(error);
        }
      },
    }),
    result,
  );
}

function showProbabilities(result, answer) {
  const probabilities = answer.probabilities ? answer.probabilities[0] : null;
  const children = [];
  if (answer.labels) {
    children.push(el("p", { id: "infer-label", text: `Predicted class: ${answer.labels[0]}` }));
  }
  if (probabilities) {
    const rows = probabilities.map((p, label) => [
      label,
      p,
      el("span", { className: "bar", style: { width: `${Math.round(p * 200)}px` } }),
    ]);
    children.push(table("infer-probabilities", ["Class", "Probability", ""], rows));
  } else {
    children.push(table("infer-outputs", ["Output", "Value"], answer.outputs[0].map((v, i) => [i, v])));
  }
  result.replaceChildren(...children);
}

// -- Cypher ----------------------------------------------------------------------------

async function cypherPage(main) {
  const brain = await brainPicker(main);
  if (!brain) {
    return;
  }
  const query = el("textarea", {
    id: "cypher-query",
    rows: 4,
    value:
      "MATCH (n:Neuron) WHERE n.uid >= $lo AND n.uid < $hi\nRETURN n.id AS id, n.kind AS kind, n.bias AS bias\nORDER BY id LIMIT 20",
  });
  const results = el("div", { id: "cypher-output" });
  main.append(
    el("h2", { text: "Read-only Cypher" }),
    el("p", { text: "$brain, $lo and $hi are bound to the brain's name and its current uid range." }),
    query,
    el("button", {
      id: "cypher-run",
      text: "Run query",
      onclick: async () => {
        try {
          const data = await gql(
            "query Run($brain: String!, $query: String!) { cypher(brain: $brain, query: $query) { columns rows truncated } }",
            { brain, query: query.value },
          );
          const answer = data.cypher;
          results.replaceChildren(
            table("cypher-results", answer.columns, answer.rows),
            el("p", { text: `${answer.rows.length} rows${answer.truncated ? " (truncated)" : ""}` }),
          );
        } catch (error) {
          failed(error);
        }
      },
    }),
    results,
  );
}

// -- versions --------------------------------------------------------------------------

async function versionsPage(main) {
  const brain = await brainPicker(main);
  if (!brain) {
    return;
  }
  const path = `/brains/${encodeURIComponent(brain)}`;
  const versions = await rest("GET", `${path}/versions`);
  const rows = versions.map((v) => [
    v.version,
    v.state,
    v.neuron_count,
    v.synapse_count,
    v.note,
    v.tags.join(", "),
    v.current ? "current" : "",
    v.created_at,
    can("train") && !v.current && !v.collected && v.state === "committed"
      ? el("button", {
          className: "rollback",
          dataset: { version: String(v.version) },
          text: "Roll back to this",
          onclick: async () => {
            try {
              const after = await rest("POST", `${path}/rollback`, { version: v.version });
              await render();
              status(`Rolled back: ${brain} is now version ${after.version}`);
            } catch (error) {
              failed(error);
            }
          },
        })
      : "",
  ]);
  main.append(
    el("h2", { text: "Versions" }),
    table("versions-table", ["Version", "State", "Neurons", "Synapses", "Note", "Tags", "", "Created", ""], rows),
  );
  if (versions.length < 2) {
    return;
  }
  const options = (id, chosen) =>
    el("select", { id }, versions.map((v) => el("option", { value: v.version, text: v.version, selected: v.version === chosen })));
  const a = options("diff-a", versions[1].version);
  const b = options("diff-b", versions[0].version);
  const summary = el("div", { id: "diff-summary" });
  main.append(
    el("h3", { text: "Diff" }),
    el("label", {}, "from ", a),
    el("label", {}, " to ", b),
    el("button", {
      id: "diff-run",
      text: "Compare",
      onclick: async () => {
        try {
          const diff = await rest("GET", `${path}/versions/${a.value}/diff/${b.value}`);
          summary.replaceChildren(
            table(
              "diff-table",
              ["What", "Added", "Removed", "Other"],
              [
                ["neurons", diff.neurons.added, diff.neurons.removed, ""],
                ["synapses", diff.synapses.added, diff.synapses.removed, `${diff.synapses.common} in both`],
                [
                  "weights",
                  "",
                  "",
                  `${diff.weights.changed} of ${diff.weights.compared} changed; mean |change| ${cellText(diff.weights.mean_abs_change)}, max ${cellText(diff.weights.max_abs_change)}`,
                ],
              ],
            ),
          );
        } catch (error) {
          failed(error);
        }
      },
    }),
    summary,
  );
}

// -- router ----------------------------------------------------------------------------

function pageId() {
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  return PAGES.some((p) => p.id === id) ? id : "brains";
}

/** Draw the page the address names, or the login form when there is no token. */
async function render() {
  pageAbort.abort();
  pageAbort = new AbortController();
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  main.replaceChildren();
  status("");
  if (!token()) {
    nav.replaceChildren();
    nav.hidden = true;
    who.replaceChildren();
    document.body.dataset.page = "login";
    loginPage(main);
    return;
  }
  const id = pageId();
  nav.hidden = false;
  nav.replaceChildren(
    ...PAGES.map((p) => el("a", { href: `#/${p.id}`, text: p.title, className: p.id === id ? "active" : "" })),
  );
  who.replaceChildren(
    el("span", { id: "token-scopes", text: `scopes: ${scopes().join(", ")}` }),
    el("button", { id: "logout-button", text: "Log out", onclick: () => (logout(), render()) }),
  );
  document.body.dataset.page = id;
  delete document.body.dataset.ready;
  try {
    await PAGES.find((p) => p.id === id).render(main);
  } catch (error) {
    failed(error);
  }
  // Tests and tools wait for this: the page has finished its first requests.
  document.body.dataset.ready = id;
}

window.addEventListener("hashchange", render);
window.addEventListener("marble:logout", render);
render();
