// The explorer's router: the address (#/page) names the page; each page is a module that
// draws itself into <main> from the public API.

import { logout, scopes, token } from "./api.js";
import { el, status } from "./dom.js";
import { brainsPage } from "./page-brains.js";
import { cypherPage } from "./page-cypher.js";
import { datasetsPage } from "./page-datasets.js";
import { graphPage } from "./page-graph.js";
import { inferPage } from "./page-infer.js";
import { loginPage } from "./page-login.js";
import { memoriesPage } from "./page-memories.js";
import { neuromodulationPage } from "./page-neuromodulation.js";
import { trainPage } from "./page-train.js";
import { versionsPage } from "./page-versions.js";

const PAGES = [
  { id: "brains", title: "Brains", render: brainsPage },
  { id: "graph", title: "Graph", render: graphPage },
  { id: "train", title: "Training", render: trainPage },
  { id: "neuromodulation", title: "Neuromodulation", render: neuromodulationPage },
  { id: "infer", title: "Inference", render: inferPage },
  { id: "cypher", title: "Cypher", render: cypherPage },
  { id: "versions", title: "Versions", render: versionsPage },
  { id: "datasets", title: "Datasets", render: datasetsPage },
  { id: "memories", title: "Memories", render: memoriesPage },
];

// What the page on screen left running (event streams, listeners) stops when it goes.
let pageAbort = new AbortController();
// Renders overlap (a hash change while a page still waits for the API): only the latest
// may draw, so each draws into its own container and a superseded one is never shown.
let renderCount = 0;

function pageId() {
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  return PAGES.some((p) => p.id === id) ? id : "brains";
}

/** Go to page `id`: a new address draws it through hashchange, the same one redraws it. */
function go(id) {
  const address = `#/${id}`;
  if (location.hash === address) {
    render();
  } else {
    location.hash = address;
  }
}

/** Draw the page the address names, or the login form when there is no token. */
async function render() {
  const generation = ++renderCount;
  pageAbort.abort();
  pageAbort = new AbortController();
  const view = { signal: pageAbort.signal, rerender: render, go };
  const content = el("div", { className: "page" });
  document.getElementById("main").replaceChildren(content);
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  delete document.body.dataset.ready;
  status("");
  if (!token()) {
    nav.replaceChildren();
    nav.hidden = true;
    who.replaceChildren();
    document.body.dataset.page = "login";
    loginPage(content, view);
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
  try {
    await PAGES.find((p) => p.id === id).render(content, view);
  } catch (error) {
    if (generation === renderCount) {
      status(error.message || String(error), true);
    }
  }
  // Tests and tools wait for this: the page on screen has finished its first requests.
  if (generation === renderCount) {
    document.body.dataset.ready = id;
  }
}

window.addEventListener("hashchange", render);
window.addEventListener("marble:logout", render);
render();
