// Settings: software and model updates (running and announced versions, with the earliest date
// an announced one may activate), the device's health, API tokens for integrations, and the
// account (change the password, see and end one's own sessions). Family members and parents
// see only their account.

import { ApiError, getJson, postJson } from "./api.js";
import { add, button, card, field, fill, formatDateTime, formatDuration, formatMb, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    settings_heading: "Settings",
    account_heading: "Your account",
    updates_heading: "Software and models",
    updates_running: "Running: version {version}",
    updates_models: "Face-detection models",
    updates_announced: "Announced: version {version}, changes {changes}. It cannot activate before {date}.",
    updates_none: "No update is announced.",
    updates_last: "Last update: {result} {version} ({date}) {reason}",
    tokens_heading: "API tokens (integrations)",
    tokens_intro:
      "A token lets an integration such as Home Assistant read events or health without your password. Give it only the scopes it needs; it is shown once.",
    token_name: "What it is for",
    token_scopes: "It may",
    "scope_events:read": "read events and snapshots",
    "scope_device:read": "read the device's health",
    "scope_monitoring:arm": "arm and disarm monitoring",
    token_make: "Make a token",
    token_made: "The token is shown only now. Copy it into the integration:",
    token_revoke: "Revoke",
    token_revoked: "The token was revoked.",
    token_last_used: "last used {date}",
    token_never_used: "never used",
    tokens_none: "No token.",
    password_heading: "Change your password",
    password_current: "Current password",
    password_change: "Change the password",
    password_changed: "The password is changed. Your other sessions were ended.",
    sessions_heading: "Where you are logged in",
    session_this: "this browser",
    session_started: "since {date}",
    session_end_own: "Log out there",
    session_ended_own: "That session was ended.",
  },
  zh: {
    settings_heading: "设置",
    account_heading: "您的账户",
    updates_heading: "软件与模型",
    updates_running: "当前版本：{version}",
    updates_models: "人脸检测模型",
    updates_announced: "已预告：版本 {version}，变更 {changes}。最早 {date} 之后才能启用。",
    updates_none: "没有预告的更新。",
    updates_last: "上次更新：{result} {version}（{date}）{reason}",
    tokens_heading: "API 令牌（集成）",
    tokens_intro: "令牌让 Home Assistant 等集成无需您的密码即可读取事件或设备状态。只授予所需的权限；令牌只显示一次。",
    token_name: "用途",
    token_scopes: "允许",
    "scope_events:read": "读取事件和快照",
    "scope_device:read": "读取设备状态",
    "scope_monitoring:arm": "布防和撤防",
    token_make: "生成令牌",
    token_made: "令牌只显示这一次，请复制到集成中：",
    token_revoke: "撤销",
    token_revoked: "令牌已撤销。",
    token_last_used: "上次使用 {date}",
    token_never_used: "从未使用",
    tokens_none: "没有令牌。",
    password_heading: "修改密码",
    password_current: "当前密码",
    password_change: "修改密码",
    password_changed: "密码已修改，您的其他会话已结束。",
    sessions_heading: "登录的设备",
    session_this: "当前浏览器",
    session_started: "自 {date}",
    session_end_own: "在该设备上退出",
    session_ended_own: "该会话已结束。",
  },
});

export async function render(root, ctx) {
  const owner = ctx.me.role === "owner";
  const sessions = h("ul", { class: "plain", testid: "own-sessions" });
  add(root, h("h2", {}, owner ? t("settings_heading") : t("account_heading")));
  const columns = h("div", { class: "columns" });
  const main = h("div", {});
  const side = h("aside", {});
  add(columns, main, side);
  add(root, columns);

  if (owner) {
    const [update, health, tokens] = await Promise.all([
      getJson("/api/update"),
      getJson("/api/device/health"),
      getJson("/api/tokens"),
    ]);
    add(main, updatesCard(update), tokensCard(tokens));
    add(side, deviceCard(health));
  }
  add(main, passwordCard());
  add(side, card(t("sessions_heading"), sessions));

  async function refreshSessions() {
    const list = await getJson("/api/account/sessions");
    const items = list.sessions ?? list;
    fill(
      sessions,
      items.map((s) =>
        h(
          "li",
          { testid: "own-session" },
          s.current ? h("strong", {}, t("session_this")) : h("span", {}, s.user_agent ?? s.id),
          " · ",
          t("session_started", { date: formatDateTime(s.created_at) }),
          " ",
          s.current
            ? null
            : button(t("session_end_own"), async () => {
                await postJson(`/api/account/sessions/${encodeURIComponent(s.id)}/end`, {});
                ctx.say(t("session_ended_own"));
                await refreshSessions();
              }),
        ),
      ),
    );
  }

  function passwordCard() {
    const current = h("input", { type: "password", autocomplete: "current-password", required: true, maxlength: 256 });
    const next = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 12, maxlength: 256 });
    const error = h("p", { class: "error", role: "alert" });
    const form = h(
      "form",
      { testid: "password-form" },
      field(t("password_current"), current),
      field(t("password_new"), next),
      error,
      h("button", { type: "submit" }, t("password_change")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await postJson("/api/account/password", { current: current.value, new: next.value });
        form.reset();
        ctx.say(t("password_changed"));
        await refreshSessions();
      } catch (failure) {
        if (failure instanceof ApiError && failure.status !== 401) error.textContent = failure.reason;
        else ctx.handleFailure(failure);
      }
    });
    return card(t("password_heading"), form);
  }

  function updatesCard(update) {
    const models = Object.entries(update.current_models ?? {}).map(([name, m]) =>
      h("li", {}, `${name}: ${m.version} (sha256 ${m.sha256.slice(0, 12)}…)`),
    );
    const pending = update.pending;
    const last = update.last_result;
    return card(
      t("updates_heading"),
      h("p", { testid: "update-running" }, t("updates_running", { version: update.current_version })),
      h("p", {}, t("updates_models")),
      h("ul", {}, models),
      h(
        "p",
        { testid: "update-pending" },
        pending
          ? t("updates_announced", {
              version: pending.version,
              changes: pending.changes_behaviour.join(", ") || "—",
              date: formatDateTime(Date.parse(pending.not_before) / 1000),
            })
          : t("updates_none"),
      ),
      last
        ? h(
            "p",
            { class: "muted" },
            t("updates_last", {
              result: last.result,
              version: last.version ?? "",
              date: formatDateTime(Date.parse(last.at) / 1000),
              reason: last.reason ?? "",
            }),
          )
        : null,
    );
  }

  function deviceCard(health) {
    return card(
      t("health_heading"),
      h(
        "dl",
        { class: "facts", testid: "device-health" },
        [
          [t("health_fps"), `${health.fps} fps`],
          [t("health_drops"), String(health.dropped_frames)],
          [t("health_recordings"), `${formatMb(health.recordings_mb)} / ${formatMb(health.quota_mb)}`],
          [t("health_disk"), formatMb(health.disk_free_mb)],
          [t("health_temp"), health.temperature_c === null ? "—" : `${health.temperature_c} °C`],
          [t("health_uptime"), formatDuration(health.uptime_s)],
        ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
      ),
    );
  }

  function tokensCard(tokens) {
    const list = h("ul", { class: "plain", testid: "token-list" });
    const shown = h("div", {});
    const draw = (items) =>
      fill(
        list,
        items.length
          ? items.map((tok) =>
              h(
                "li",
                { testid: "token" },
                h("strong", {}, tok.name),
                " · ",
                tok.scopes.map((s) => t(`scope_${s}`)).join(", "),
                " · ",
                tok.last_used_at ? t("token_last_used", { date: formatDateTime(tok.last_used_at) }) : t("token_never_used"),
                " ",
                button(t("token_revoke"), async () => {
                  await postJson(`/api/tokens/${encodeURIComponent(tok.id)}/revoke`, {});
                  ctx.say(t("token_revoked"));
                  draw((await getJson("/api/tokens")).filter((x) => !x.revoked_at));
                }, { class: "danger" }),
              ),
            )
          : h("li", { class: "muted" }, t("tokens_none")),
      );
    draw(tokens.filter((x) => !x.revoked_at));
    const name = h("input", { required: true, maxlength: 64, value: "Home Assistant" });
    const scopes = h(
      "div",
      {},
      ["events:read", "device:read", "monitoring:arm"].map((s) =>
        h("label", { class: "day" }, h("input", { type: "checkbox", value: s, checked: s === "events:read" }), t(`scope_${s}`)),
      ),
    );
    const form = h(
      "form",
      { testid: "token-form" },
      field(t("token_name"), name),
      h("div", { class: "field" }, h("span", { class: "field-label" }, t("token_scopes")), scopes),
      h("button", { type: "submit" }, t("token_make")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = [...scopes.querySelectorAll("input:checked")].map((b) => b.value);
      const made = await postJson("/api/tokens", { name: name.value, scopes: chosen });
      fill(shown, h("p", {}, t("token_made")), h("p", { class: "secret", testid: "token-secret" }, made.token));
      draw((await getJson("/api/tokens")).filter((x) => !x.revoked_at));
    });
    return card(t("tokens_heading"), h("p", { class: "muted" }, t("tokens_intro")), shown, list, form);
  }

  await refreshSessions().catch((error) => {
    // an older device without the sessions route: the rest of the page still works
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  });
  return null;
}
