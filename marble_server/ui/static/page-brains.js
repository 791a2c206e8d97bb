// Brains: the list, creating one from a built-in, stored or uploaded dataset, and deleting one.

import { can, rest } from "./api.js";
import { brainPath, chooseBrain, datasetChoices } from "./brain-choice.js";
import { el, failed, status, table } from "./dom.js";
import { uploadCsv } from "./page-datasets.js";

export async function brainsPage(main, view) {
  main.append(el("h2", { text: "Brains" }));
  const brains = await rest("GET", "/brains");
  const rows = brains.map((b) => [
    el("a", { href: "#/graph", text: b.name, className: "brain-link", onclick: () => chooseBrain(b.name) }),
    b.version,
    b.neuron_count,
    b.synapse_count,
    b.created_at,
    can("admin") ? deleteButton(b.name, view) : "",
  ]);
  main.append(table("brains-table", ["Name", "Version", "Neurons", "Synapses", "Created", ""], rows));
  if (can("train")) {
    main.append(await createBrainForm(view, new Set(brains.map((b) => b.name))));
  }
}

function deleteButton(name, view) {
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
        await rest("DELETE", brainPath(name));
        await view.rerender();
        status(`Deleted brain ${name}`);
      } catch (error) {
        failed(error);
      }
    },
  });
  return button;
}

async function createBrainForm(view, existing) {
  const name = el("input", { id: "new-brain-name", placeholder: "name", required: true });
  const dataset = el(
    "select",
    { id: "new-brain-dataset" },
    (await datasetChoices()).map((d) => el("option", { value: d, text: d })),
  );
  // A chosen CSV wins over the select: it is stored as a dataset named after the brain
  // (a new version when one of that name exists) and the brain is sized for that version.
  const file = el("input", {
    id: "new-brain-file",
    type: "file",
    accept: ".csv,text/csv",
    onchange: () => (dataset.disabled = file.files.length > 0),
  });
  return el(
    "form",
    {
      id: "create-brain",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        const brainName = name.value.trim();
        try {
          let source = dataset.value;
          if (file.files.length) {
            // Refused before the upload, so a taken name leaves no stray dataset version.
            if (existing.has(brainName)) {
              status(`A brain named ${brainName} exists already: choose another name.`, true);
              return;
            }
            status(`Uploading ${file.files[0].name} as dataset ${brainName}...`);
            source = (await uploadCsv(brainName, file.files[0])).spec;
          }
          const brain = await rest("POST", "/brains", { name: brainName, dataset: source });
          chooseBrain(brain.name);
          await view.rerender();
          status(`Created brain ${brain.name}`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Create a brain" }),
    name,
    dataset,
    el("label", {}, "or from a CSV ", file),
    el("button", { id: "create-brain-button", type: "submit", text: "Create" }),
  );
}
