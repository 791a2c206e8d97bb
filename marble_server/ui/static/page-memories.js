// Memories: the chosen brain's remembered inputs and facts, newest first and paged;
// lookup by key, recall by an input row (infer), and remembering and forgetting (train).

import { can, rest } from "./api.js";
import { brainPath, brainPicker } from "./brain-choice.js";
import { cellText, el, failed, status, table } from "./dom.js";

const PAGE_SIZE = 20;
const MEMORY_COLUMNS = ["Id", "Key", "Value", "Kind", "Brain version", "Created"];

/** The memories page of the chosen brain. */
export async function memoriesPage(main, view) {
  const brain = await brainPicker(main, view);
  if (!brain) {
    return;
  }
  const path = `${brainPath(brain)}/memories`;
  main.append(el("h2", { text: "Memories" }));
  await memoryList(main, path);
  main.append(lookupForm(path));
  if (can("infer")) {
    main.append(recallForm(path));
  }
  if (can("train")) {
    main.append(rememberForm(path, view), forgetForm(path, view));
  }
}

function memoryCells(m) {
  return [m.id, m.key, m.value, m.embedded ? "input" : "fact", m.brain_version, m.created_at];
}

/** The list: the newest page, and a "More" button while the API has older ones. */
async function memoryList(main, path) {
  const first = await rest("GET", `${path}?limit=${PAGE_SIZE}`);
  const total = el("p", { id: "memories-total", text: `${first.total} memories, newest first` });
  const list = table("memories-table", MEMORY_COLUMNS, first.memories.map(memoryCells));
  const body = list.querySelector("tbody");
  let before = first.next_before;
  const more = el("button", {
    id: "memories-more",
    type: "button",
    text: "More",
    hidden: before === null,
    onclick: async () => {
      try {
        const next = await rest("GET", `${path}?limit=${PAGE_SIZE}&before=${before}`);
        // Into the same table, so the list reads as one.
        const rows = next.memories.map((m) => el("tr", {}, memoryCells(m).map((c) => el("td", { text: cellText(c) }))));
        body.append(...rows);
        before = next.next_before;
        more.hidden = before === null;
      } catch (error) {
        failed(error);
      }
    },
  });
  const empty = el("p", { className: "empty", text: "No memories yet." });
  main.append(total, first.memories.length ? list : empty, more);
}

function lookupForm(path) {
  const key = el("input", { id: "lookup-key", placeholder: "key", required: true });
  const results = el("div", { id: "lookup-results" });
  return el(
    "form",
    {
      id: "lookup-form",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        results.replaceChildren();
        try {
          const found = await rest("GET", `${path}/keys/${encodeURIComponent(key.value)}`);
          results.replaceChildren(table("lookup-table", MEMORY_COLUMNS, found.map(memoryCells)));
          status(`${found.length} memories with this key`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Look up by key" }),
    key,
    el("button", { id: "lookup-button", type: "submit", text: "Look up" }),
    results,
  );
}

/** Numbers separated by commas or spaces; throws a message naming the first that is not one. */
function parseRow(text, what) {
  const parts = text.split(/[\s,]+/).filter((part) => part !== "");
  if (!parts.length) {
    throw new Error(`${what}: give the numbers of one input row, separated by commas`);
  }
  return parts.map((part, index) => {
    const value = Number(part);
    if (!Number.isFinite(value)) {
      throw new Error(`${what}: value ${index + 1} is "${part}", not a number`);
    }
    return value;
  });
}

function recallForm(path) {
  const vector = el("input", {
    id: "recall-vector",
    className: "wide",
    placeholder: "input row: numbers separated by commas, one per input neuron",
  });
  const k = el("input", { id: "recall-k", type: "number", min: 1, max: 1000, value: 5 });
  const results = el("div", { id: "recall-results" });
  return el(
    "form",
    {
      id: "recall-form",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        results.replaceChildren();
        let features;
        try {
          features = parseRow(vector.value, "input row");
        } catch (error) {
          failed(error);
          return;
        }
        try {
          const found = await rest("POST", `${path}/recall`, { features, k: Number(k.value) });
          results.replaceChildren(
            found.length
              ? table(
                  "recall-table",
                  ["Similarity", ...MEMORY_COLUMNS],
                  found.map((m) => [m.similarity, ...memoryCells(m)]),
                )
              : el("p", { className: "empty", text: "The brain remembers no inputs to recall." }),
          );
          status(`Recalled ${found.length} memories, nearest first`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Recall: the nearest remembered inputs" }),
    vector,
    el("label", {}, "k ", k),
    el("button", { id: "recall-button", type: "submit", text: "Recall" }),
    results,
  );
}

function rememberForm(path, view) {
  const key = el("input", { id: "remember-key", placeholder: "key" });
  const value = el("textarea", { id: "remember-value", rows: 3, placeholder: 'value as JSON, e.g. {"label": 7}' });
  const input = el("input", {
    id: "remember-input",
    className: "wide",
    placeholder: "input row to remember (optional; without it the key and value are a fact)",
  });
  return el(
    "form",
    {
      id: "remember-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const body = {};
        // Everything is checked here first, so a typo sends nothing.
        try {
          if (input.value.trim()) {
            body.inputs = [parseRow(input.value, "input row")];
          } else if (!key.value) {
            throw new Error("A fact needs a key (or give an input row to remember).");
          }
          if (key.value) {
            body.key = key.value;
          }
          if (value.value.trim()) {
            try {
              body.value = JSON.parse(value.value);
            } catch (error) {
              throw new Error(`Value is not valid JSON: ${error.message}`);
            }
          }
        } catch (error) {
          failed(error);
          return;
        }
        try {
          const written = await rest("POST", path, body);
          await view.rerender();
          status(`Remembered: id ${written.ids.join(", ")}`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Remember" }),
    el("label", { className: "block" }, "Key ", key),
    el("label", { className: "block" }, "Value (JSON)", value),
    el("label", { className: "block" }, "Input row ", input),
    el("button", { id: "remember-button", type: "submit", text: "Remember" }),
  );
}

function forgetForm(path, view) {
  const keep = el("input", { id: "forget-keep-last", type: "number", min: 0, placeholder: "N", required: true });
  // Two clicks, as deleting a brain: the first arms the button, the second forgets.
  const button = el("button", { id: "forget-button", type: "submit", className: "danger", text: "Forget" });
  return el(
    "form",
    {
      id: "forget-form",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        if (button.dataset.armed !== "true") {
          button.dataset.armed = "true";
          button.textContent = "Confirm forget";
          return;
        }
        try {
          const done = await rest("POST", `${path}/forget`, { keep_last: Number(keep.value) });
          await view.rerender();
          status(`Forgot ${done.removed} memories`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Forget all but the newest" }),
    el("label", {}, "keep ", keep),
    button,
  );
}
