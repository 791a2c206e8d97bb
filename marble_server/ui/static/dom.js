// Building the page from API data: every string reaches the page through textContent
// (see `el`), never as markup, so a name holding "<script>" shows as text.

/**
 * A new element: `props` are set as properties (`text` as textContent, `on*` as event
 * listeners, `dataset` and `style` merged, anything else assigned); children are nodes or strings,
 * strings becoming text nodes.
 */
export function el(tag, props = {}, ...children) {
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
export function table(id, columns, rows) {
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

export function cellText(value) {
  if (value === null || value === undefined) {
    return "";
  }
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function status(message, isError = false) {
  const bar = document.getElementById("status");
  bar.textContent = message;
  bar.classList.toggle("error", isError);
}

export function failed(error) {
  status(error.message || String(error), true);
}

