// A read-only Cypher console with its results as a table.

import { gql } from "./api.js";
import { brainPicker } from "./brain-choice.js";
import { el, failed, table } from "./dom.js";

export async function cypherPage(main, view) {
  const brain = await brainPicker(main, view);
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
