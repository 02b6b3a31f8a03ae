// A password reset link (/#reset=<code>: a fragment, which the browser never sends to a server),
// made by staff for someone who forgot their password: the site says whose password it resets,
// they pick a new one (the devices' rules) and are logged in; every other login of theirs ends.

import { ApiError, postJson } from "./api.js";
import { fill, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    reset_heading: "Set a new password",
    reset_for: "For the account {name}.",
    reset_password: "New password (at least 10 characters)",
    reset_submit: "Save and log in",
    reset_back: "Back to log in",
    reset_err_reset_unknown: "This reset link is not known. Ask the school for a new one.",
    reset_err_reset_used: "This reset link was used already. Log in, or ask the school for a new one.",
    reset_err_reset_expired: "This reset link has expired. Ask the school for a new one.",
    reset_err_reset_withdrawn: "This reset link was replaced by a newer one or withdrawn. Ask the school.",
    reset_err_bad_password: "This password is too weak: {reason}",
    reset_err_too_many_attempts: "Too many wrong codes from here. Wait a while (up to 15 minutes) and try again.",
  },
  zh: {
    reset_heading: "设置新密码",
    reset_for: "账号：{name}",
    reset_password: "新密码（至少 10 个字符）",
    reset_submit: "保存并登录",
    reset_back: "返回登录",
    reset_err_reset_unknown: "无法识别此重置链接，请向幼儿园索取新的链接。",
    reset_err_reset_used: "此重置链接已被使用。请直接登录，或向幼儿园索取新的链接。",
    reset_err_reset_expired: "此重置链接已过期，请向幼儿园索取新的链接。",
    reset_err_reset_withdrawn: "此重置链接已被新的链接取代或已撤回，请联系幼儿园。",
    reset_err_bad_password: "密码太弱：{reason}",
    reset_err_too_many_attempts: "错误的代码次数过多，请稍候（最多 15 分钟）再试。",
  },
});

const $ = (id) => document.getElementById(id);
const form = () => $("reset");
let code = null; // the link's code while the form is open
let account = null; // whose password it resets, once checked
let message = "";
let onDone = async () => {};

function refusal(error) {
  if (!(error instanceof ApiError)) return t("network_error");
  const key = `reset_err_${error.code}`;
  const text = t(key, { reason: error.reason });
  return text === key ? error.reason : text;
}

/** (Re)builds the open form, in the page's language. */
function render() {
  const parts = [h("h2", {}, t("reset_heading"))];
  if (account) {
    parts.push(
      h("p", { testid: "reset-for" }, t("reset_for", { name: account.username })),
      // for password managers: the new password belongs to this username
      h("input", { name: "username", value: account.username, autocomplete: "username", hidden: true, readOnly: true }),
      h(
        "label",
        { for: "reset-password" },
        h("span", {}, t("reset_password")),
        " ",
        h("input", { name: "password", id: "reset-password", type: "password", autocomplete: "new-password", required: true }),
      ),
      h("button", { type: "submit" }, t("reset_submit")),
    );
  }
  const back = async () => {
    close();
    await onDone();
  };
  parts.push(h("p", { role: "alert" }, message), h("button", { type: "button", onclick: back }, t("reset_back")));
  fill(form(), ...parts);
}

async function check() {
  try {
    account = await postJson("/api/reset/preview", { code });
  } catch (error) {
    account = null;
    message = refusal(error);
  }
  render();
}

async function save() {
  try {
    await postJson("/api/reset", { code, password: form().elements.password.value });
  } catch (error) {
    message = refusal(error);
    if (!(error instanceof ApiError && error.code === "bad_password")) account = null;
    render();
    return;
  }
  close();
  await onDone();
}

function close() {
  code = null;
  account = null;
  message = "";
  fill(form());
  form().hidden = true;
}

/** Whether a reset link's form is showing (the page then shows nothing else). */
export function resetting() {
  return !form().hidden;
}

/** Opens the form when the page was opened from a reset link (the code then leaves the address
 * bar and the history); `show` re-renders the page once the new password is set. */
export function setUpReset(show) {
  onDone = show;
  form().addEventListener("submit", async (event) => {
    event.preventDefault();
    if (account) await save();
  });
  const match = /^#reset=([A-Za-z0-9-]+)$/.exec(window.location.hash);
  if (match) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    code = match[1];
    form().hidden = false;
    render();
    check();
  }
}

/** Re-renders the open form in the page's language (after a language switch). */
export function translateReset() {
  if (resetting()) render();
}
