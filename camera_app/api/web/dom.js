// Small DOM helpers. The page's Content-Security-Policy enforces Trusted Types, so nothing is
// ever written as HTML: elements are made here and text goes in as textContent.

import { LANG, t } from "./i18n.js";

/**
 * `h("button", { type: "button", onclick: fn, dataset: { testid: "x" } }, "Text", child)`.
 * Keys starting with "on" add listeners; `dataset`, `style` and `aria` are objects; `false`,
 * `null` and `undefined` attributes are left out; children may be strings, nodes or arrays.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key === "testid") {
      element.dataset.testid = value;
    } else if (key === "class") {
      element.className = value;
    } else if (key in element && typeof value !== "string") {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  element.append(...flatten(children));
  return element;
}

function flatten(children) {
  return children
    .flat(Infinity)
    .filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

/** A labelled form field: `field("Name", input)` → `<label>Name<input></label>`. */
export function field(label, control, hint) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint ? h("small", { class: "hint" }, hint) : null,
  );
}

/** A titled card. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h3", {}, title) : null, ...children);
}

/** A button that runs `action` and stays disabled while it runs. */
export function button(label, action, props = {}) {
  const element = h("button", { type: "button", ...props }, label);
  element.addEventListener("click", async () => {
    element.disabled = true;
    try {
      await action();
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

const LOCALE = () => (LANG === "zh" ? "zh-CN" : "en-GB");

/** "Mon 7 Dec 2026" / "2026年12月7日 周一" from unix seconds. */
export function formatDay(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(LOCALE(), {
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
  });
}

/** "14:03:22" from unix seconds. */
export function formatTime(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(LOCALE(), { hour12: false });
}

/** Date and time from unix seconds. */
export function formatDateTime(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return new Date(seconds * 1000).toLocaleString(LOCALE(), { hour12: false });
}

/** "1.5 MB" from megabytes. */
export function formatMb(mb) {
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Number(mb).toFixed(1)} MB`;
}

/** "3 h 12 min" from seconds. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d) return t("duration_days", { d, h: hours });
  if (hours) return t("duration_hours", { h: hours, m: min });
  if (min) return t("duration_minutes", { m: min, s: s % 60 });
  return t("duration_seconds", { s });
}

/** The local day (YYYY-MM-DD) of unix seconds, for grouping a timeline. */
export function dayKey(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `element.replaceChildren(...)` that skips null/false children and takes arrays. */
export function fill(element, ...children) {
  element.replaceChildren(...flatten(children));
  return element;
}

/** `element.append(...)` that skips null/false children and takes arrays. */
export function add(element, ...children) {
  element.append(...flatten(children));
  return element;
}
