// The app shell: who is this (first-run setup, log in, a public link, an invite link), the menu
// for their role, and the screen the address names (`#/events`, `#/streaming`, ...). Every
// screen is a module with `render(root, ctx)` that may return a cleanup function; the shell
// calls it when the user leaves the screen. Everything the user sees is built with the helpers
// in dom.js (no HTML strings: the CSP enforces Trusted Types).

import { ApiError, getJson, postJson, request } from "./api.js";
import { field, h } from "./dom.js";
import { LANG, addTexts, setLanguage, t, translatePage } from "./i18n.js";
import * as audit from "./page-audit.js";
import * as events from "./page-events.js";
import * as join from "./page-join.js";
import * as live from "./page-live.js";
import * as masks from "./page-masks.js";
import * as settings from "./page-settings.js";
import * as streaming from "./page-streaming.js";
import * as viewers from "./page-viewers.js";

addTexts({
  en: {
    setup_heading: "Set up this camera",
    setup_intro:
      "Create the owner account. The one-time setup code is shown on the device's console (or run camera-app setup-code there).",
    setup_code: "Setup code",
    setup_button: "Create the owner account",
    setup_done: "The owner account is ready. Welcome!",
    password_new: "New password (at least 10 characters)",
    nav_events: "Events",
    nav_live: "Live",
    nav_streaming: "Streaming",
    nav_viewers: "Viewers",
    nav_masks: "Masks",
    nav_audit: "Audit log",
    nav_settings: "Settings",
    nav_account: "Account",
    switch_language: "中文",
    switch_language_label: "切换到中文",
    link_ended:
      "Your viewing through this link has ended. To watch again, open the shop's link or scan its QR code again.",
    invite_code_open: "I have an invite code",
    invite_code_label: "Invite code (from your invitation card)",
    invite_code_go: "Continue",
  },
  zh: {
    setup_heading: "设置这台摄像头",
    setup_intro: "创建主人账户。一次性设置码显示在设备的控制台上（或在设备上运行 camera-app setup-code）。",
    setup_code: "设置码",
    setup_button: "创建主人账户",
    setup_done: "主人账户已创建，欢迎使用！",
    password_new: "新密码（至少 10 个字符）",
    nav_events: "事件",
    nav_live: "实时",
    nav_streaming: "直播设置",
    nav_viewers: "观看者",
    nav_masks: "遮挡区域",
    nav_audit: "审计日志",
    nav_settings: "设置",
    nav_account: "账户",
    switch_language: "English",
    switch_language_label: "Switch to English",
    link_ended: "通过此链接的观看已结束。如需再次观看，请重新打开商户的链接或扫描其二维码。",
    invite_code_open: "我有邀请码",
    invite_code_label: "邀请码（见邀请卡）",
    invite_code_go: "继续",
  },
});

/** The screens, in menu order, and who sees each. */
const SCREENS = [
  { name: "events", label: "nav_events", page: events, roles: ["owner", "family"] },
  { name: "live", label: "nav_live", page: live, roles: ["owner", "family", "parent", "public"] },
  { name: "streaming", label: "nav_streaming", page: streaming, roles: ["owner"] },
  { name: "viewers", label: "nav_viewers", page: viewers, roles: ["owner"] },
  { name: "masks", label: "nav_masks", page: masks, roles: ["owner"] },
  { name: "audit", label: "nav_audit", page: audit, roles: ["owner"] },
  { name: "settings", label: "nav_settings", page: settings, roles: ["owner"] },
  { name: "account", label: "nav_account", page: settings, roles: ["family", "parent"] },
];

const $ = (id) => document.getElementById(id);
const ui = {
  nav: $("nav"),
  view: $("view"),
  notice: $("notice"),
  error: $("error"),
  who: $("who"),
  logout: $("logout"),
  lang: $("lang"),
};

let me = null; // GET /api/me of the logged-in user
let cleanup = null; // the current screen's
let rendering = 0; // a newer render wins over a slower older one

/** Says something to the user (a text key or words), or clears it. */
export function say(text) {
  ui.notice.textContent = text || "";
}

/** Shows an error (words), or clears it. */
export function fail(text) {
  ui.error.textContent = text || "";
}

/** Words for a failed call: the API's reason, or that the device cannot be reached. */
export function describe(error) {
  return error instanceof ApiError ? error.reason : t("network_error");
}

/** The last resort for a failed call: a lost session goes back to the login form. */
export function handleFailure(error) {
  if (error instanceof ApiError && error.status === 401 && me) {
    if (me.role === "public") {
      showLinkEnded();
      return;
    }
    me = null;
    say(t("session_over"));
    showSignedOut();
    return;
  }
  console.info("call failed", error);
  fail(describe(error));
}

function visibleScreens() {
  return me ? SCREENS.filter((s) => s.roles.includes(me.role) && shown(s)) : [];
}

function shown(screen) {
  // a family member sees Events only for the cameras the owner shared recordings of
  if (screen.name === "events" && me.role === "family") {
    return (me.recordings ?? []).length > 0;
  }
  return true;
}

function currentScreen() {
  const name = window.location.hash.match(/^#\/([\w-]+)/)?.[1];
  const screens = visibleScreens();
  return screens.find((s) => s.name === name) ?? screens[0];
}

function drawNav(active) {
  const screens = visibleScreens();
  ui.nav.hidden = screens.length < 2;
  ui.nav.replaceChildren(
    ...screens.map((s) =>
      h(
        "a",
        {
          href: `#/${s.name}`,
          testid: `nav-${s.name}`,
          "aria-current": s === active ? "page" : false,
        },
        t(s.label),
      ),
    ),
  );
}

async function render() {
  const token = ++rendering;
  if (cleanup) {
    const done = cleanup;
    cleanup = null;
    await done();
  }
  if (token !== rendering) return;
  translatePage();
  ui.lang.textContent = t("switch_language");
  ui.lang.setAttribute("aria-label", t("switch_language_label"));
  if (!me) return;
  const screen = currentScreen();
  drawNav(screen);
  const root = h("div", { class: `screen screen-${screen.name}`, testid: `screen-${screen.name}` });
  ui.view.replaceChildren(root);
  try {
    const result = await screen.page.render(root, context);
    if (token === rendering) cleanup = typeof result === "function" ? result : null;
    else if (typeof result === "function") await result();
  } catch (error) {
    handleFailure(error);
  }
}

/** What every screen gets. */
const context = {
  get me() {
    return me;
  },
  say,
  fail,
  describe,
  handleFailure,
  refreshMe: async () => {
    me = await getJson("/api/me");
    return me;
  },
  rerender: () => render(),
};

async function showSignedIn() {
  me = await getJson("/api/me");
  rememberPublic(me.role === "public");
  ui.who.textContent =
    me.role === "public" ? t("public_viewer") : t("logged_in_as", { name: me.username });
  ui.logout.hidden = false;
  await render();
}

/** A public viewer has no account: when their link's session ends they are told so, and are
 * never shown a password form (the browser remembers it came through a link, for this tab). */
function showLinkEnded(text = t("link_ended")) {
  me = null;
  if (cleanup) {
    const done = cleanup;
    cleanup = null;
    Promise.resolve(done()).catch(() => {});
  }
  ui.nav.hidden = true;
  ui.who.textContent = "";
  ui.logout.hidden = true;
  say("");
  ui.view.replaceChildren(h("p", { class: "card", testid: "link-ended" }, text));
}

function rememberPublic(value) {
  try {
    if (value) sessionStorage.setItem("camera.public", "1");
    else sessionStorage.removeItem("camera.public");
  } catch {
    // storage disabled: a returning public viewer then sees the login form
  }
}

function wasPublic() {
  try {
    return sessionStorage.getItem("camera.public") === "1";
  } catch {
    return false;
  }
}

function showSignedOut() {
  if (wasPublic()) {
    showLinkEnded();
    return;
  }
  me = null;
  if (cleanup) {
    const done = cleanup;
    cleanup = null;
    Promise.resolve(done()).catch(() => {});
  }
  ui.nav.hidden = true;
  ui.who.textContent = "";
  ui.logout.hidden = true;
  getJson("/api/health")
    .then((health) => (health.setup_needed ? showSetup() : showLogin()))
    .catch(() => showLogin());
}

function showLogin() {
  const username = h("input", {
    name: "username",
    autocomplete: "username",
    required: true,
    maxlength: 64,
    autocapitalize: "none",
    spellcheck: "false",
  });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    maxlength: 256,
  });
  const submit = h("button", { type: "submit" }, t("login"));
  const form = h(
    "form",
    { id: "login", testid: "login-form" },
    h("h2", {}, t("login_heading")),
    field(t("username"), username),
    field(t("password"), password),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fail("");
    say("");
    try {
      await postJson("/api/login", { username: username.value, password: password.value });
      password.value = "";
      await showSignedIn();
    } catch (error) {
      password.value = "";
      if (error instanceof ApiError && (error.status === 401 || error.status === 422)) {
        fail(t("login_failed"));
      } else if (error instanceof ApiError && error.status === 429) {
        fail(t("too_many_attempts", { seconds: error.retryAfter ?? "?" }));
      } else {
        fail(describe(error));
      }
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  ui.view.replaceChildren(form, inviteCodeForm());
  username.focus();
}

/** For a code typed from a printed invitation card: the same join page as the card's link. */
function inviteCodeForm() {
  const code = h("input", { required: true, maxlength: 64, autocomplete: "off", autocapitalize: "none", spellcheck: "false", testid: "invite-code" });
  const form = h("form", { testid: "invite-code-form" }, field(t("invite_code_label"), code), h("button", { type: "submit" }, t("invite_code_go")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    fail("");
    join.render(ui.view, { ...context, done: showSignedIn, code: code.value.replace(/\s+/g, "") });
  });
  return h("details", { class: "card" }, h("summary", {}, t("invite_code_open")), form);
}

function showSetup() {
  const code = h("input", { name: "code", required: true, autocomplete: "off", maxlength: 64 });
  const username = h("input", { name: "username", required: true, maxlength: 64, value: "owner" });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "new-password",
    required: true,
    minlength: 10,
    maxlength: 256,
  });
  const submit = h("button", { type: "submit" }, t("setup_button"));
  const form = h(
    "form",
    { id: "setup", testid: "setup-form" },
    h("h2", {}, t("setup_heading")),
    h("p", {}, t("setup_intro")),
    field(t("setup_code"), code),
    field(t("username"), username),
    field(t("password_new"), password),
    submit,
  );
  // a second press while the first is being checked (argon2: a second or two on a Pi) would
  // meet "an owner exists already" and hide that the first one worked
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fail("");
    try {
      await postJson("/api/setup", {
        code: code.value.trim(),
        username: username.value,
        password: password.value,
      });
      await postJson("/api/login", { username: username.value, password: password.value });
      password.value = "";
      say(t("setup_done"));
      await showSignedIn();
    } catch (error) {
      fail(describe(error));
    } finally {
      submit.disabled = false;
    }
  });
  ui.view.replaceChildren(form);
  code.focus();
}

/** A public viewing link carries its token in the fragment (never sent to any server):
 * `https://device/#link=TOKEN`. It is exchanged for a session and removed from the address. */
async function openPublicLink(fragment) {
  const link = fragment.get("link");
  history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    await postJson("/api/public/login", { link });
    return true;
  } catch (error) {
    const refused = error instanceof ApiError && [401, 422].includes(error.status);
    if (refused) showLinkEnded(t("link_failed"));
    else fail(describe(error));
    return false;
  }
}

ui.logout.addEventListener("click", async () => {
  try {
    await request("POST", "/api/logout");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      fail(describe(error));
      return;
    }
  }
  fail("");
  if (me?.role === "public") {
    showLinkEnded();
    return;
  }
  say(t("logged_out"));
  showSignedOut();
});

ui.lang.addEventListener("click", async () => {
  setLanguage(LANG === "zh" ? "en" : "zh");
  if (me) {
    ui.who.textContent =
      me.role === "public" ? t("public_viewer") : t("logged_in_as", { name: me.username });
    await render();
  } else {
    translatePage();
    ui.lang.textContent = t("switch_language");
    showSignedOut();
  }
});

window.addEventListener("hashchange", () => {
  if (me && window.location.hash.startsWith("#/")) {
    fail("");
    say("");
    render();
  }
});

async function start() {
  translatePage();
  ui.lang.textContent = t("switch_language");
  ui.lang.setAttribute("aria-label", t("switch_language_label"));
  registerServiceWorker();
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  if (fragment.has("join")) {
    join.render(ui.view, { ...context, done: showSignedIn, code: fragment.get("join") });
    return;
  }
  if (fragment.has("link") && !(await openPublicLink(fragment))) {
    return; // the refusal is shown; a link's viewer has no password to type
  }
  try {
    await showSignedIn();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) fail(describe(error));
    showSignedOut();
  }
}

/** Installs the service worker that caches the app shell (never recordings or API answers).
 * Under Trusted Types its script URL must come from a policy; this one allows that file only. */
function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  let url = "/sw.js";
  if (window.trustedTypes) {
    const policy = window.trustedTypes.createPolicy("app-sw", {
      createScriptURL: (value) => {
        if (value !== "/sw.js") throw new TypeError("only /sw.js");
        return value;
      },
    });
    url = policy.createScriptURL("/sw.js");
  }
  navigator.serviceWorker.register(url, { scope: "/" }).catch((error) => {
    console.info("no offline app shell:", error.message);
  });
}

start();
