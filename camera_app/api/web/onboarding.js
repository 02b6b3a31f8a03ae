// Import a class list (kindergarten): pick the CSV → a preview of every family with every
// problem (line and column) → import them all at once → "Print invites" (a PDF of QR cards) and,
// for a phone, a share/copy link per family. The invite codes exist only in this page after the
// import (the device keeps their hashes): they are sent back once to make the sheet.

import { ApiError, request } from "./api.js";
import { familiesTable, problemList } from "./classlist.js";
import { button, card, fill, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    import_heading: "Import a class list",
    import_intro:
      "Invite a whole class at once: fill in the template (one family per line: username, room, viewing hours, last day, language) in Excel or WPS and save it as CSV. Nothing is imported until every line is right.",
    import_template_en: "Template (English headers)",
    import_template_zh: "Template (Chinese headers)",
    import_file: "Class list (.csv)",
    import_too_big: "The file is larger than 48 KB; split the class list into several files.",
    import_checking: "Checking…",
    import_problems: "{count} problem(s): fix them in the file and pick it again. Nothing was imported.",
    import_ready: "{count} families are ready to be invited.",
    import_confirm: "Invite these {count} families",
    import_done: "{count} invitations made. Print the cards or send each family its link now: the links are shown only on this page.",
    import_print: "Print invites (PDF)",
    import_share: "Share",
    import_copy: "Copy link",
    import_copied: "Link copied.",
    import_share_text: "Your invitation to watch {rooms} live",
  },
  zh: {
    import_heading: "导入班级名单",
    import_intro:
      "一次邀请整个班级：在 Excel 或 WPS 中填写模板（每个家庭一行：用户名、教室、观看时段、截止日期、语言），另存为 CSV。只有每一行都正确时才会导入。",
    import_template_en: "模板（英文表头）",
    import_template_zh: "模板（中文表头）",
    import_file: "班级名单（.csv）",
    import_too_big: "文件超过 48 KB，请把名单拆成几个文件。",
    import_checking: "正在检查……",
    import_problems: "有 {count} 个问题：请在文件中改正后重新选择。尚未导入任何内容。",
    import_ready: "可以邀请 {count} 个家庭。",
    import_confirm: "邀请这 {count} 个家庭",
    import_done: "已生成 {count} 份邀请。请现在打印卡片或把链接发给各个家庭：链接只在本页显示。",
    import_print: "打印邀请卡（PDF）",
    import_share: "分享",
    import_copy: "复制链接",
    import_copied: "链接已复制。",
    import_share_text: "您受邀实时观看 {rooms}",
  },
});

const MAX_BYTES = 48 * 1024;

/** The "Import a class list" card; `onImported` runs after an import (to refresh the list). */
export function classListCard(ctx, onImported) {
  const input = h("input", { type: "file", accept: ".csv,text/csv", testid: "class-list-file" });
  const result = h("div", { testid: "class-list-result", "aria-live": "polite" });
  let file = null;

  input.addEventListener("change", async () => {
    file = input.files?.[0] ?? null;
    fill(result);
    if (!file) return;
    if (file.size > MAX_BYTES) {
      fill(result, h("p", { class: "error", role: "alert" }, t("import_too_big")));
      return;
    }
    fill(result, h("p", { class: "muted" }, t("import_checking")));
    try {
      const preview = await (await send("/api/onboarding/preview", file)).json();
      showPreview(preview);
    } catch (error) {
      showFailure(error);
    }
  });

  function send(path, body) {
    return request("POST", path, { body, contentType: "text/csv" });
  }

  function showFailure(error) {
    if (error instanceof ApiError && error.status !== 401) {
      fill(result, h("p", { class: "error", role: "alert" }, error.reason));
    } else {
      fill(result);
      ctx.handleFailure(error);
    }
  }

  function showPreview(preview) {
    if (!preview.ok) {
      fill(
        result,
        h("p", { class: "error", role: "alert" }, t("import_problems", { count: preview.problems.length })),
        problemList(preview.problems),
        preview.families.length ? familiesTable(preview.families) : null,
      );
      return;
    }
    const count = preview.families.length;
    const confirm = button(t("import_confirm", { count }), async () => {
      try {
        const made = await (await send("/api/onboarding/import", file)).json();
        input.value = "";
        showImported(made.invites);
        await onImported();
      } catch (error) {
        if (error instanceof ApiError && error.status === 422 && error.code === "invalid_class_list") {
          fill(result, h("p", { class: "error", role: "alert" }, error.reason));
        } else {
          showFailure(error);
        }
      }
    }, { class: "primary", testid: "class-list-confirm" });
    fill(result, h("p", {}, t("import_ready", { count })), familiesTable(preview.families), h("div", { class: "actions" }, confirm));
  }

  function showImported(invites) {
    // the device's public address when it has one (the sheet prints the same), else this page's
    const links = invites.map((i) => i.invite_url ?? new URL(i.invite_path, window.location.origin).href);
    const print = button(t("import_print"), async () => {
      const body = {
        base_url: window.location.origin,
        invites: invites.map((i) => ({ code: i.code, family: i.family, language: i.language })),
      };
      const response = await request("POST", "/api/onboarding/sheet", { json: body }).catch((error) => {
        showFailure(error);
        return null;
      });
      if (!response) return;
      const url = URL.createObjectURL(await response.blob());
      const a = h("a", { href: url, download: "invites.pdf", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    }, { class: "primary", testid: "class-list-print" });
    fill(
      result,
      h("p", { role: "status" }, t("import_done", { count: invites.length })),
      h("div", { class: "actions" }, print),
      h(
        "ul",
        { class: "plain", testid: "class-list-links" },
        invites.map((invite, index) => shareItem(invite, links[index])),
      ),
    );
  }

  function shareItem(invite, link) {
    const share = navigator.share
      ? button(t("import_share"), async () => {
          await navigator.share({ title: invite.family ?? invite.username, text: t("import_share_text", { rooms: invite.rooms.join(", ") }), url: link }).catch(() => {});
        })
      : null;
    const copy = button(t("import_copy"), async () => {
      await navigator.clipboard?.writeText(link).catch(() => {});
      ctx.say(t("import_copied"));
    });
    return h(
      "li",
      { class: "card", testid: "class-list-link", dataset: { viewer: invite.username } },
      h("strong", {}, invite.family ?? invite.username),
      " · ",
      invite.username,
      h("p", { class: "secret" }, link),
      h("div", { class: "actions" }, share, copy),
    );
  }

  return card(
    t("import_heading"),
    h("p", { class: "muted" }, t("import_intro")),
    h(
      "p",
      { class: "actions" },
      h("a", { href: "/api/onboarding/template.csv?lang=zh", download: "class-list-zh.csv", testid: "class-list-template-zh" }, t("import_template_zh")),
      " · ",
      h("a", { href: "/api/onboarding/template.csv?lang=en", download: "class-list.csv", testid: "class-list-template-en" }, t("import_template_en")),
    ),
    h("label", { class: "field" }, h("span", { class: "field-label" }, t("import_file")), input),
    result,
  );
}
