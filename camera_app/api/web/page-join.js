// Joining by invite: the link is `https://device/#join=CODE` (the code stays in the fragment, so
// it never reaches a server log). The invited person reads what they may watch and when, and the
// viewing terms they consent to, sets a password, and is logged in.

import { ApiError, postJson } from "./api.js";
import { field, fill, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";
import { describeSchedule } from "./schedule.js";

addTexts({
  en: {
    join_heading: "You are invited to watch",
    join_intro: "{name}, you were invited to watch these cameras live:",
    join_hours: "Your viewing hours: {hours}",
    join_until: "Your access ends after {date}.",
    join_watermark: "Your user name and the time are shown on the video you watch.",
    join_terms_heading: "Viewing terms",
    join_consent: "I accept the viewing terms.",
    join_password: "Choose a password (at least 12 characters)",
    join_password_again: "The password again",
    join_submit: "Join",
    join_mismatch: "The two passwords differ.",
    join_failed: "This invite link is unknown, was already used, or was revoked. Ask the owner for a new one.",
    join_done: "Welcome! You can now watch during your viewing hours.",
  },
  zh: {
    join_heading: "您受邀观看",
    join_intro: "{name}，您受邀实时观看以下摄像头：",
    join_hours: "您的观看时段：{hours}",
    join_until: "您的观看权限在 {date} 之后结束。",
    join_watermark: "您观看的视频上会显示您的用户名和时间。",
    join_terms_heading: "观看条款",
    join_consent: "我接受观看条款。",
    join_password: "设置密码（至少 12 个字符）",
    join_password_again: "再次输入密码",
    join_submit: "加入",
    join_mismatch: "两次输入的密码不一致。",
    join_failed: "此邀请链接无效、已被使用或已被撤销。请向主人索取新的链接。",
    join_done: "欢迎！您现在可以在观看时段内观看。",
  },
});

export async function render(root, ctx) {
  const code = ctx.code;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  let invite;
  try {
    invite = await postJson("/api/invites/preview", { code });
  } catch (error) {
    ctx.fail(error instanceof ApiError && error.status < 500 && error.status !== 429 ? t("join_failed") : ctx.describe(error));
    return;
  }
  const password = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 12, maxlength: 256 });
  const again = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 12, maxlength: 256 });
  const consent = h("input", { type: "checkbox", required: true, testid: "join-consent" });
  const cameras = invite.cameras.map((c) => c.name ?? c);
  const form = h(
    "form",
    { testid: "join-form" },
    h("h2", {}, t("join_heading")),
    h("p", {}, t("join_intro", { name: invite.username })),
    h("ul", {}, cameras.map((c) => h("li", {}, c))),
    invite.rooms?.length ? h("p", {}, invite.rooms.join(", ")) : null,
    invite.schedule ? h("p", { testid: "join-hours" }, t("join_hours", { hours: describeSchedule(invite.schedule) })) : null,
    invite.expires_on ? h("p", {}, t("join_until", { date: invite.expires_on })) : null,
    invite.watermark ? h("p", {}, t("join_watermark")) : null,
    h("h3", {}, t("join_terms_heading")),
    h("div", { class: "card", testid: "join-terms" }, termsText(invite)),
    h("label", {}, consent, " ", t("join_consent")),
    field(t("username"), h("input", { value: invite.username, readonly: true, autocomplete: "username" })),
    field(t("join_password"), password),
    field(t("join_password_again"), again),
    h("button", { type: "submit" }, t("join_submit")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.fail("");
    if (password.value !== again.value) {
      ctx.fail(t("join_mismatch"));
      return;
    }
    try {
      await postJson("/api/invites/accept", { code, password: password.value, consent: consent.checked });
      await postJson("/api/login", { username: invite.username, password: password.value });
      password.value = again.value = "";
      ctx.say(t("join_done"));
      await ctx.done();
    } catch (error) {
      ctx.fail(ctx.describe(error));
    }
  });
  fill(root, form);
}

function termsText(invite) {
  const terms = invite.terms;
  if (!terms) return "";
  if (typeof terms === "string") return terms;
  const lines = terms[document.documentElement.lang === "zh-CN" ? "zh" : "en"] ?? terms.en ?? "";
  return Array.isArray(lines) ? lines.map((line) => h("p", {}, line)) : lines;
}
