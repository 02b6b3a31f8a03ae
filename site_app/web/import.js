// The site's class-list import, for staff: pick the CSV → a preview of every family with every
// problem (line and column) → invite them all at once → print the sheet of QR cards and, on a
// phone, share or copy each family's link. The invite codes exist only in this page after the
// import (the site keeps their hashes): they are sent back once to make the sheet. Below, the
// invites not used yet, each of which can be withdrawn (a lost card).

import { ApiError, getJson, request } from "./api.js";
import { familiesTable, problemList } from "./classlist.js";
import { button, fill, h } from "./dom.js";
import { LANG, addTexts, setLanguage, t, translatePage } from "./i18n.js";
import { shareButtons } from "./share.js";

addTexts({
  en: {
    title: "Invite a class",
    import_title: "Invite a class",
    back_to_site: "Back to the site",
    staff_only: "Log in as staff on the site's page first.",
    import_heading: "Import a class list",
    import_intro:
      "Fill in the template in Excel or WPS, one family per line (room, viewing hours, last day, card language; a username only if you want to choose it for the family), and save it as CSV. Nothing is imported until every line is right; each family then gets an invite code, which works once.",
    import_template_zh: "Template (Chinese headers)",
    import_template_en: "Template (English headers)",
    import_file: "Class list (.csv)",
    import_too_big: "The file is larger than 48 KB; split the class list into several files.",
    import_checking: "Checking…",
    import_problems: "{count} problem(s): fix them in the file and pick it again. Nothing was imported.",
    import_ready: "{count} families are ready to be invited.",
    import_confirm: "Invite these {count} families",
    import_done: "{count} invites made. Print the cards or send each family its link now: the links are shown only on this page.",
    import_print: "Print invites (PDF)",
    import_share_text: "Your invitation to watch {rooms} live",
    parent_picks: "(the parent picks)",
    pending_heading: "Invites not used yet",
    pending_none: "None.",
    pending_until: "code valid until {date}",
    withdraw: "Withdraw",
    one_heading: "Invite one family",
    one_submit: "Make the invite",
  },
  zh: {
    title: "邀请全班家长",
    import_title: "邀请全班家长",
    back_to_site: "返回首页",
    staff_only: "请先在首页用教职工账户登录。",
    import_heading: "导入班级名单",
    import_intro:
      "在 Excel 或 WPS 中填写模板，每个家庭一行（教室、观看时段、截止日期、卡片语言；只有想替家长定用户名时才填用户名），另存为 CSV。只有每一行都正确时才会导入；之后每个家庭得到一个只能使用一次的邀请码。",
    import_template_zh: "模板（中文表头）",
    import_template_en: "模板（英文表头）",
    import_file: "班级名单（.csv）",
    import_too_big: "文件超过 48 KB，请把名单拆成几个文件。",
    import_checking: "正在检查……",
    import_problems: "有 {count} 个问题：请在文件中改正后重新选择。尚未导入任何内容。",
    import_ready: "可以邀请 {count} 个家庭。",
    import_confirm: "邀请这 {count} 个家庭",
    import_done: "已生成 {count} 份邀请。请现在打印卡片或把链接发给各个家庭：链接只在本页显示。",
    import_print: "打印邀请卡（PDF）",
    import_share_text: "您受邀实时观看 {rooms}",
    parent_picks: "（由家长设置）",
    pending_heading: "尚未使用的邀请",
    pending_none: "没有。",
    pending_until: "邀请码有效期至 {date}",
    withdraw: "撤回",
    one_heading: "邀请一个家庭",
    one_submit: "生成邀请",
  },
});

const MAX_BYTES = 48 * 1024;
const $ = (id) => document.getElementById(id);
let file = null;
let imported = null; // the invites of the last import, with their codes (this page only)

function say(...children) {
  fill($("result"), ...children);
}

function failure(error) {
  const text = error instanceof ApiError ? error.reason : t("network_error");
  say(h("p", { class: "error", role: "alert" }, text));
}

function send(path, body = file) {
  return request("POST", path, { body, contentType: "text/csv" });
}

function showPreview(preview) {
  if (!preview.ok) {
    say(
      h("p", { class: "error", role: "alert" }, t("import_problems", { count: preview.problems.length })),
      problemList(preview.problems),
      preview.families.length ? familiesTable(preview.families, t("parent_picks")) : null,
    );
    return;
  }
  const count = preview.families.length;
  const confirm = button(
    t("import_confirm", { count }),
    async () => {
      try {
        const made = await (await send("/api/import")).json();
        $("class-file").value = "";
        imported = made.invites;
        showImported();
        await showPending();
      } catch (error) {
        failure(error);
      }
    },
    { testid: "class-list-confirm" },
  );
  say(h("p", {}, t("import_ready", { count })), familiesTable(preview.families, t("parent_picks")), confirm);
}

async function printSheet() {
  const body = { base_url: window.location.origin, codes: imported.map((i) => i.code) };
  let response;
  try {
    response = await request("POST", "/api/import/sheet", { json: body });
  } catch (error) {
    failure(error);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const a = h("a", { href: url, download: "invites.pdf", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function showImported() {
  const print = button(t("import_print"), printSheet, { testid: "class-list-print" });
  say(
    h("p", { role: "status" }, t("import_done", { count: imported.length })),
    print,
    h(
      "ul",
      { testid: "class-list-links" },
      imported.map((invite) => shareItem(invite, new URL(invite.invite_path, window.location.origin).href)),
    ),
  );
}

function shareItem(invite, link) {
  const name = invite.family ?? invite.username ?? invite.rooms.join(", ");
  const text = t("import_share_text", { rooms: invite.rooms.join(", ") });
  return h(
    "li",
    { testid: "class-list-link", class: "invite" },
    h("div", {}, h("strong", {}, name), h("p", { class: "secret" }, link)),
    h("div", {}, shareButtons({ title: name, text, url: link }, (said) => {
      $("copied").textContent = said;
    })),
  );
}

async function showPending() {
  const pending = await getJson("/api/invites");
  const list = $("pending");
  if (!pending.length) {
    fill(list, h("li", {}, t("pending_none")));
    return;
  }
  fill(
    list,
    pending.map((invite) =>
      h(
        "li",
        { testid: "pending-invite", dataset: { invite: invite.id } },
        h(
          "span",
          {},
          `${invite.family ?? invite.username ?? ""} · ${invite.rooms.join(", ")} · ${t("pending_until", {
            date: new Date(invite.expires_at * 1000).toISOString().slice(0, 10),
          })}`,
        ),
        button(t("withdraw"), async () => {
          await request("DELETE", `/api/invites/${encodeURIComponent(invite.id)}`).catch(failure);
          await showPending();
        }),
      ),
    ),
  );
}

// One family is a class list of one line: the same checks, messages and result as a file.
function csvCell(value) {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

async function inviteOne(event) {
  event.preventDefault();
  const form = event.target;
  const rooms = [...form.querySelectorAll("input[name=room]:checked")].map((box) => box.value);
  const cells = [form.elements.family.value, rooms.join(";"), form.elements.schedule.value, form.elements.expires_on.value, form.elements.language.value];
  const text = `family,rooms,schedule,expires_on,language\r\n${cells.map(csvCell).join(",")}\r\n`;
  const one = new Blob([text], { type: "text/csv" });
  try {
    const preview = await (await send("/api/import/preview", one)).json();
    if (!preview.ok) {
      const where = { family: "col_family", rooms: "col_rooms", schedule: "col_hours", expires_on: "col_until", language: "col_language" };
      const lines = preview.problems.map((p) => (p.column in where ? `${t(where[p.column])}: ${p.message}` : p.message));
      say(h("ul", { class: "error", role: "alert", testid: "one-problems" }, lines.map((line) => h("li", {}, line))));
      return;
    }
    const made = await (await send("/api/import", one)).json();
    imported = made.invites;
    form.reset();
    showImported();
    await showPending();
  } catch (error) {
    failure(error);
  }
}

async function showRooms() {
  const rooms = Object.keys(await getJson("/api/rooms"));
  const legend = $("one-rooms").querySelector("legend");
  fill(
    $("one-rooms"),
    legend,
    rooms.map((room) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "room", value: room }), " ", room)),
  );
}

async function show() {
  translatePage();
  $("lang").textContent = LANG === "zh" ? "English" : "中文";
  let me = null;
  try {
    me = await getJson("/api/me");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  }
  const staff = me?.role === "staff";
  $("staff-only").hidden = staff;
  $("staff").hidden = !staff;
  if (!staff) return;
  if (imported) showImported();
  await Promise.all([showPending(), showRooms()]);
}

$("class-file").addEventListener("change", async () => {
  file = $("class-file").files?.[0] ?? null;
  say();
  if (!file) return;
  if (file.size > MAX_BYTES) {
    say(h("p", { class: "error", role: "alert" }, t("import_too_big")));
    return;
  }
  say(h("p", {}, t("import_checking")));
  try {
    showPreview(await (await send("/api/import/preview")).json());
  } catch (error) {
    failure(error);
  }
});

$("one").addEventListener("submit", inviteOne);

$("lang").addEventListener("click", async () => {
  setLanguage(LANG === "zh" ? "en" : "zh");
  await show();
});

show();
