// The class-list preview shared by the device's "Import a class list" (onboarding.js) and the
// site's import page (site_app/web/import.js): the families as a table and every problem with
// its line and column, in the page's language.

import { h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    import_problem_at: "Line {line}",
    import_problem_column: "column {letter} ({header})",
    col_line: "Line",
    col_family: "Family",
    col_username: "Username",
    col_rooms: "Rooms",
    col_hours: "Viewing hours",
    col_until: "Last day",
    col_language: "Language",
  },
  zh: {
    import_problem_at: "第 {line} 行",
    import_problem_column: "{letter} 列（{header}）",
    col_line: "行",
    col_family: "家庭",
    col_username: "用户名",
    col_rooms: "教室",
    col_hours: "观看时段",
    col_until: "截止日期",
    col_language: "语言",
  },
});

/** The families of a checked class list; `noUsername`: shown where a family names none. */
export function familiesTable(families, noUsername = "") {
  const head = ["col_line", "col_family", "col_username", "col_rooms", "col_hours", "col_until", "col_language"];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { testid: "class-list-preview" },
      h("thead", {}, h("tr", {}, head.map((k) => h("th", {}, t(k))))),
      h(
        "tbody",
        {},
        families.map((f) =>
          h(
            "tr",
            { testid: "class-list-row" },
            h("td", {}, String(f.line)),
            h("td", {}, f.family ?? ""),
            h("td", {}, f.username ?? noUsername),
            h("td", {}, f.rooms.join(", ")),
            h("td", {}, f.schedule_name ? `${f.schedule_name} (${f.schedule_text})` : f.schedule_text),
            h("td", {}, f.expires_on),
            h("td", {}, f.language),
          ),
        ),
      ),
    ),
  );
}

/** Every problem of a class list: "Line 3, column B (room): …". */
export function problemList(problems) {
  return h(
    "ul",
    { class: "error", testid: "class-list-problems" },
    problems.map((p) => {
      const where = [
        p.line ? t("import_problem_at", { line: p.line }) : null,
        p.letter ? t("import_problem_column", { letter: p.letter, header: p.header ?? p.column }) : null,
      ]
        .filter(Boolean)
        .join(", ");
      return h("li", { testid: "class-list-problem" }, where ? `${where}: ${p.message}` : p.message);
    }),
  );
}
