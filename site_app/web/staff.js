// The site's staff pages (a kindergarten's office, often on a phone): parents and their grants
// (rooms, weekly hours, last day) with where each grant stands on the devices that film its
// rooms; the rooms and devices; the site's own audit log and the devices' trails, each with its
// hash chain's verdict. Every change goes through the site's API, which checks it and audits it;
// a refusal is shown beside the form that caused it and nothing changes.

import { ApiError, getJson, postJson, request } from "./api.js";
import { add, button, dayKey, field, fill, formatDateTime, formatDay, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";
import { describeSchedule, scheduleEditor } from "./schedule.js";
import { shareButtons } from "./share.js";

addTexts({
  en: {
    staff_tab_parents: "Parents",
    staff_tab_devices: "Rooms & devices",
    staff_tab_audit: "Audit",
    staff_import: "Import a class list",
    staff_add_heading: "Add an account",
    staff_new_username: "User name",
    staff_new_password: "First password (at least 10 characters; they change it later)",
    staff_new_role: "Role",
    staff_role_parent: "Parent",
    staff_role_staff: "Staff",
    staff_add: "Add",
    staff_added: "Account {name} added. Now give them a room.",
    staff_parents_heading: "Parents",
    staff_parents_none: "No parent account yet.",
    staff_no_grant: "No room granted.",
    staff_rooms: "Rooms: {rooms}",
    staff_hours: "Hours: {hours}",
    staff_until: "Until {date}",
    staff_terms_yes: "Viewing terms accepted",
    staff_terms_no: "Has not accepted the viewing terms yet (their grant waits for that)",
    staff_grant_held: "{device}: held",
    staff_grant_refused: "{device}: refused ({reason})",
    staff_grant_pending: "{device}: sent, not confirmed yet",
    staff_grant_waiting_terms: "{device}: waits for the viewing terms",
    staff_edit: "Edit grant",
    staff_grant_rooms: "Rooms",
    staff_grant_hours: "Viewing hours",
    staff_grant_until: "Last day",
    staff_save: "Save",
    staff_cancel: "Cancel",
    staff_saved: "Grant saved for {name}.",
    staff_withdraw: "Withdraw grant",
    staff_withdrawn: "Grant of {name} withdrawn.",
    staff_disable: "Disable account",
    staff_disable_confirm: "Disable {name}? Their logins end and their grant is withdrawn.",
    staff_disabled: "Account {name} disabled.",
    staff_disabled_heading: "Disabled accounts ({n})",
    staff_disabled_on: "disabled {date}",
    staff_enable: "Enable again",
    staff_enabled: "Account {name} enabled again: their old password works. Give them a room if they need one.",
    staff_staff_heading: "Staff",
    staff_reset: "Password reset link",
    staff_reset_made: "A link for {name} to set a new password. It works once, until {date}; a newer link replaces it. Send it to them only.",
    staff_reset_share_text: "Set a new password for {name}",
    staff_error_unknown_room: "No device films this room: {reason}",
    staff_error_expires_in_past: "The last day must be in the future.",
    staff_error_invalid_schedule: "The viewing hours are not valid: {reason}",
    staff_error_no_rooms: "Pick at least one room.",
    staff_error_invalid_account: "The account was not added: {reason}",
    staff_error_other: "Not done: {reason}",
    staff_devices_none: "No device has connected to the site yet.",
    staff_online: "online",
    staff_offline: "offline",
    staff_cameras: "Cameras",
    staff_rooms_heading: "Rooms",
    staff_pause: "Pause viewing",
    staff_resume: "Resume viewing",
    staff_pause_confirm: "Stop every parent watching {room} now? They cannot watch it until you resume.",
    staff_pause_confirm_timed: "Stop every parent watching {room} now? They can watch it again at {time}, or when you resume.",
    staff_pause_length: "How long",
    staff_pause_until_resumed: "Until I resume",
    staff_pause_minutes: "{n} minutes",
    staff_pause_hours: "{n} hours",
    staff_paused_until: "Paused by {name} until {time}: no parent can watch it until then.",
    staff_paused: "Viewing of {room} paused: its parents were cut off.",
    staff_resumed: "Viewing of {room} resumed.",
    staff_paused_since: "Paused since {date} by {name}: no parent can watch it.",
    staff_grant_paused: "{device}: room paused",
    staff_error_already_paused: "This room is paused already.",
    staff_error_not_paused: "This room is not paused.",
    staff_event_site_room_paused: "Room viewing paused",
    staff_event_site_room_resumed: "Room viewing resumed",
    staff_camera_clash:
      "⚠ The camera id {id} is also used by {devices}: the relay cannot tell them apart, so nobody can watch it from the site. Rename one of them on its device.",
    staff_held_by: "Grants held: {names}",
    staff_refused_for: "Refused: {name} ({reason})",
    staff_nobody: "none",
    staff_site_log: "This site's log",
    staff_site_log_intro:
      "Accounts, grants, viewing terms, staff logins and every ticket asked of a device. Records are chained by hashes: a changed or removed record shows.",
    staff_chain_ok: "✓ Chain verified ({n} records).",
    staff_chain_broken: "✗ Chain broken: {why}",
    staff_trails: "The devices' trails",
    staff_trail_ok: "{device}: ✓ chain verified (up to record {seq})",
    staff_trail_broken: "{device}: ✗ chain broken: {why}",
    staff_all_devices: "All devices (newest first)",
    staff_older: "Older records",
    staff_filter_event: "Event",
    staff_filter_actor: "By",
    staff_filter_about: "About",
    staff_filter_all_events: "All events",
    staff_filter_everyone: "Everyone",
    staff_trail_device: "Device",
    staff_trail_parent: "About",
    staff_download_log: "Download the whole log (JSON Lines)",
    staff_no_records: "No record yet.",
    staff_event_site_account_created: "Account created",
    staff_event_site_account_disabled: "Account disabled",
    staff_event_site_account_enabled: "Account enabled again",
    staff_event_site_grant_put: "Grant saved",
    staff_event_site_grant_withdrawn: "Grant withdrawn",
    staff_event_site_terms_accepted: "Viewing terms accepted",
    staff_event_site_password_changed: "Password changed",
    staff_event_site_ticket_asked: "Watch ticket asked of a device",
    staff_event_login_ok: "Logged in",
    staff_event_site_invite_created: "Invite made",
    staff_event_site_invites_imported: "Class list imported",
    staff_event_site_invite_withdrawn: "Invite withdrawn",
    staff_event_site_invite_redeemed: "Joined with an invite",
    staff_event_site_password_reset_issued: "Password reset link made",
    staff_event_site_password_reset: "New password set with a reset link",
  },
  zh: {
    staff_tab_parents: "家长",
    staff_tab_devices: "教室与设备",
    staff_tab_audit: "审计",
    staff_import: "导入班级名单",
    staff_add_heading: "添加账号",
    staff_new_username: "用户名",
    staff_new_password: "初始密码（至少 10 个字符，之后由本人修改）",
    staff_new_role: "角色",
    staff_role_parent: "家长",
    staff_role_staff: "工作人员",
    staff_add: "添加",
    staff_added: "已添加账号 {name}，请为其开通教室。",
    staff_parents_heading: "家长",
    staff_parents_none: "还没有家长账号。",
    staff_no_grant: "尚未开通教室。",
    staff_rooms: "教室：{rooms}",
    staff_hours: "时段：{hours}",
    staff_until: "截止：{date}",
    staff_terms_yes: "已同意观看条款",
    staff_terms_no: "尚未同意观看条款（同意后授权才会发送到设备）",
    staff_grant_held: "{device}：已生效",
    staff_grant_refused: "{device}：被拒绝（{reason}）",
    staff_grant_pending: "{device}：已发送，尚未确认",
    staff_grant_waiting_terms: "{device}：等待家长同意观看条款",
    staff_edit: "修改授权",
    staff_grant_rooms: "教室",
    staff_grant_hours: "观看时段",
    staff_grant_until: "最后一天",
    staff_save: "保存",
    staff_cancel: "取消",
    staff_saved: "已为 {name} 保存授权。",
    staff_withdraw: "撤回授权",
    staff_withdrawn: "已撤回 {name} 的授权。",
    staff_disable: "停用账号",
    staff_disable_confirm: "停用 {name}？其登录将结束，授权将被撤回。",
    staff_disabled: "账号 {name} 已停用。",
    staff_disabled_heading: "已停用的账号（{n}）",
    staff_disabled_on: "停用于 {date}",
    staff_enable: "重新启用",
    staff_enabled: "账号 {name} 已重新启用，原密码可用。如需观看，请重新为其开通教室。",
    staff_staff_heading: "工作人员",
    staff_reset: "密码重置链接",
    staff_reset_made: "{name} 可用此链接设置新密码。仅可使用一次，有效期至 {date}；生成新链接后此链接失效。请只发给本人。",
    staff_reset_share_text: "为 {name} 设置新密码",
    staff_error_unknown_room: "没有设备拍摄该教室：{reason}",
    staff_error_expires_in_past: "最后一天必须是将来的日期。",
    staff_error_invalid_schedule: "观看时段无效：{reason}",
    staff_error_no_rooms: "请至少选择一个教室。",
    staff_error_invalid_account: "账号未添加：{reason}",
    staff_error_other: "操作未完成：{reason}",
    staff_devices_none: "还没有设备连接到本站点。",
    staff_online: "在线",
    staff_offline: "离线",
    staff_cameras: "摄像头",
    staff_rooms_heading: "教室",
    staff_pause: "暂停观看",
    staff_resume: "恢复观看",
    staff_pause_confirm: "立即停止所有家长观看 {room}？恢复之前家长无法观看。",
    staff_pause_confirm_timed: "立即停止所有家长观看 {room}？家长可在 {time} 或您恢复后再次观看。",
    staff_pause_length: "暂停时长",
    staff_pause_until_resumed: "直到我恢复",
    staff_pause_minutes: "{n} 分钟",
    staff_pause_hours: "{n} 小时",
    staff_paused_until: "由 {name} 暂停至 {time}：在此之前家长无法观看。",
    staff_paused: "已暂停 {room} 的观看，正在观看的家长已被断开。",
    staff_resumed: "已恢复 {room} 的观看。",
    staff_paused_since: "自 {date} 起由 {name} 暂停：家长无法观看。",
    staff_grant_paused: "{device}：教室已暂停",
    staff_error_already_paused: "该教室已处于暂停状态。",
    staff_error_not_paused: "该教室未暂停。",
    staff_event_site_room_paused: "暂停教室观看",
    staff_event_site_room_resumed: "恢复教室观看",
    staff_camera_clash: "⚠ 摄像头编号 {id} 也被 {devices} 使用：中继无法区分它们，因此无法通过站点观看。请在其中一台设备上修改编号。",
    staff_held_by: "已生效的授权：{names}",
    staff_refused_for: "被拒绝：{name}（{reason}）",
    staff_nobody: "无",
    staff_site_log: "本站点日志",
    staff_site_log_intro: "账号、授权、观看条款、工作人员登录以及向设备申请的每张观看票据。记录以哈希链相连，任何修改或删除都会被发现。",
    staff_chain_ok: "✓ 哈希链已验证（共 {n} 条记录）。",
    staff_chain_broken: "✗ 哈希链已损坏：{why}",
    staff_trails: "各设备的审计记录",
    staff_trail_ok: "{device}：✓ 哈希链已验证（至第 {seq} 条）",
    staff_trail_broken: "{device}：✗ 哈希链已损坏：{why}",
    staff_all_devices: "全部设备（最新在前）",
    staff_older: "更早的记录",
    staff_filter_event: "事件",
    staff_filter_actor: "操作者",
    staff_filter_about: "涉及账号",
    staff_filter_all_events: "全部事件",
    staff_filter_everyone: "所有人",
    staff_trail_device: "设备",
    staff_trail_parent: "相关家长",
    staff_download_log: "下载完整日志（JSON Lines）",
    staff_no_records: "还没有记录。",
    staff_event_site_account_created: "创建账号",
    staff_event_site_account_disabled: "停用账号",
    staff_event_site_account_enabled: "重新启用账号",
    staff_event_site_grant_put: "保存授权",
    staff_event_site_grant_withdrawn: "撤回授权",
    staff_event_site_terms_accepted: "同意观看条款",
    staff_event_site_password_changed: "修改了密码",
    staff_event_site_ticket_asked: "向设备申请观看票据",
    staff_event_login_ok: "登录",
    staff_event_site_invite_created: "生成邀请",
    staff_event_site_invites_imported: "导入班级名单",
    staff_event_site_invite_withdrawn: "撤回邀请",
    staff_event_site_invite_redeemed: "通过邀请加入",
    staff_event_site_password_reset_issued: "生成密码重置链接",
    staff_event_site_password_reset: "通过重置链接设置了新密码",
  },
});

/** The words for an API refusal: the code's own text when there is one, else the reason. */
function problem(error) {
  if (!(error instanceof ApiError)) return t("network_error");
  const key = `staff_error_${error.code}`;
  const text = t(key, { reason: error.reason });
  return text === key ? t("staff_error_other", { reason: error.reason }) : text;
}

/** An alert line for a form's refusals and a status line for what it did. */
function feedback() {
  const alert = h("p", { role: "alert", class: "error" });
  const done = h("p", { role: "status", class: "done" });
  return {
    nodes: [alert, done],
    failed(error) {
      done.textContent = "";
      alert.textContent = problem(error);
    },
    ok(text) {
      alert.textContent = "";
      done.textContent = text;
    },
  };
}

// --- parents -----------------------------------------------------------------------------------

function grantEditor(account, rooms, onSaved, onCancel) {
  const grant = account.grant;
  const picked = new Set(grant?.rooms ?? []);
  const boxes = rooms.map((room) =>
    h("label", { class: "day" }, h("input", { type: "checkbox", value: room, checked: picked.has(room) }), room),
  );
  const hours = scheduleEditor(grant?.schedule ?? null, { testid: "grant-hours" });
  const lastDay = grant ? dayKey(grant.expires_at) : dayKey(Date.now() / 1000 + 180 * 86400);
  const until = h("input", { type: "date", value: lastDay, required: true, testid: "grant-until" });
  const status = feedback();
  const form = h(
    "form",
    { class: "grant-editor", testid: "grant-editor" },
    h("fieldset", { class: "rooms" }, h("legend", {}, t("staff_grant_rooms")), boxes),
    h("div", {}, h("span", { class: "field-label" }, t("staff_grant_hours")), hours.element),
    field(t("staff_grant_until"), until),
    h("button", { type: "submit" }, t("staff_save")),
    h("button", { type: "button", class: "link", onclick: onCancel }, t("staff_cancel")),
    status.nodes,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // the end of the last day, in this phone's time (the devices apply the hours in theirs)
    const day = until.value ? new Date(`${until.value}T23:59:59`).getTime() / 1000 : NaN;
    const body = {
      rooms: boxes.map((b) => b.firstChild).filter((b) => b.checked).map((b) => b.value),
      schedule: hours.value(),
      expires_at: Number.isFinite(day) ? day : 0,
    };
    try {
      await request("PUT", `/api/grants/${encodeURIComponent(account.id)}`, { json: body });
      await onSaved(t("staff_saved", { name: account.username }));
    } catch (error) {
      status.failed(error);
    }
  });
  return form;
}

function grantLines(account) {
  const grant = account.grant;
  if (!grant) return [h("p", { class: "muted" }, t("staff_no_grant"))];
  return [
    h("p", {}, t("staff_rooms", { rooms: grant.rooms.join(", ") })),
    h("p", {}, t("staff_hours", { hours: describeSchedule(grant.schedule) })),
    h("p", {}, t("staff_until", { date: formatDay(grant.expires_at) })),
    h(
      "ul",
      { class: "on-devices", testid: "grant-devices" },
      account.devices.map((d) =>
        h(
          "li",
          { class: `grant-${d.state}`, dataset: { device: d.device, state: d.state } },
          t(`staff_grant_${d.state}`, { device: d.device, reason: d.reason ?? "" }),
        ),
      ),
    ),
  ];
}

/** The button that makes `account` a password reset link, and where the link then shows with
 * Share and Copy (`status` says what went wrong): [button, where]. */
function resetLink(account, status) {
  const shown = h("div", { class: "reset-link", testid: "reset-link" });
  const make = button(t("staff_reset"), async () => {
    try {
      const reset = await postJson(`/api/accounts/${encodeURIComponent(account.id)}/reset`, {});
      const url = new URL(reset.reset_path, window.location.origin).href;
      const copied = h("span", { role: "status" });
      const text = t("staff_reset_share_text", { name: account.username });
      fill(
        shown,
        h("p", {}, t("staff_reset_made", { name: account.username, date: formatDateTime(reset.expires_at) })),
        h("p", { class: "secret" }, url),
        shareButtons({ title: text, text, url }, (said) => {
          copied.textContent = said;
        }),
        copied,
      );
      status.ok("");
    } catch (error) {
      status.failed(error);
    }
  });
  return [make, shown];
}

/** The disabled accounts, folded away, each with Enable (no grant comes back with it). */
function disabledList(disabled, reload) {
  const status = feedback();
  return h(
    "details",
    { class: "disabled-accounts", testid: "disabled-accounts" },
    h("summary", {}, t("staff_disabled_heading", { n: disabled.length })),
    h(
      "ul",
      {},
      disabled.map((account) =>
        h(
          "li",
          { testid: "disabled-account", dataset: { username: account.username } },
          h(
            "div",
            { class: "record-head" },
            h("span", {}, `${account.username} · ${t(`staff_role_${account.role}`)} · ${t("staff_disabled_on", { date: formatDay(account.disabled_at) })}`),
            button(t("staff_enable"), async () => {
              try {
                await postJson(`/api/accounts/${encodeURIComponent(account.id)}/enable`, {});
                await reload(t("staff_enabled", { name: account.username }));
              } catch (error) {
                status.failed(error);
              }
            }),
          ),
        ),
      ),
    ),
    status.nodes,
  );
}

async function renderParents(root) {
  const [accounts, rooms, disabled] = await Promise.all([
    getJson("/api/accounts"),
    getJson("/api/rooms"),
    getJson("/api/accounts/disabled"),
  ]);
  const roomNames = Object.keys(rooms);
  const pageStatus = feedback();
  const reload = async (text) => {
    await renderParents(root);
    if (text) root.querySelector("[role=status].page-status").textContent = text;
  };

  const username = h("input", { name: "new-username", autocomplete: "off", autocapitalize: "none", required: true });
  const password = h("input", { name: "new-password", type: "password", autocomplete: "new-password", required: true });
  const role = h(
    "select",
    { name: "new-role" },
    h("option", { value: "parent" }, t("staff_role_parent")),
    h("option", { value: "staff" }, t("staff_role_staff")),
  );
  const addStatus = feedback();
  const addForm = h(
    "form",
    { class: "card", testid: "add-account" },
    h("h3", {}, t("staff_add_heading")),
    field(t("staff_new_username"), username),
    field(t("staff_new_password"), password),
    field(t("staff_new_role"), role),
    h("button", { type: "submit" }, t("staff_add")),
    addStatus.nodes,
  );
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await postJson("/api/accounts", {
        username: username.value.trim(),
        password: password.value,
        role: role.value,
      });
      await reload(t("staff_added", { name: made.username }));
    } catch (error) {
      addStatus.failed(error);
    }
  });

  const parents = accounts.filter((a) => a.role === "parent");
  const cards = parents.map((account) => {
    const body = h("div", {}, grantLines(account));
    const status = feedback();
    const actions = h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            actions.hidden = true;
            fill(
              body,
              grantEditor(account, roomNames, reload, () => {
                actions.hidden = false;
                fill(body, grantLines(account));
              }),
            );
          },
        },
        t("staff_edit"),
      ),
      account.grant
        ? button(t("staff_withdraw"), async () => {
            try {
              await request("DELETE", `/api/grants/${encodeURIComponent(account.id)}`);
              await reload(t("staff_withdrawn", { name: account.username }));
            } catch (error) {
              status.failed(error);
            }
          })
        : null,
      button(t("staff_disable"), async () => {
        if (!window.confirm(t("staff_disable_confirm", { name: account.username }))) return;
        try {
          await postJson(`/api/accounts/${encodeURIComponent(account.id)}/disable`, {});
          await reload(t("staff_disabled", { name: account.username }));
        } catch (error) {
          status.failed(error);
        }
      }, { class: "danger" }),
    );
    const [reset, resetShown] = resetLink(account, status);
    actions.append(reset);
    return h(
      "section",
      { class: "card parent", testid: "parent", dataset: { username: account.username } },
      h("h3", {}, account.username),
      h(
        "p",
        { class: account.terms_accepted ? "ok" : "warn" },
        t(account.terms_accepted ? "staff_terms_yes" : "staff_terms_no"),
      ),
      body,
      actions,
      resetShown,
      status.nodes,
    );
  });
  const staff = accounts.filter((a) => a.role === "staff").map((account) => {
    const status = feedback();
    const [reset, resetShown] = resetLink(account, status);
    return h("li", { testid: "staff-account" }, h("div", { class: "record-head" }, h("span", {}, account.username), reset), resetShown, status.nodes);
  });
  pageStatus.nodes[1].classList.add("page-status");
  fill(
    root,
    pageStatus.nodes,
    h("h2", {}, t("staff_parents_heading")),
    cards.length ? cards : h("p", { class: "muted" }, t("staff_parents_none")),
    addForm,
    h("h3", {}, t("staff_staff_heading")),
    h("ul", { class: "staff-accounts" }, staff),
    disabled.length ? disabledList(disabled, reload) : null,
  );
}

// --- rooms and devices -------------------------------------------------------------------------

/** Pause lengths staff can pick, in minutes (null: until they resume; the default). */
const PAUSE_LENGTHS = [null, 15, 30, 60, 120];

function pauseLengthLabel(minutes) {
  if (minutes === null) return t("staff_pause_until_resumed");
  return minutes < 60 ? t("staff_pause_minutes", { n: minutes }) : t("staff_pause_hours", { n: minutes / 60 });
}

/** Each room with Pause viewing (for how long) / Resume: a pause stops every parent watching it
 * at once; a timed one ends by itself. */
async function roomPauses(reload) {
  const [rooms, paused] = await Promise.all([getJson("/api/rooms"), getJson("/api/rooms/paused")]);
  const byRoom = new Map(paused.map((p) => [p.room, p]));
  const status = feedback();
  const items = Object.keys(rooms).map((room) => {
    const pause = byRoom.get(room);
    const path = `/api/rooms/${encodeURIComponent(room)}/${pause ? "resume" : "pause"}`;
    const length = pause
      ? null
      : h(
          "select",
          { testid: "pause-length", "aria-label": t("staff_pause_length") },
          PAUSE_LENGTHS.map((m) => h("option", { value: m === null ? "" : String(m) }, pauseLengthLabel(m))),
        );
    const act = button(t(pause ? "staff_resume" : "staff_pause"), async () => {
      const minutes = length && length.value ? Number(length.value) : null;
      if (!pause) {
        const until = minutes === null ? null : formatDateTime(Date.now() / 1000 + minutes * 60);
        const asked = until === null ? t("staff_pause_confirm", { room }) : t("staff_pause_confirm_timed", { room, time: until });
        if (!window.confirm(asked)) return;
      }
      try {
        await postJson(path, pause || minutes === null ? {} : { minutes });
        await reload(t(pause ? "staff_resumed" : "staff_paused", { room }));
      } catch (error) {
        status.failed(error);
      }
    }, pause ? {} : { class: "danger" });
    return h(
      "li",
      { testid: "room", dataset: { room, paused: pause ? "yes" : "no" } },
      h(
        "div",
        { class: "record-head" },
        h("strong", {}, room),
        length,
        act,
      ),
      pause ? h("p", { class: "warn" }, pausedText(pause)) : null,
    );
  });
  return [h("h2", {}, t("staff_rooms_heading")), h("ul", { class: "rooms-paused" }, items), status.nodes];
}

function pausedText(pause) {
  if (pause.ends_at === null) {
    return t("staff_paused_since", { date: formatDateTime(pause.paused_at), name: pause.paused_by });
  }
  return t("staff_paused_until", { time: formatDateTime(pause.ends_at), name: pause.paused_by });
}

async function renderDevices(root) {
  const reload = async (text) => {
    await renderDevices(root);
    if (text) root.querySelector("[role=status].page-status").textContent = text;
  };
  const pageStatus = feedback();
  pageStatus.nodes[1].classList.add("page-status");
  const pauses = await roomPauses(reload);
  const devices = await getJson("/api/devices");
  const cards = devices.map((d) => {
    const held = d.held.map((g) => g.username ?? g.account);
    return h(
      "section",
      { class: "card device", testid: "device", dataset: { device: d.id } },
      h(
        "h3",
        {},
        d.id,
        " ",
        h("span", { class: d.online ? "badge ok" : "badge warn" }, t(d.online ? "staff_online" : "staff_offline")),
      ),
      h(
        "ul",
        { class: "cameras" },
        d.cameras.map((c) =>
          h(
            "li",
            { dataset: { camera: c.id } },
            `${c.room ?? "—"} · ${c.name}`,
            c.clash.length
              ? h("p", { class: "warn", testid: "camera-clash" }, t("staff_camera_clash", { id: c.id, devices: c.clash.join(", ") }))
              : null,
          ),
        ),
      ),
      h("p", {}, t("staff_held_by", { names: held.length ? held.join(", ") : t("staff_nobody") })),
      d.refused.map((g) =>
        h("p", { class: "warn" }, t("staff_refused_for", { name: g.username ?? g.account, reason: g.reason })),
      ),
    );
  });
  fill(
    root,
    pageStatus.nodes,
    pauses,
    h("h2", {}, t("staff_tab_devices")),
    cards.length ? cards : h("p", { class: "muted" }, t("staff_devices_none")),
  );
}

// --- audit -------------------------------------------------------------------------------------

function recordItem(record) {
  const details = Object.entries(record.details ?? {})
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join("; ");
  const where = [record.device, record.camera_id].filter(Boolean).join(" · ");
  // the site's own events in words (the event's name beside them); a device's as it names them
  const key = `staff_event_${record.event}`;
  const named = record.device || t(key) === key ? record.event : `${t(key)} (${record.event})`;
  return h(
    "li",
    { class: "record", testid: "audit-record", dataset: { event: record.event } },
    h("div", { class: "record-head" }, h("strong", {}, named), " ", h("span", { class: "muted" }, formatDateTime(record.at))),
    h("div", {}, record.actor, where ? ` · ${where}` : ""),
    details ? h("div", { class: "details muted" }, details) : null,
  );
}

// the events of the site's own log, in the order the filter lists them
const SITE_EVENTS = [
  "site_ticket_asked",
  "login_ok",
  "site_account_created",
  "site_account_disabled",
  "site_account_enabled",
  "site_room_paused",
  "site_room_resumed",
  "site_grant_put",
  "site_grant_withdrawn",
  "site_terms_accepted",
  "site_password_changed",
  "site_password_reset_issued",
  "site_password_reset",
  "site_invite_created",
  "site_invites_imported",
  "site_invite_withdrawn",
  "site_invite_redeemed",
];

async function renderAudit(root) {
  // the site's own log: filtered by event and by who did it, or downloaded whole
  const verdict = h("p", { testid: "site-chain" });
  const siteList = h("ul", { class: "records", testid: "site-audit" });
  const older = h("button", { type: "button", hidden: true }, t("staff_older"));
  const accounts = await getJson("/api/accounts");
  const eventFilter = h(
    "select",
    { testid: "site-audit-event" },
    h("option", { value: "" }, t("staff_filter_all_events")),
    SITE_EVENTS.map((name) => h("option", { value: name }, t(`staff_event_${name}`))),
  );
  const actorFilter = h(
    "select",
    { testid: "site-audit-actor" },
    h("option", { value: "" }, t("staff_filter_everyone")),
    accounts.map((a) => h("option", { value: a.username }, a.username)),
  );
  // the records about one account (a parent's grant, tickets, password), whoever made them
  const aboutFilter = h(
    "select",
    { testid: "site-audit-about" },
    h("option", { value: "" }, t("staff_filter_everyone")),
    accounts.map((a) => h("option", { value: a.id }, a.username)),
  );
  const filters = h(
    "div",
    { class: "actions" },
    field(t("staff_filter_event"), eventFilter),
    field(t("staff_filter_actor"), actorFilter),
    field(t("staff_filter_about"), aboutFilter),
  );
  const download = h("a", { href: "/api/audit/export", download: "site-audit.jsonl", testid: "site-audit-download" }, t("staff_download_log"));
  let cursor = null;
  async function loadSite(more) {
    const query = new URLSearchParams({ limit: "50" });
    if (eventFilter.value) query.set("event", eventFilter.value);
    if (actorFilter.value) query.set("actor", actorFilter.value);
    if (aboutFilter.value) query.set("about", aboutFilter.value);
    if (more && cursor) query.set("cursor", cursor);
    const log = await getJson(`/api/audit?${query}`);
    verdict.textContent = log.ok
      ? t("staff_chain_ok", { n: log.total })
      : t("staff_chain_broken", { why: log.problems.join("; ") });
    verdict.className = log.ok ? "ok" : "warn";
    const items = log.records.map(recordItem);
    if (more) add(siteList, items);
    else fill(siteList, items.length ? items : h("li", { class: "muted" }, t("staff_no_records")));
    cursor = log.cursor;
    older.hidden = !cursor;
  }
  older.addEventListener("click", () => loadSite(true));
  eventFilter.addEventListener("change", () => loadSite(false));
  actorFilter.addEventListener("change", () => loadSite(false));
  aboutFilter.addEventListener("change", () => loadSite(false));

  // the devices' trails
  const trails = await getJson("/api/audit/devices");
  const states = h(
    "ul",
    { class: "trail-states", testid: "trail-states" },
    trails.devices.map((d) =>
      h(
        "li",
        { class: d.broken ? "warn" : "ok", dataset: { device: d.device } },
        d.broken
          ? t("staff_trail_broken", { device: d.device, why: d.broken })
          : t("staff_trail_ok", { device: d.device, seq: d.seq }),
      ),
    ),
  );
  const picker = h(
    "select",
    { testid: "trail-device" },
    h("option", { value: "" }, t("staff_all_devices")),
    trails.devices.map((d) => h("option", { value: d.device }, d.device)),
  );
  // the devices name events their own way: the filter lists those their trails hold
  const trailEvent = h(
    "select",
    { testid: "trail-event" },
    h("option", { value: "" }, t("staff_filter_all_events")),
    trails.events.map((name) => h("option", { value: name }, name)),
  );
  // a parent's records: those the devices keep about their site account
  const trailAccount = h(
    "select",
    { testid: "trail-account" },
    h("option", { value: "" }, t("staff_filter_everyone")),
    accounts.filter((a) => a.role === "parent").map((a) => h("option", { value: a.id }, a.username)),
  );
  const trailList = h("ul", { class: "records", testid: "device-audit" });
  function showTrail(records) {
    fill(trailList, records.length ? records.map(recordItem) : h("li", { class: "muted" }, t("staff_no_records")));
  }
  async function loadTrail() {
    const query = new URLSearchParams();
    if (trailEvent.value) query.set("event", trailEvent.value);
    if (trailAccount.value) query.set("account", trailAccount.value);
    if (!picker.value) {
      showTrail((await getJson(`/api/audit/devices?${query}`)).records);
      return;
    }
    const trail = await getJson(`/api/devices/${encodeURIComponent(picker.value)}/audit?${query}`);
    showTrail(trail.records.map((r) => ({ ...r, device: picker.value })));
  }
  for (const control of [picker, trailEvent, trailAccount]) control.addEventListener("change", loadTrail);
  showTrail(trails.records);
  await loadSite(false);
  fill(
    root,
    h("h2", {}, t("staff_site_log")),
    h("p", { class: "muted" }, t("staff_site_log_intro")),
    verdict,
    filters,
    download,
    siteList,
    older,
    h("h2", {}, t("staff_trails")),
    states,
    h(
      "div",
      { class: "actions" },
      field(t("staff_trail_device"), picker),
      field(t("staff_filter_event"), trailEvent),
      field(t("staff_trail_parent"), trailAccount),
    ),
    trailList,
  );
}

// --- the tabs ----------------------------------------------------------------------------------

const TABS = { parents: renderParents, devices: renderDevices, audit: renderAudit };
let current = "parents";

/** Shows the staff pages in `root` (the page's staff section), on the tab last opened. */
export async function showStaff(root, me) {
  const content = h("div", { class: "tab-content", testid: "staff-content" });
  const tabs = Object.keys(TABS).map((name) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        "aria-selected": String(name === current),
        onclick: () => {
          current = name;
          showStaff(root, me);
        },
      },
      t(`staff_tab_${name}`),
    ),
  );
  // the class-list import is another page of the site; its link shows once that page is served
  const importLink = h("a", { href: "/import.html", class: "import-link", hidden: true }, t("staff_import"));
  fetch("/import.html", { method: "HEAD", credentials: "same-origin" })
    .then((response) => {
      importLink.hidden = !response.ok;
    })
    .catch(() => {});
  fill(
    root.querySelector("#staff-nav"),
    h("nav", { role: "tablist", class: "tabs" }, tabs),
    importLink,
  );
  fill(root.querySelector("#staff-page"), content);
  await TABS[current](content);
}
