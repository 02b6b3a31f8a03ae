// The site's first staff account: while the site has none, the page shows this form instead of
// the log-in (its fields exist only then, beside the log-in's); the setup code is the one
// `camera-site run` showed on its console.

import { ApiError, getJson, postJson } from "./api.js";
import { fill, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    setup_heading: "Set up this site",
    setup_intro: "Make the office's account with the one-time setup code the site showed on its console when it started.",
    setup_code: "Setup code",
    setup_password: "Password (at least 10 characters)",
    setup_submit: "Create the office account",
    setup_wrong_setup_code: "This setup code is wrong, used or expired. `camera-site new-setup-code` shows a new one.",
    setup_set_up_already: "This site has an office account already: log in.",
    setup_bad_password: "This password is too weak: {reason}",
    setup_too_many_attempts: "Too many wrong codes. Wait a while (up to 15 minutes) and try again.",
  },
  zh: {
    setup_heading: "设置本站点",
    setup_intro: "请使用站点启动时在控制台显示的一次性设置码，创建办公室（工作人员）账号。",
    setup_code: "设置码",
    setup_password: "密码（至少 10 个字符）",
    setup_submit: "创建办公室账号",
    setup_wrong_setup_code: "设置码错误、已使用或已过期。可用 camera-site new-setup-code 生成新的设置码。",
    setup_set_up_already: "本站点已有办公室账号，请直接登录。",
    setup_bad_password: "密码太弱：{reason}",
    setup_too_many_attempts: "错误次数过多，请稍候（最多 15 分钟）再试。",
  },
});

const form = () => document.getElementById("setup");
let onDone = async () => {};

function refusal(error) {
  if (!(error instanceof ApiError)) return t("network_error");
  const key = `setup_${error.code}`;
  const text = t(key, { reason: error.reason });
  return text === key ? error.reason : text;
}

function labelled(name, text, props) {
  return h("label", { for: `setup-${name}` }, h("span", {}, text), " ", h("input", { name, id: `setup-${name}`, required: true, ...props }));
}

/** Shows the form (when `needed`) in the page's language, or takes it away. */
export function showSetup(needed) {
  form().hidden = !needed;
  if (!needed) {
    fill(form());
    return;
  }
  fill(
    form(),
    h("h2", {}, t("setup_heading")),
    h("p", {}, t("setup_intro")),
    labelled("code", t("setup_code"), { autocomplete: "off", autocapitalize: "characters", spellcheck: "false" }),
    labelled("username", t("username"), { autocomplete: "username", autocapitalize: "none" }),
    labelled("password", t("setup_password"), { type: "password", autocomplete: "new-password" }),
    h("button", { type: "submit" }, t("setup_submit")),
    h("p", { role: "alert", id: "setup-error" }),
  );
}

/** Whether the site still waits for its first staff account. */
export async function setupNeeded() {
  return (await getJson("/api/setup")).needed;
}

/** Wires the setup form; `show` re-renders the page once the office account exists. */
export function setUpSetup(show) {
  onDone = show;
  form().addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = form().elements;
    try {
      await postJson("/api/setup", {
        code: fields.code.value,
        username: fields.username.value,
        password: fields.password.value,
      });
    } catch (error) {
      document.getElementById("setup-error").textContent = refusal(error);
      return;
    }
    showSetup(false);
    await onDone();
  });
}
