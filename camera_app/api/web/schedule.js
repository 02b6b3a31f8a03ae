// Weekly schedules as the API takes them: `{windows: [{days: ["mon", ...], start: "HH:MM",
// end: "HH:MM"}]}` in the camera's time zone (an end before the start runs past midnight).
// describeSchedule() words one; scheduleEditor() lets the owner build one (a parent's viewing
// hours, a shop's posted streaming hours).

import { h } from "./dom.js";
import { LANG, addTexts, t } from "./i18n.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = {
  en: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
  zh: ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
};

addTexts({
  en: {
    schedule_add: "Add a window",
    schedule_remove: "Remove",
    schedule_from: "From",
    schedule_to: "to",
    schedule_empty: "No window yet: add one.",
    schedule_window: "Window {n}",
  },
  zh: {
    schedule_add: "添加时段",
    schedule_remove: "删除",
    schedule_from: "从",
    schedule_to: "到",
    schedule_empty: "还没有时段，请添加。",
    schedule_window: "时段 {n}",
  },
});

/** "Mon–Fri 08:30–11:30; Sat 09:00–10:00" in the page's language. */
export function describeSchedule(schedule) {
  const names = DAY_NAMES[LANG] ?? DAY_NAMES.en;
  const parts = (schedule?.windows ?? []).map((w) => {
    const idx = w.days.map((d) => DAYS.indexOf(d)).sort((a, b) => a - b);
    const run = idx.length > 2 && idx.every((d, i) => i === 0 || d === idx[i - 1] + 1);
    const days = run
      ? `${names[idx[0]]}${LANG === "zh" ? "至" : "–"}${names[idx.at(-1)]}`
      : idx.map((i) => names[i]).join(LANG === "zh" ? "、" : ", ");
    return `${days} ${w.start}–${w.end}`;
  });
  return parts.join(LANG === "zh" ? "；" : "; ");
}

/**
 * An editor of weekly windows. Returns `{element, value()}`; value() is the schedule object (or
 * null when no window has a day ticked), which the API validates.
 */
export function scheduleEditor(initial, { testid = "schedule-editor" } = {}) {
  const rows = h("div", { class: "schedule-rows" });
  const hint = h("p", { class: "muted" }, t("schedule_empty"));

  function addRow(window = { days: ["mon", "tue", "wed", "thu", "fri"], start: "08:00", end: "18:00" }) {
    const names = DAY_NAMES[LANG] ?? DAY_NAMES.en;
    const boxes = DAYS.map((day, i) =>
      h(
        "label",
        { class: "day" },
        h("input", { type: "checkbox", value: day, checked: window.days.includes(day) }),
        names[i],
      ),
    );
    const start = h("input", { type: "time", value: window.start, required: true, class: "start" });
    const end = h("input", {
      type: "time",
      value: window.end === "24:00" ? "23:59" : window.end,
      required: true,
      class: "end",
    });
    const row = h(
      "fieldset",
      { class: "schedule-row", testid: "schedule-window" },
      h("legend", {}, t("schedule_window", { n: rows.children.length + 1 })),
      h("div", { class: "days" }, boxes),
      h("div", { class: "times" }, t("schedule_from"), " ", start, " ", t("schedule_to"), " ", end),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            row.remove();
            sync();
          },
        },
        t("schedule_remove"),
      ),
    );
    rows.append(row);
    sync();
  }

  function sync() {
    hint.hidden = rows.children.length > 0;
  }

  for (const window of initial?.windows ?? []) addRow(window);
  if (!initial) addRow();
  sync();

  const element = h(
    "div",
    { class: "schedule-editor", testid },
    rows,
    hint,
    h("button", { type: "button", onclick: () => addRow() }, t("schedule_add")),
  );
  return {
    element,
    value() {
      const windows = [...rows.querySelectorAll(".schedule-row")]
        .map((row) => ({
          days: [...row.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value),
          start: row.querySelector(".start").value,
          // the time input cannot say 24:00; 23:59 stands for the end of the day
          end: row.querySelector(".end").value === "23:59" ? "24:00" : row.querySelector(".end").value,
        }))
        .filter((w) => w.days.length);
      return windows.length ? { windows } : null;
    },
  };
}
