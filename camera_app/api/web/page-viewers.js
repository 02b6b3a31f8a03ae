// Viewers: invite a family member or a parent (cameras, rooms, weekly hours, end date, watermark),
// the invite link shown once as text and QR code, revoke; a kindergarten's class list imported at
// once (onboarding.js); a shop's public viewing links with
// their QR codes; who is watching now, with the power to end a session; and which family
// members may see recordings of which cameras.

import { ApiError, getJson, postJson } from "./api.js";
import { add, button, card, field, fill, formatDateTime, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";
import { classListCard } from "./onboarding.js";
import { qrCanvas } from "./qr.js";
import { describeSchedule, scheduleEditor } from "./schedule.js";

addTexts({
  en: {
    viewers_heading: "Who may watch",
    invite_heading: "Invite someone",
    invite_role: "They are",
    role_family: "Family member",
    role_parent: "Parent (kindergarten)",
    role_owner: "Owner",
    role_public: "Public link",
    invite_username: "Their user name (letters, digits, . _ - @)",
    invite_cameras: "Cameras",
    invite_rooms: "Rooms (comma separated, parents)",
    invite_hours: "Viewing hours (parents)",
    invite_until: "Last day of access (parents)",
    invite_watermark: "Show their name and the time on the video (always on for parents)",
    invite_send: "Make the invite",
    invite_made:
      "Invite for {name}. Send them this link or let them scan the QR code. It is shown only now and works once.",
    invite_link: "Invite link",
    copy: "Copy",
    copied: "Copied.",
    viewers_none: "Nobody is invited yet.",
    viewer_status_invited: "invited, not joined yet",
    viewer_status_joined: "joined {date}",
    viewer_status_revoked: "revoked",
    viewer_hours: "Hours: {hours}",
    viewer_until: "Until {date}",
    viewer_watermark: "watermark on",
    revoke: "Revoke",
    revoke_reason: "Why is the access revoked? (kept in the audit log)",
    revoked: "Access revoked; their sessions ended.",
    recordings_access: "May see recordings of",
    recordings_none: "no recordings",
    recordings_save: "Save",
    recordings_saved: "Recording access saved.",
    links_heading: "Public viewing links (shop)",
    links_intro:
      "A link anyone can open to watch a shop camera while it streams. Print its QR code near the posted notice, or share it.",
    link_label: "Label (e.g. 'Window sticker')",
    link_camera: "Camera",
    link_make: "Make a link",
    link_made: "The link is shown only now. Save it or print its QR code.",
    links_none: "No public link.",
    sessions_heading: "Watching now",
    sessions_none: "Nobody is watching.",
    session_end: "End",
    session_ended: "The session was ended.",
    session_since: "since {time}",
    session_on_relay: "on the relay",
    no_shop_camera: "Public links are for cameras with the shop profile.",
  },
  zh: {
    viewers_heading: "观看者",
    invite_heading: "邀请观看者",
    invite_role: "身份",
    role_family: "家人",
    role_parent: "家长（幼儿园）",
    role_owner: "主人",
    role_public: "公开链接",
    invite_username: "用户名（字母、数字、. _ - @）",
    invite_cameras: "摄像头",
    invite_rooms: "房间（用逗号分隔，家长适用）",
    invite_hours: "观看时段（家长适用）",
    invite_until: "权限最后一天（家长适用）",
    invite_watermark: "在视频上显示其用户名和时间（家长始终显示）",
    invite_send: "生成邀请",
    invite_made: "已为 {name} 生成邀请。请把链接发给对方或让对方扫描二维码。链接只显示这一次，且只能使用一次。",
    invite_link: "邀请链接",
    copy: "复制",
    copied: "已复制。",
    viewers_none: "还没有邀请任何人。",
    viewer_status_invited: "已邀请，尚未加入",
    viewer_status_joined: "{date} 加入",
    viewer_status_revoked: "已撤销",
    viewer_hours: "时段：{hours}",
    viewer_until: "截止 {date}",
    viewer_watermark: "显示水印",
    revoke: "撤销",
    revoke_reason: "撤销权限的原因？（记入审计日志）",
    revoked: "已撤销权限，其会话已结束。",
    recordings_access: "可查看以下摄像头的录像",
    recordings_none: "不可查看录像",
    recordings_save: "保存",
    recordings_saved: "录像权限已保存。",
    links_heading: "公开观看链接（商户）",
    links_intro: "任何人打开此链接都可以在直播时观看商户摄像头。可把二维码打印在告示旁边，或分享链接。",
    link_label: "标签（如“橱窗贴纸”）",
    link_camera: "摄像头",
    link_make: "生成链接",
    link_made: "链接只显示这一次，请保存或打印二维码。",
    links_none: "没有公开链接。",
    sessions_heading: "正在观看",
    sessions_none: "现在没有人在观看。",
    session_end: "结束",
    session_ended: "已结束该会话。",
    session_since: "自 {time}",
    session_on_relay: "通过中继服务器",
    no_shop_camera: "公开链接只适用于商户场景的摄像头。",
  },
});

const REFRESH_MS = 5000;

export async function render(root, ctx) {
  const cameras = await getJson("/api/cameras");
  const name = (id) => cameras.find((c) => c.id === id)?.name ?? id;
  const once = h("div", { testid: "shown-once" });
  const viewerList = h("ul", { class: "plain", testid: "viewer-list" });
  const linkList = h("ul", { class: "plain", testid: "public-links" });
  const sessions = h("ul", { class: "plain", testid: "live-sessions" });
  const shops = cameras.filter((c) => c.profile === "merchant");
  const classrooms = cameras.some((c) => c.profile === "kindergarten" && c.room);

  add(
    root,
    h("h2", {}, t("viewers_heading")),
    once,
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        {},
        card(t("invite_heading"), inviteForm()),
        classrooms ? classListCard(ctx, () => refresh()) : null,
        card(null, viewerList),
        card(t("links_heading"), h("p", { class: "muted" }, t("links_intro")), shops.length ? linkForm() : h("p", {}, t("no_shop_camera")), linkList),
      ),
      h("aside", {}, card(t("sessions_heading"), sessions)),
    ),
  );

  function cameraChecks(selected = []) {
    return h(
      "div",
      { class: "checks" },
      cameras.map((c) =>
        h("label", { class: "day" }, h("input", { type: "checkbox", value: c.id, checked: selected.includes(c.id) }), c.name),
      ),
    );
  }

  function checked(box) {
    return [...box.querySelectorAll("input:checked")].map((b) => b.value);
  }

  function inviteForm() {
    const role = h(
      "select",
      { testid: "invite-role" },
      h("option", { value: "family" }, t("role_family")),
      h("option", { value: "parent" }, t("role_parent")),
    );
    const username = h("input", { required: true, maxlength: 64, autocapitalize: "none", spellcheck: "false", testid: "invite-username" });
    const cams = cameraChecks(cameras.length === 1 ? [cameras[0].id] : []);
    const rooms = h("input", { maxlength: 300, testid: "invite-rooms" });
    const hours = scheduleEditor(null, { testid: "invite-hours" });
    const until = h("input", { type: "date", testid: "invite-until" });
    const watermark = h("input", { type: "checkbox", checked: true, testid: "invite-watermark" });
    const parentOnly = h(
      "div",
      {},
      field(t("invite_rooms"), rooms),
      h("div", { class: "field" }, h("span", { class: "field-label" }, t("invite_hours")), hours.element),
      field(t("invite_until"), until),
    );
    const sync = () => {
      const parent = role.value === "parent";
      parentOnly.hidden = !parent;
      // a parent always has the watermark: show it forced instead of a switch that does nothing
      watermark.checked = parent ? true : watermark.checked;
      watermark.disabled = parent;
    };
    role.addEventListener("change", sync);
    const form = h(
      "form",
      { testid: "invite-form" },
      field(t("invite_role"), role),
      field(t("invite_username"), username),
      h("div", { class: "field" }, h("span", { class: "field-label" }, t("invite_cameras")), cams),
      parentOnly,
      h("label", {}, watermark, " ", t("invite_watermark")),
      h("p", { class: "step-error error", role: "alert" }),
      h("button", { type: "submit" }, t("invite_send")),
    );
    sync();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const parent = role.value === "parent";
      const json = { username: username.value.trim(), role: role.value, cameras: checked(cams), watermark: watermark.checked };
      if (parent) {
        json.rooms = rooms.value.split(/[,，]/).map((r) => r.trim()).filter(Boolean);
        json.schedule = hours.value();
        json.expires_on = until.value || null;
      }
      const where = form.querySelector(".step-error");
      where.textContent = "";
      try {
        const made = await postJson("/api/viewers", json);
        form.reset();
        sync();
        await showOnce(t("invite_made", { name: made.username }), inviteUrl(made));
        await refresh();
      } catch (error) {
        if (error instanceof ApiError && error.status !== 401) where.textContent = error.reason;
        else ctx.handleFailure(error);
      }
    });
    return form;
  }

  function inviteUrl(made) {
    const path = made.invite_path ?? `/#join=${encodeURIComponent(made.code)}`;
    return new URL(path, window.location.origin).href;
  }

  /** A link shown once: as text to copy and as a QR code. */
  async function showOnce(message, url) {
    const text = h("p", { class: "secret", testid: "once-link" }, url);
    const copy = button(t("copy"), async () => {
      await navigator.clipboard?.writeText(url).catch(() => {});
      ctx.say(t("copied"));
    });
    fill(once, card(null, h("p", {}, message), text, h("div", { class: "actions" }, copy), await qrCanvas(url, { label: t("invite_link") })));
    once.scrollIntoView({ block: "nearest" });
  }

  function linkForm() {
    const label = h("input", { required: true, maxlength: 64, testid: "link-label" });
    const camera = h("select", {}, shops.map((c) => h("option", { value: c.id }, c.name)));
    const form = h(
      "form",
      { testid: "link-form" },
      shops.length > 1 ? field(t("link_camera"), camera) : null,
      field(t("link_label"), label),
      h("button", { type: "submit" }, t("link_make")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const made = await postJson(`/api/cameras/${encodeURIComponent(camera.value)}/public-links`, { label: label.value });
      form.reset();
      await showOnce(t("link_made"), new URL(`/#link=${encodeURIComponent(made.link)}`, window.location.origin).href);
      await refresh();
    });
    return form;
  }

  function viewerItem(v) {
    const status = v.revoked_at
      ? t("viewer_status_revoked")
      : v.accepted_at
        ? t("viewer_status_joined", { date: formatDateTime(v.accepted_at) })
        : t("viewer_status_invited");
    const facts = [
      t(`role_${v.role}`),
      v.cameras.map(name).join(", "),
      v.rooms.length ? v.rooms.join(", ") : null,
      v.schedule ? t("viewer_hours", { hours: describeSchedule(v.schedule) }) : null,
      v.expires_at ? t("viewer_until", { date: formatDateTime(v.expires_at) }) : null,
      v.watermark ? t("viewer_watermark") : null,
    ].filter(Boolean);
    return h(
      "li",
      { class: "card", testid: "viewer-item", dataset: { viewer: v.username } },
      h("strong", {}, v.username),
      " · ",
      h("span", { class: "muted" }, status),
      h("p", {}, facts.join(" · ")),
      v.role === "family" && !v.revoked_at ? recordingAccess(v) : null,
      v.revoked_at
        ? null
        : button(t("revoke"), async () => {
            const reason = window.prompt(t("revoke_reason"));
            if (!reason) return;
            await postJson(`/api/viewers/${encodeURIComponent(v.id)}/revoke`, { reason });
            ctx.say(t("revoked"));
            await refresh();
          }, { class: "danger", testid: "viewer-revoke" }),
    );
  }

  function recordingAccess(v) {
    const boxes = cameraChecks(v.recordings ?? []);
    return h(
      "details",
      { testid: "recording-access" },
      h("summary", {}, t("recordings_access"), ": ", (v.recordings ?? []).map(name).join(", ") || t("recordings_none")),
      boxes,
      button(t("recordings_save"), async () => {
        await postJson(`/api/viewers/${encodeURIComponent(v.id)}/recordings`, { cameras: checked(boxes) });
        ctx.say(t("recordings_saved"));
        await refresh();
      }),
    );
  }

  function linkItem(link) {
    return h(
      "li",
      { testid: "public-link" },
      h("strong", {}, link.label),
      " · ",
      name(link.camera_id),
      " · ",
      formatDateTime(link.created_at),
      " ",
      button(t("revoke"), async () => {
        await postJson(`/api/public-links/${encodeURIComponent(link.id)}/revoke`, {});
        ctx.say(t("revoked"));
        await refresh();
      }, { class: "danger" }),
    );
  }

  function sessionItem(s) {
    return h(
      "li",
      { testid: "live-session" },
      h("strong", {}, s.label ?? s.username ?? "?"),
      ` (${t(`role_${s.role}`)}) · ${name(s.camera_id)} · `,
      t("session_since", { time: formatDateTime(s.started_at) }),
      s.remote === "relay" ? ` · ${t("session_on_relay")}` : "",
      " ",
      button(t("session_end"), async () => {
        await postJson(`/api/live/sessions/${encodeURIComponent(s.id)}/end`, {});
        ctx.say(t("session_ended"));
        await refreshSessions();
      }, { class: "danger", testid: "session-end" }),
    );
  }

  async function refresh() {
    const [viewers, links] = await Promise.all([getJson("/api/viewers"), getJson("/api/public-links").catch(() => [])]);
    const active = viewers.filter((v) => !v.revoked_at);
    fill(viewerList, active.length ? active.map(viewerItem) : h("li", { class: "muted" }, t("viewers_none")));
    const liveLinks = links.filter((l) => !l.revoked_at);
    fill(linkList, liveLinks.length ? liveLinks.map(linkItem) : h("li", { class: "muted" }, t("links_none")));
    await refreshSessions();
  }

  async function refreshSessions() {
    const list = await getJson("/api/live/sessions");
    const items = list.sessions ?? list;
    fill(sessions, items.length ? items.map(sessionItem) : h("li", { class: "muted" }, t("sessions_none")));
  }

  await refresh();
  const timer = setInterval(() => {
    if (!document.hidden) refreshSessions().catch(ctx.handleFailure);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
