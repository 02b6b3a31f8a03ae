// "Change password" on the site's page, for any logged-in account (a parent replaces the
// password staff set). Its fields exist only while someone is logged in, beside no login form.

import { ApiError, postJson } from "./api.js";
import { fill, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    change_password: "Change password",
    current_password: "Current password",
    new_password_again: "New password (at least 10 characters)",
    password_changed: "Password changed. Your other logins have ended.",
    password_wrong: "The current password is wrong.",
    password_weak: "This password is too weak: {reason}",
    password_locked: "Too many tries. Try again later.",
  },
  zh: {
    change_password: "修改密码",
    current_password: "当前密码",
    new_password_again: "新密码（至少 10 个字符）",
    password_changed: "密码已修改。您在其他设备上的登录已退出。",
    password_wrong: "当前密码不正确。",
    password_weak: "密码太弱：{reason}",
    password_locked: "尝试次数过多，请稍后再试。",
  },
});

function refusal(error) {
  if (!(error instanceof ApiError)) return t("network_error");
  if (error.code === "wrong_password") return t("password_wrong");
  if (error.code === "weak_password") return t("password_weak", { reason: error.reason });
  if (error.status === 429) return t("password_locked");
  return error.reason;
}

function field(name, text, props) {
  const id = `password-${name}`;
  return h("label", { for: id }, h("span", {}, text), " ", h("input", { name, id, type: "password", required: true, ...props }));
}

/** Fills `box` (a <details>) with the form, in the page's language. */
export function showPassword(box) {
  const status = h("p", { id: "password-status", role: "status" });
  const submit = h("button", { type: "submit" }, t("change_password"));
  const form = h(
    "form",
    {},
    field("current", t("current_password"), { autocomplete: "current-password" }),
    field("new", t("new_password_again"), { autocomplete: "new-password", minLength: 10 }),
    submit,
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true; // one change at a time: a second press would check the old password again
    try {
      await postJson("/api/password", { current: form.current.value, new: form.new.value });
      form.reset();
      status.textContent = t("password_changed");
    } catch (error) {
      status.textContent = refusal(error);
    } finally {
      submit.disabled = false;
    }
  });
  fill(box, h("summary", {}, t("change_password")), form);
  box.hidden = false;
}

/** Empties and hides `box` (nobody is logged in). */
export function hidePassword(box) {
  fill(box);
  box.hidden = true;
  box.open = false;
}
