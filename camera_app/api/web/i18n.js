// The page's texts in English and Chinese. The language is the browser's (the first Chinese or
// English tag it prefers) until the user picks one, which is kept in localStorage. Each page
// module adds its own texts with addTexts(), so the words sit beside the code that shows them.
// Refusal reasons come from the server, which answers in the language the page asks for with
// Accept-Language.

const TEXTS = { en: {}, zh: {} };

/** Adds a module's texts: `addTexts({ en: {...}, zh: {...} })`; every key needs both. */
export function addTexts(texts) {
  for (const key of Object.keys(texts.en)) {
    if (!(key in texts.zh)) console.warn(`i18n: no Chinese text for ${key}`);
  }
  Object.assign(TEXTS.en, texts.en);
  Object.assign(TEXTS.zh, texts.zh);
}

addTexts({
  en: {
    title: "Camera",
    login_heading: "Log in",
    username: "User name",
    password: "Password",
    login: "Log in",
    logout: "Log out",
    logged_in_as: "Logged in as {name}",
    public_viewer: "Public viewer",
    logged_out: "You are logged out.",
    login_failed: "Wrong user name or password.",
    link_failed: "This viewing link is unknown or was revoked.",
    too_many_attempts: "Too many failed attempts. Try again in {seconds} s.",
    session_over: "Your session has ended. Please log in again.",
    network_error: "The camera cannot be reached. Check the connection and try again.",
  },
  zh: {
    title: "摄像头",
    login_heading: "登录",
    username: "用户名",
    password: "密码",
    login: "登录",
    logout: "退出登录",
    logged_in_as: "已登录：{name}",
    public_viewer: "公开观看",
    logged_out: "您已退出登录。",
    login_failed: "用户名或密码错误。",
    link_failed: "此观看链接无效或已被撤销。",
    too_many_attempts: "失败次数过多，请 {seconds} 秒后再试。",
    session_over: "登录已失效，请重新登录。",
    network_error: "无法连接到摄像头，请检查网络后重试。",
  },
});

/** "zh" when the first Chinese or English tag in `tags` is Chinese, else "en". */
export function pickLanguage(tags) {
  for (const tag of tags) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith("zh")) return "zh";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

const STORED_KEY = "camera.lang";

function storedLanguage() {
  try {
    const value = localStorage.getItem(STORED_KEY);
    return value === "zh" || value === "en" ? value : null;
  } catch {
    return null; // storage disabled: follow the browser
  }
}

export let LANG =
  storedLanguage() ??
  pickLanguage(
    navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language],
  );

/** The Accept-Language the page sends, so the server's reasons match the page. */
export let ACCEPT_LANGUAGE = LANG === "zh" ? "zh-CN" : "en";

/** Switches the language (and remembers the choice); the caller re-renders. */
export function setLanguage(lang) {
  LANG = lang === "zh" ? "zh" : "en";
  ACCEPT_LANGUAGE = LANG === "zh" ? "zh-CN" : "en";
  try {
    localStorage.setItem(STORED_KEY, LANG);
  } catch {
    // not kept; this page still switches
  }
}

/** The text for `key`, with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = TEXTS[LANG][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Fills every element marked `data-text="key"` and sets the document's language. */
export function translatePage(root = document) {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const element of root.querySelectorAll("[data-text]")) {
    element.textContent = t(element.dataset.text);
  }
}
