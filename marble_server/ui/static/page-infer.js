// Inference: draw an 8x8 digit or type a vector, see the brain's probabilities and a
// heatmap of every neuron's state for that input, from the current or a retained version.

import { can, rest } from "./api.js";
import { brainPath, brainPicker } from "./brain-choice.js";
import { el, failed, table } from "./dom.js";
import { heatmap } from "./plots.js";

export async function inferPage(main, view) {
  const brain = await brainPicker(main, view);
  if (!brain) {
    return;
  }
  if (!can("infer")) {
    main.append(el("p", { className: "empty", text: "This token has no infer scope." }));
    return;
  }
  const details = await rest("GET", brainPath(brain));
  const width = details.neurons_by_kind.input || 0;
  const version = await versionChoice(main, brain);
  const vector = el("input", { id: "infer-vector", className: "wide", value: new Array(width).fill(0).join(",") });
  const result = el("div", { id: "infer-result" });
  const activations = el("section", { id: "infer-activations" });
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
    document.addEventListener("mouseup", () => (drawing = false), { signal: view.signal });
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
        // No version: the current one answers (and follows training as it commits).
        const pinned = version.value ? { version: Number(version.value) } : {};
        try {
          const answer = await rest("POST", "/infer", { brain, inputs: [row], ...pinned });
          showProbabilities(result, answer);
          const found = await rest("POST", `${brainPath(brain)}/activations`, { inputs: row, ...pinned });
          showActivations(activations, found);
        } catch (error) {
          failed(error);
        }
      },
    }),
    result,
    activations,
  );
}

/**
 * A choice of the version that answers: the current one, or any version retention still
 * keeps (newest first).
 */
async function versionChoice(main, brain) {
  const versions = await rest("GET", `${brainPath(brain)}/versions`);
  const current = versions.find((v) => v.current);
  const kept = versions.filter((v) => !v.collected);
  const label = (v) => (v.tags.length ? `${v.version} (${v.tags.join(", ")})` : String(v.version));
  const select = el("select", { id: "infer-version" }, [
    el("option", { value: "", text: current ? `current (${current.version})` : "current" }),
    ...kept.map((v) => el("option", { value: String(v.version), text: label(v) })),
  ]);
  main.append(el("label", { className: "picker" }, "Version ", select));
  return select;
}

/**
 * Every neuron's final state for the input as a heatmap: one column a neuron, in id
 * order, one row a value of its state.
 */
function showActivations(section, found) {
  const canvas = el("canvas", { id: "activation-heatmap", className: "chart heatmap" });
  const byKind = new Map();
  for (const kind of found.kinds) {
    byKind.set(kind, (byKind.get(kind) || 0) + 1);
  }
  const counts = [...byKind].map(([kind, count]) => `${count} ${kind}`).join(", ");
  section.replaceChildren(
    el("h3", { text: `Neuron states for this input (version ${found.version})` }),
    el("p", {
      id: "activation-caption",
      text: `${found.neurons.length} neurons left to right by id (${counts}); ${found.representation_size} state values top to bottom; blue low, red high.`,
    }),
    canvas,
  );
  // The states arrive a row per neuron; the heatmap wants a row per state value.
  const rows = Array.from({ length: found.representation_size }, (_, r) => found.states.map((state) => state[r]));
  heatmap(canvas, rows);
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
