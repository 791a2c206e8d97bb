// Datasets: the stored datasets, one dataset's versions, and uploading a CSV as a new
// dataset or a new version of one.

import { can, rest, restFile } from "./api.js";
import { el, failed, status, table } from "./dom.js";

const DATASET_KEY = "marble.dataset";
// What the upload route reads a CSV body as (routes/datasets.py, FORMAT_MEDIA_TYPES).
const CSV_MEDIA_TYPE = "text/csv";
// Hashes are 64 hex digits: the table shows their start, the full one on hover.
const HASH_SHOWN = 12;

/**
 * Upload `file` (a CSV File or Blob) as the next version of dataset `name`, with an
 * optional `note`; answers the version written (`created` false when the rows equal the
 * latest version's).
 */
export async function uploadCsv(name, file, note = "") {
  const query = note ? `?note=${encodeURIComponent(note)}` : "";
  return restFile("POST", `/datasets/${encodeURIComponent(name)}${query}`, file, CSV_MEDIA_TYPE);
}

/** The datasets page: the stored datasets, the chosen one's versions, and (train) an upload form. */
export async function datasetsPage(main, view) {
  main.append(el("h2", { text: "Datasets" }));
  const datasets = await rest("GET", "/datasets");
  const versions = el("section", { id: "dataset-versions" });
  const rows = datasets.map((d) => [
    el("a", {
      href: "#/datasets",
      text: d.name,
      className: "dataset-link",
      dataset: { dataset: d.name },
      onclick: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(DATASET_KEY, d.name);
        try {
          await showVersions(versions, d.name);
        } catch (error) {
          failed(error);
        }
      },
    }),
    d.versions,
    d.latest_version,
    d.description,
    d.created_at,
  ]);
  if (datasets.length) {
    main.append(table("datasets-table", ["Name", "Versions", "Latest", "Description", "Created"], rows));
  } else {
    main.append(el("p", { className: "empty", text: "No stored datasets yet." }));
  }
  main.append(versions);
  const chosen = sessionStorage.getItem(DATASET_KEY);
  if (datasets.some((d) => d.name === chosen)) {
    await showVersions(versions, chosen);
  }
  if (can("train")) {
    main.append(uploadForm(view, chosen));
  }
}

async function showVersions(section, name) {
  const versions = await rest("GET", `/datasets/${encodeURIComponent(name)}/versions`);
  // Newest first, as the other pages list versions; the API answers oldest first.
  const rows = versions.reverse().map((v) => [
    v.version,
    el("span", { className: "hash", title: v.content_hash, text: v.content_hash.slice(0, HASH_SHOWN) }),
    v.n_rows,
    v.n_features,
    v.tags.join(", "),
    v.note,
    v.parent,
    v.created_at,
  ]);
  section.replaceChildren(
    el("h3", { text: `Versions of ${name}` }),
    table(
      "dataset-versions-table",
      ["Version", "Hash", "Rows", "Features", "Tags", "Note", "Parent", "Created"],
      rows,
    ),
  );
  section.dataset.dataset = name;
}

function uploadForm(view, chosen) {
  const name = el("input", { id: "upload-dataset-name", placeholder: "dataset name", value: chosen || "" });
  const file = el("input", { id: "upload-dataset-file", type: "file", accept: ".csv,text/csv" });
  const note = el("input", { id: "upload-dataset-note", placeholder: "note (optional)", maxLength: 512 });
  return el(
    "form",
    {
      id: "upload-dataset",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        const dataset = name.value.trim();
        if (!dataset) {
          status("Give the dataset a name.", true);
          return;
        }
        if (!file.files.length) {
          status("Choose a CSV file to upload.", true);
          return;
        }
        try {
          const written = await uploadCsv(dataset, file.files[0], note.value.trim());
          sessionStorage.setItem(DATASET_KEY, written.dataset);
          await view.rerender();
          status(
            written.created
              ? `Uploaded ${written.spec}: ${written.n_rows} rows`
              : `Unchanged: the rows equal ${written.spec}`,
          );
        } catch (error) {
          failed(error);
        }
      },
    },
    el("h3", { text: "Upload a CSV (a new dataset, or a new version of one)" }),
    name,
    file,
    note,
    el("button", { id: "upload-dataset-button", type: "submit", text: "Upload" }),
  );
}
