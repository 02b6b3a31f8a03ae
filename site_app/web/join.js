// Joining with an invite: the link on a card (/#join=<code>: a fragment, which the browser never
// sends to a server) or the code typed after "I have an invite code". The site says what the
// invite gives; the parent picks a username (unless the invite names one) and a password, reads
// and accepts the viewing terms, and is logged in as a parent with that access.

import { ApiError, postJson } from "./api.js";
import { fill, h } from "./dom.js";
import { LANG, addTexts, t } from "./i18n.js";

addTexts({
  en: {
    have_invite: "I have an invite code",
    join_heading: "Join with an invite",
    invite_code: "Invite code",
    join_check: "Continue",
    join_grant: "Room: {rooms} · Viewing hours: {hours} · Access until {until}",
    new_password: "Choose a password",
    join_accept: "I have read and accept the viewing terms",
    join_submit: "Create my account",
    join_back: "Back to log in",
    join_invite_unknown: "No invite has this code. Check it on your card.",
    join_invite_used: "This invite was used already. Log in with your username, or ask the school for a new one.",
    join_invite_expired: "This invite has expired. Ask the school for a new one.",
    join_invite_withdrawn: "This invite was withdrawn. Ask the school for a new one.",
    join_username_taken: "This username is taken; choose another.",
    join_bad_password: "This password is too weak: {reason}",
    join_terms_changed: "The viewing terms changed; read them again.",
    join_too_many_attempts: "Too many wrong codes from here. Wait a while (up to 15 minutes) and try again.",
  },
  zh: {
    have_invite: "我有邀请码",
    join_heading: "使用邀请加入",
    invite_code: "邀请码",
    join_check: "继续",
    join_grant: "教室：{rooms} · 观看时段：{hours} · 有效期至 {until}",
    new_password: "设置密码",
    join_accept: "我已阅读并同意观看条款",
    join_submit: "创建我的账户",
    join_back: "返回登录",
    join_invite_unknown: "没有与此邀请码对应的邀请，请核对卡片上的邀请码。",
    join_invite_used: "此邀请已被使用。请用您的用户名登录，或向幼儿园索取新的邀请。",
    join_invite_expired: "此邀请已过期，请向幼儿园索取新的邀请。",
    join_invite_withdrawn: "此邀请已被撤回，请向幼儿园索取新的邀请。",
    join_username_taken: "该用户名已被使用，请换一个。",
    join_bad_password: "密码太弱：{reason}",
    join_terms_changed: "观看条款已更新，请重新阅读。",
    join_too_many_attempts: "错误的邀请码次数过多，请稍候（最多 15 分钟）再试。",
  },
});

const $ = (id) => document.getElementById(id);
const form = () => $("join");
let code = null; // the code being joined with, while the form is open
let invite = null; // what it gives, once checked
let message = ""; // why the code or the account was refused
let onJoined = async () => {};

function refusal(error) {
  if (!(error instanceof ApiError)) return t("network_error");
  const key = `join_${error.code}`;
  const text = t(key, { reason: error.reason });
  return text === key ? error.reason : text;
}

function input(name, props = {}) {
  return h("input", { name, id: `join-${name}`, ...props });
}

function labelled(name, text, control) {
  return h("label", { for: `join-${name}` }, h("span", {}, text), " ", control);
}

/** (Re)builds the open form from `code`, `invite` and `message`, in the page's language. */
function render() {
  const codeField = input("code", { value: code ?? "", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", required: true });
  codeField.addEventListener("input", () => {
    code = codeField.value;
  });
  const parts = [
    h("h2", {}, t("join_heading")),
    labelled("code", t("invite_code"), codeField),
  ];
  if (invite) {
    const rooms = invite.rooms.join(LANG === "zh" ? "、" : ", ");
    const hours = LANG === "zh" ? invite.schedule_text.zh : invite.schedule_text.en;
    parts.push(
      h("p", { testid: "join-grant" }, t("join_grant", { rooms, hours, until: invite.access_until })),
      labelled("username", t("username"), input("username", { value: invite.username ?? "", readOnly: Boolean(invite.username), autocomplete: "username", required: true })),
      labelled("password", t("new_password"), input("password", { type: "password", autocomplete: "new-password", required: true })),
      h("h3", {}, t("terms_heading")),
      h("p", { testid: "join-terms" }, LANG === "zh" ? invite.terms.zh : invite.terms.en),
      h("label", { class: "check" }, input("accept", { type: "checkbox", required: true }), " ", h("span", {}, t("join_accept"))),
      h("button", { type: "submit" }, t("join_submit")),
    );
  } else {
    parts.push(h("button", { type: "submit" }, t("join_check")));
  }
  parts.push(
    h("p", { role: "alert" }, message),
    h("button", { type: "button", onclick: close }, t("join_back")),
  );
  fill(form(), ...parts);
}

async function check() {
  invite = null;
  message = "";
  try {
    invite = await postJson("/api/invites/preview", { code });
  } catch (error) {
    message = refusal(error);
  }
  render();
}

async function join() {
  const fields = form().elements;
  try {
    await postJson("/api/invites/redeem", {
      code,
      username: fields.username.value,
      password: fields.password.value,
      terms: invite.terms.version,
    });
  } catch (error) {
    if (error instanceof ApiError && error.code === "terms_changed") await check();
    message = refusal(error);
    render();
    return;
  }
  close();
  await onJoined();
}

function openJoin(withCode) {
  code = withCode;
  invite = null;
  message = "";
  $("login").hidden = true;
  form().hidden = false;
  render();
  if (code) check();
}

function close() {
  code = null;
  invite = null;
  message = "";
  fill(form());
  form().hidden = true;
  $("login").hidden = false;
}

/** Whether the join form is showing (the page then leaves the login form hidden). */
export function joining() {
  return !form().hidden;
}

/** Wires the join form; `show` re-renders the page once the parent's account exists. An invite
 * link opens the form with its code, which then leaves the address bar and the history. */
export function setUpJoin(show) {
  onJoined = show;
  $("have-invite").addEventListener("click", () => openJoin(null));
  form().addEventListener("submit", async (event) => {
    event.preventDefault();
    await (invite ? join() : check());
  });
  const match = /^#join=([A-Za-z0-9-]+)$/.exec(window.location.hash);
  if (match) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    openJoin(match[1]);
  }
}

/** Re-renders the open form in the page's language (after a language switch). */
export function translateJoin() {
  if (joining()) render();
}
