// Which brain the pages are about: one choice for the browser session, shared by every
// page that shows one brain, and the datasets a brain can be created or trained from.

import { rest } from "./api.js";
import { el } from "./dom.js";

const BRAIN_KEY = "marble.brain";
const BUILTIN_DATASETS = ["digits", "sine", "wine", "breast_cancer", "diabetes"];

export function currentBrain() {
  return sessionStorage.getItem(BRAIN_KEY);
}

export function chooseBrain(name) {
  sessionStorage.setItem(BRAIN_KEY, name);
}

/**
 * A brain picker for pages about one brain; answers the chosen name (null if there is
 * none). Choosing another brain draws the page again through `view.rerender`.
 */
export async function brainPicker(main, view) {
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
    { id: "brain-select", onchange: () => (chooseBrain(select.value), view.rerender()) },
    brains.map((b) => el("option", { value: b.name, text: b.name, selected: b.name === chosen })),
  );
  main.append(el("label", { className: "picker" }, "Brain ", select));
  return chosen;
}

/** The built-in datasets followed by the stored ones, by name. */
export async function datasetChoices() {
  const stored = await rest("GET", "/datasets");
  return [...BUILTIN_DATASETS, ...stored.map((d) => d.name)];
}

/** A brain's REST path. */
export function brainPath(brain) {
  return `/brains/${encodeURIComponent(brain)}`;
}
