// Versions: the list, a diff summary of two, and rollback.

import { can, rest } from "./api.js";
import { brainPath, brainPicker } from "./brain-choice.js";
import { cellText, el, failed, status, table } from "./dom.js";

export async function versionsPage(main, view) {
  const brain = await brainPicker(main, view);
  if (!brain) {
    return;
  }
  const path = brainPath(brain);
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
              await view.rerender();
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
