// Neuromodulation: the signals the next training run starts from.

import { can, gql, rest } from "./api.js";
import { brainPath, brainPicker } from "./brain-choice.js";
import { el, failed, status } from "./dom.js";

const SIGNALS = ["reward", "stress", "arousal"];

export async function neuromodulationPage(main, view) {
  const brain = await brainPicker(main, view);
  if (!brain) {
    return;
  }
  const details = await rest("GET", brainPath(brain));
  const current = details.config.neuromodulation;
  const writable = can("train");
  const mode = el("p", { id: "nm-mode", text: `Mode: ${current.mode}` });
  const inputs = {};
  main.append(el("h2", { text: "Neuromodulation for the next training run" }), mode);
  for (const signal of SIGNALS) {
    const shown = el("output", { id: `nm-${signal}-value`, text: current[signal].toFixed(2) });
    const slider = el("input", {
      id: `nm-${signal}`,
      type: "range",
      min: 0,
      max: 1,
      step: 0.05,
      value: current[signal],
      disabled: !writable,
      oninput: () => (shown.textContent = Number(slider.value).toFixed(2)),
    });
    inputs[signal] = slider;
    main.append(el("label", { className: "slider" }, `${signal} `, slider, shown));
  }
  const emotion = el("input", { id: "nm-emotion", value: current.emotion, disabled: !writable, maxLength: 64 });
  main.append(el("label", { className: "slider" }, "emotion ", emotion));
  if (!writable) {
    return;
  }
  main.append(
    el("button", {
      id: "nm-apply",
      text: "Apply to next run",
      onclick: async () => {
        try {
          const data = await gql(
            `mutation Set($brain: String!, $reward: Float, $stress: Float, $arousal: Float, $emotion: String) {
              setNeuromodulation(brain: $brain, reward: $reward, stress: $stress, arousal: $arousal, emotion: $emotion) {
                mode reward stress arousal emotion
              }
            }`,
            {
              brain,
              reward: Number(inputs.reward.value),
              stress: Number(inputs.stress.value),
              arousal: Number(inputs.arousal.value),
              emotion: emotion.value,
            },
          );
          const applied = data.setNeuromodulation;
          mode.textContent = `Mode: ${applied.mode.toLowerCase()}`;
          status(`Applied: reward ${applied.reward}, stress ${applied.stress}, arousal ${applied.arousal}, emotion ${applied.emotion}`);
        } catch (error) {
          failed(error);
        }
      },
    }),
  );
}
