// Training and dreams: start a training run or a dream, follow its event stream as live
// curves, cancel it; the brain's recent jobs, any of which can be followed.

import { can, events, rest } from "./api.js";
import { brainPath, brainPicker, datasetChoices } from "./brain-choice.js";
import { el, failed, table } from "./dom.js";
import { lineChart } from "./plots.js";

export async function trainPage(main, view) {
  const brain = await brainPicker(main, view);
  if (!brain) {
    return;
  }
  const jobState = el("p", { id: "job-state", text: "No job followed yet." });
  const lossChart = el("canvas", { id: "loss-chart", className: "chart" });
  const accuracyChart = el("canvas", { id: "accuracy-chart", className: "chart" });
  const metrics = el("div", { id: "epoch-metrics" });
  const jobs = el("div", { id: "recent-jobs" });
  const cancel = el("button", { id: "cancel-job", type: "button", text: "Cancel", hidden: true, className: "danger" });
  // The followed job's event stream: replaced when another job is followed, stopped
  // with the page.
  let stream = new AbortController();
  if (can("train")) {
    main.append(await trainForm(brain, follow), dreamForm(brain, follow), cancel);
  }
  main.append(jobState, lossChart, accuracyChart, metrics, el("h3", { text: "Recent jobs" }), jobs);
  lineChart(lossChart, [], { xLabel: "epoch", yLabel: "loss" });
  lineChart(accuracyChart, [], { xLabel: "epoch", yLabel: "accuracy" });
  await drawJobs();

  // Recent jobs of this brain: any token that reads may follow one (a read-only token
  // watches a run someone else started). Drawn again when a followed job starts or ends.
  async function drawJobs() {
    const recent = await rest("GET", `/jobs?brain=${encodeURIComponent(brain)}&limit=10`);
    jobs.replaceChildren(
      table(
        "jobs-table",
        ["Job", "Kind", "State", "Progress", "Created", ""],
        recent.map((job) => [
          job.id,
          job.kind,
          job.state,
          `${Math.round(job.progress * 100)}%`,
          job.created_at,
          el("button", {
            className: "watch-job",
            type: "button",
            text: "Follow",
            dataset: { job: job.id },
            onclick: () => follow(job),
          }),
        ]),
      ),
    );
  }

  function follow(job) {
    stream.abort();
    stream = new AbortController();
    // A training run reports epochs (loss, validation loss and accuracy); a dream reports
    // cycles (the replay loss).
    const dream = job.kind === "dream";
    const step = dream ? "cycle" : "epoch";
    const loss = [];
    const valLoss = [];
    const accuracy = [];
    let latest = job;
    const show = (current) => {
      latest = current;
      const progress = `${Math.round(current.progress * 100)}%`;
      jobState.textContent = `Job ${current.id} (${current.kind}): ${current.state} (${progress})`;
      jobState.dataset.state = current.state;
      jobState.dataset.kind = current.kind;
      // The followed job's row in the recent jobs keeps up with its events too.
      const row = jobs.querySelector(`button[data-job="${CSS.escape(current.id)}"]`)?.closest("tr");
      if (row) {
        row.cells[2].textContent = current.state;
        row.cells[3].textContent = progress;
      }
    };
    show(job);
    lineChart(lossChart, [], { xLabel: step, yLabel: "loss" });
    lineChart(accuracyChart, [], { xLabel: step, yLabel: "accuracy" });
    // A dream has no validation pass: no accuracy to draw.
    accuracyChart.hidden = dream;
    metrics.replaceChildren();
    cancel.hidden = !can("train") || ["succeeded", "failed", "cancelled", "interrupted"].includes(job.state);
    cancel.onclick = async () => {
      try {
        await rest("POST", `/jobs/${job.id}/cancel`);
      } catch (error) {
        failed(error);
      }
    };
    drawJobs()
      .then(() => show(latest))
      .catch(failed);
    const onEvent = (kind, data) => {
      show(data.job);
      const point = kind === "progress" ? (data.metrics?.[step] !== undefined ? data.metrics : null) : null;
      if (point) {
        loss.push([point[step], point.loss]);
        if (Number.isFinite(point.val_loss)) {
          valLoss.push([point[step], point.val_loss]);
        }
        if (Number.isFinite(point.val_accuracy)) {
          accuracy.push([point[step], point.val_accuracy]);
        }
        const lossSeries = [{ label: dream ? "replay loss" : "loss", points: loss }];
        if (!dream) {
          lossSeries.push({ label: "val_loss", points: valLoss });
        }
        lineChart(lossChart, lossSeries, { xLabel: step, yLabel: "loss" });
        lineChart(accuracyChart, [{ label: "val_accuracy", points: accuracy }], { xLabel: step, yLabel: "accuracy" });
        metrics.replaceChildren(
          table("epoch-metrics-table", ["Metric", "Value"], Object.entries(point).map(([k, v]) => [k, v])),
        );
      }
      if (kind === "end") {
        cancel.hidden = true;
        drawJobs().catch(failed);
      }
    };
    events(`/jobs/${job.id}/events`, onEvent, AbortSignal.any([view.signal, stream.signal])).catch((error) => {
      if (error.name !== "AbortError") {
        failed(error);
      }
    });
  }
}

/** The form that starts a training run on a built-in or stored dataset. */
async function trainForm(brain, follow) {
  const dataset = el(
    "select",
    { id: "train-dataset" },
    (await datasetChoices()).map((d) => el("option", { value: d, text: d })),
  );
  const details = await rest("GET", brainPath(brain));
  const trainedOn = details.config?.dataset?.name;
  if (trainedOn && [...dataset.options].some((o) => o.value === trainedOn)) {
    dataset.value = trainedOn;
  }
  const epochs = el("input", { id: "train-epochs", type: "number", min: 1, max: 100000, value: 5 });
  return el(
    "form",
    {
      id: "train-form",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          follow(await rest("POST", `${brainPath(brain)}/train`, { dataset: dataset.value, epochs: Number(epochs.value) }));
        } catch (error) {
          failed(error);
        }
      },
    },
    el("label", {}, "Dataset ", dataset),
    el("label", {}, "Epochs ", epochs),
    el("button", { id: "start-train", type: "submit", text: "Start training" }),
  );
}

/** The form that starts a dream: replay of the brain's recorded experiences. */
function dreamForm(brain, follow) {
  const cycles = el("input", { id: "dream-cycles", type: "number", min: 1, max: 100000, value: 20 });
  return el(
    "form",
    {
      id: "dream-form",
      className: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          follow(await rest("POST", `${brainPath(brain)}/dream`, { cycles: Number(cycles.value) }));
        } catch (error) {
          failed(error);
        }
      },
    },
    el("label", {}, "Dream cycles ", cycles),
    el("button", { id: "start-dream", type: "submit", text: "Dream" }),
  );
}
