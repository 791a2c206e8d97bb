// A brain's graph: graph.js draws it with WebGL; under it, the histogram of its synapse
// weights (read from the same export, so the two always show one version).

import { gql, rest } from "./api.js";
import { brainPicker } from "./brain-choice.js";
import { el } from "./dom.js";
import { histogram } from "./plots.js";

export async function graphPage(main, view) {
  const brain = await brainPicker(main, view);
  if (!brain) {
    return;
  }
  const root = el("div", { id: "graph-root", className: "graph-root" });
  const note = el("p", { id: "graph-status" });
  const weights = el("canvas", { id: "weight-histogram", className: "chart" });
  main.append(note, root, el("h3", { text: "Synapse weights" }), weights);
  try {
    const { mountGraph } = await import("./graph.js");
    const graph = mountGraph(root, { rest, gql, brain, onStatus: (text) => (note.textContent = text) });
    // A WebGL context is a scarce browser resource: give it back when the page goes.
    view.signal.addEventListener("abort", () => graph.destroy());
    const loaded = await graph.ready;
    histogram(weights, loaded.weight, { bins: 40, label: "weight" });
  } catch (error) {
    note.textContent = `The graph view could not load: ${error.message}`;
  }
}
