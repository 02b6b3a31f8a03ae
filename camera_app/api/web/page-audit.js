// The audit log: who did what and when (streams, viewers, every look at a recording, config
// changes), newest first, filtered by event and actor, with the hash chain's verdict. The
// export (JSON Lines) is the file to hand to an inspector.

import { getJson } from "./api.js";
import { add, fill, formatDateTime, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    audit_heading: "Audit log",
    audit_intro:
      "Every change to streaming and viewers, every live session and every look at a recording is written here. Records are chained by hashes, so a changed or deleted record shows.",
    audit_ok: "The chain is intact ({n} records).",
    audit_broken: "The chain is broken: {problems}",
    audit_event: "Event",
    audit_all: "All events",
    audit_actor: "Who",
    audit_filter: "Filter",
    audit_time: "When",
    audit_details: "Details",
    audit_more: "Older records",
    audit_export: "Export (JSON Lines)",
    audit_none: "No record matches.",
  },
  zh: {
    audit_heading: "审计日志",
    audit_intro: "所有直播和观看者的变更、每次实时观看以及每次查看录像都记录在这里。记录以哈希链相连，任何修改或删除都会被发现。",
    audit_ok: "哈希链完整（共 {n} 条记录）。",
    audit_broken: "哈希链已损坏：{problems}",
    audit_event: "事件",
    audit_all: "全部事件",
    audit_actor: "操作者",
    audit_filter: "筛选",
    audit_time: "时间",
    audit_details: "详情",
    audit_more: "更早的记录",
    audit_export: "导出（JSON Lines）",
    audit_none: "没有符合条件的记录。",
  },
});

const PAGE = 50;

export async function render(root, ctx) {
  const verdict = h("p", { testid: "audit-verify" });
  const eventSelect = h("select", { testid: "audit-event" }, h("option", { value: "" }, t("audit_all")));
  const actor = h("input", { maxlength: 64, testid: "audit-actor", autocapitalize: "none" });
  const rows = h("tbody");
  const empty = h("p", { class: "muted", hidden: true }, t("audit_none"));
  const more = h("button", { type: "button", hidden: true }, t("audit_more"));
  const form = h(
    "form",
    { class: "toolbar" },
    h("label", {}, t("audit_event"), " ", eventSelect),
    h("label", {}, t("audit_actor"), " ", actor),
    h("button", { type: "submit" }, t("audit_filter")),
  );
  add(
    root,
    h("h2", {}, t("audit_heading")),
    h("p", { class: "muted" }, t("audit_intro")),
    verdict,
    form,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { testid: "audit-log" },
        h("thead", {}, h("tr", {}, h("th", {}, t("audit_time")), h("th", {}, t("audit_event")), h("th", {}, t("audit_actor")), h("th", {}, t("audit_details")))),
        rows,
      ),
    ),
    empty,
    more,
    h("p", {}, h("a", { href: "/api/audit", download: "audit.jsonl" }, t("audit_export"))),
  );

  let cursor = null;

  function query() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (eventSelect.value) params.set("event", eventSelect.value);
    if (actor.value.trim()) params.set("actor", actor.value.trim());
    if (cursor) params.set("cursor", cursor);
    return `/api/audit/events?${params}`;
  }

  function row(record) {
    const details = Object.entries(record.details ?? {})
      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join("; ");
    return h(
      "tr",
      { testid: "audit-record", dataset: { event: record.event } },
      h("td", {}, formatDateTime(record.time ?? record.at)),
      h("td", {}, record.event),
      h("td", {}, record.actor),
      h("td", { class: "details" }, details),
    );
  }

  async function load(append) {
    if (!append) cursor = null;
    const page = await getJson(query());
    const records = page.records ?? page.events ?? [];
    if (append) add(rows, records.map(row));
    else fill(rows, records.map(row));
    cursor = page.cursor ?? null;
    more.hidden = !cursor;
    empty.hidden = rows.children.length > 0;
    if (page.event_types && eventSelect.options.length === 1) {
      add(eventSelect, page.event_types.map((e) => h("option", { value: e }, e)));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false).catch(ctx.handleFailure);
  });
  more.addEventListener("click", () => load(true).catch(ctx.handleFailure));

  const [check] = await Promise.all([getJson("/api/audit/verify"), load(false)]);
  verdict.textContent = check.ok ? `✓ ${t("audit_ok", { n: check.records })}` : t("audit_broken", { problems: check.problems.join("; ") });
  verdict.className = check.ok ? "state armed" : "state disarmed";
  return null;
}
