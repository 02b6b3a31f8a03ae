// Events: the motion events of a camera as a timeline by day with snapshots, the clip playing in
// the page (the server answers Range requests, so it seeks), download and delete; arm and disarm;
// the device's health and each camera's streaming state. Every view of a clip or snapshot is
// written to the audit log by the server.

import { getJson, request } from "./api.js";
import { button, card, dayKey, formatDay, formatDuration, formatMb, formatTime, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    events_heading: "Motion events",
    camera: "Camera",
    day: "Day",
    all_days: "All days",
    no_events: "No motion events for this choice.",
    load_more: "Show older events",
    event_active: "recording…",
    event_duration: "{duration}",
    play: "Play",
    download: "Download",
    delete: "Delete",
    delete_confirm: "Delete this event, its clip and snapshot? This cannot be undone.",
    deleted: "The event was deleted.",
    close: "Close",
    armed: "Armed: motion is recorded",
    disarmed: "Disarmed: nothing is recorded",
    arm: "Arm",
    disarm: "Disarm",
    now_armed: "Monitoring is armed.",
    now_disarmed: "Monitoring is disarmed.",
    health_heading: "Device",
    health_fps: "Frame rate",
    health_drops: "Dropped frames",
    health_recordings: "Recordings",
    health_disk: "Free disk",
    health_temp: "Temperature",
    health_uptime: "Running for",
    health_version: "Version",
    health_cameras: "Cameras",
    health_camera_fps: "{fps} fps",
    health_camera_failed: "stopped: {reason}",
    streaming_states: "Streaming",
    state_monitoring: "Private monitoring only",
    state_live: "Live stream on",
    snapshot_of: "Snapshot of the event at {time}",
    duration_days: "{d} d {h} h",
    duration_hours: "{h} h {m} min",
    duration_minutes: "{m} min {s} s",
    duration_seconds: "{s} s",
    private_note: "Recordings stay on this device and only you can see them.",
  },
  zh: {
    events_heading: "移动侦测事件",
    camera: "摄像头",
    day: "日期",
    all_days: "全部日期",
    no_events: "没有符合条件的事件。",
    load_more: "显示更早的事件",
    event_active: "录制中…",
    event_duration: "{duration}",
    play: "播放",
    download: "下载",
    delete: "删除",
    delete_confirm: "删除此事件及其录像和快照？删除后无法恢复。",
    deleted: "事件已删除。",
    close: "关闭",
    armed: "已布防：检测到移动时录像",
    disarmed: "已撤防：不录像",
    arm: "布防",
    disarm: "撤防",
    now_armed: "已布防。",
    now_disarmed: "已撤防。",
    health_heading: "设备",
    health_fps: "帧率",
    health_drops: "丢帧",
    health_recordings: "录像占用",
    health_disk: "剩余空间",
    health_temp: "温度",
    health_uptime: "已运行",
    health_version: "版本",
    health_cameras: "各摄像头",
    health_camera_fps: "{fps} 帧/秒",
    health_camera_failed: "已停止：{reason}",
    streaming_states: "直播",
    state_monitoring: "仅私密监控",
    state_live: "正在直播",
    snapshot_of: "{time} 事件的快照",
    duration_days: "{d} 天 {h} 小时",
    duration_hours: "{h} 小时 {m} 分",
    duration_minutes: "{m} 分 {s} 秒",
    duration_seconds: "{s} 秒",
    private_note: "录像只保存在这台设备上，只有您能查看。",
  },
});

const PAGE = 30;
const REFRESH_MS = 15000;

export async function render(root, ctx) {
  const owner = ctx.me.role === "owner";
  const cameras = await getJson("/api/cameras");
  const allowed = owner ? cameras : cameras.filter((c) => (ctx.me.recordings ?? []).includes(c.id));
  const state = { camera: allowed[0]?.id, day: "", cursor: null, events: [], open: null };

  const cameraSelect = h(
    "select",
    { testid: "event-camera", onchange: () => reload() },
    allowed.map((c) => h("option", { value: c.id }, c.name)),
  );
  const dayInput = h("input", { type: "date", testid: "event-day", onchange: () => reload() });
  const list = h("ol", { class: "event-list", testid: "event-list" });
  const empty = h("p", { class: "muted", hidden: true }, t("no_events"));
  const more = h("button", { type: "button", hidden: true, onclick: () => loadMore() }, t("load_more"));
  const viewer = h("div", { class: "clip-panel", hidden: true });
  const side = h("aside", { class: "side" });

  root.append(
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        { class: "main-column" },
        h("h2", {}, t("events_heading")),
        h("p", { class: "muted" }, t("private_note")),
        h(
          "div",
          { class: "toolbar" },
          allowed.length > 1 ? h("label", {}, t("camera"), " ", cameraSelect) : null,
          h("label", {}, t("day"), " ", dayInput),
        ),
        viewer,
        list,
        empty,
        more,
      ),
      side,
    ),
  );

  function query() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (dayInput.value) {
      const start = new Date(`${dayInput.value}T00:00:00`).getTime() / 1000;
      params.set("since", String(Math.floor(start)));
      params.set("until", String(Math.floor(start + 86400)));
    }
    if (state.cursor) params.set("cursor", state.cursor);
    const camera = allowed.length > 1 ? cameraSelect.value : state.camera;
    return `/api/cameras/${encodeURIComponent(camera)}/events?${params}`;
  }

  async function reload() {
    state.cursor = null;
    state.events = [];
    const page = await getJson(query());
    state.events = page.events;
    state.cursor = page.cursor;
    draw();
  }

  async function loadMore() {
    const page = await getJson(query());
    state.events.push(...page.events);
    state.cursor = page.cursor;
    draw();
  }

  function draw() {
    const groups = new Map();
    for (const event of state.events) {
      const key = dayKey(event.started_at);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(event);
    }
    const items = [];
    for (const [, events] of groups) {
      items.push(h("li", { class: "day-heading" }, h("h3", {}, formatDay(events[0].started_at))));
      for (const event of events) items.push(eventItem(event));
    }
    list.replaceChildren(...items);
    empty.hidden = state.events.length > 0;
    more.hidden = !state.cursor;
  }

  function eventItem(event) {
    const time = formatTime(event.started_at);
    const thumb = h("img", {
      src: event.snapshot_url,
      alt: t("snapshot_of", { time }),
      loading: "lazy",
      width: 160,
      height: 120,
      class: "thumb",
      testid: "event-thumb",
    });
    const length =
      event.status === "active" ? t("event_active") : formatDuration(event.clip_duration_s ?? 0);
    const playable = event.status === "complete" && event.clip_url;
    return h(
      "li",
      { class: "event-item", testid: "event-item", dataset: { event: event.id } },
      h(
        "button",
        {
          type: "button",
          class: "event-open",
          disabled: !playable,
          "aria-label": `${t("play")} ${time}`,
          onclick: () => open(event),
        },
        thumb,
      ),
      h("div", { class: "event-about" }, h("strong", {}, time), h("span", { class: "muted" }, length)),
    );
  }

  function open(event) {
    state.open = event.id;
    const video = h("video", {
      controls: true,
      playsinline: true,
      preload: "metadata",
      src: event.clip_url,
      testid: "clip-player",
      "aria-label": t("snapshot_of", { time: formatTime(event.started_at) }),
    });
    const actions = h(
      "div",
      { class: "actions" },
      h(
        "a",
        {
          href: `${event.clip_url}?download=1`,
          download: `${event.id}.mp4`,
          class: "button",
          testid: "clip-download",
        },
        t("download"),
      ),
      owner
        ? button(t("delete"), () => remove(event), { class: "danger", testid: "event-delete" })
        : null,
      button(t("close"), () => close()),
    );
    viewer.replaceChildren(
      h("h3", {}, `${formatDay(event.started_at)} ${formatTime(event.started_at)}`),
      video,
      actions,
    );
    viewer.hidden = false;
    video.play().catch(() => {}); // autoplay may be refused; the controls are there
    viewer.scrollIntoView({ block: "nearest" });
  }

  function close() {
    const video = viewer.querySelector("video");
    if (video) {
      video.pause();
      video.removeAttribute("src");
      video.load();
    }
    viewer.replaceChildren();
    viewer.hidden = true;
    state.open = null;
  }

  async function remove(event) {
    if (!window.confirm(t("delete_confirm"))) return;
    await request("DELETE", `/api/events/${encodeURIComponent(event.id)}`);
    close();
    state.events = state.events.filter((e) => e.id !== event.id);
    draw();
    ctx.say(t("deleted"));
  }

  async function drawSide() {
    if (!owner) return;
    const [health, states] = await Promise.all([
      getJson("/api/device/health"),
      Promise.all(cameras.map((c) => getJson(`/api/cameras/${encodeURIComponent(c.id)}/streaming`))),
    ]);
    side.replaceChildren(armCard(health), healthCard(health), streamingCard(states));
  }

  function armCard(health) {
    const camera = allowed.length > 1 ? cameraSelect.value : state.camera;
    const toggle = button(
      health.armed ? t("disarm") : t("arm"),
      async () => {
        const action = health.armed ? "disarm" : "arm";
        const answer = await (
          await request("POST", `/api/cameras/${encodeURIComponent(camera)}/${action}`)
        ).json();
        ctx.say(answer.armed ? t("now_armed") : t("now_disarmed"));
        await drawSide();
      },
      {
        testid: "arm-toggle",
        "aria-pressed": String(Boolean(health.armed)),
        class: health.armed ? "" : "primary",
      },
    );
    return card(
      null,
      h(
        "p",
        { class: health.armed ? "state armed" : "state disarmed", testid: "arm-state" },
        health.armed ? t("armed") : t("disarmed"),
      ),
      toggle,
    );
  }

  function healthCard(health) {
    const rows = [
      [t("health_fps"), `${health.fps} fps`],
      [t("health_drops"), String(health.dropped_frames)],
      [t("health_recordings"), `${formatMb(health.recordings_mb)} / ${formatMb(health.quota_mb)}`],
      [t("health_disk"), formatMb(health.disk_free_mb)],
      [t("health_temp"), health.temperature_c === null ? "—" : `${health.temperature_c} °C`],
      [t("health_uptime"), formatDuration(health.uptime_s)],
      [t("health_version"), health.app_version],
    ];
    // with several cameras, each one's frame rate (or why it stopped) under the device's
    const each = Object.entries(health.cameras ?? {});
    const perCamera =
      each.length > 1
        ? [
            h("h4", {}, t("health_cameras")),
            h(
              "dl",
              { class: "facts", testid: "camera-health" },
              each.map(([id, c]) => [
                h("dt", {}, cameras.find((cam) => cam.id === id)?.name ?? id),
                h(
                  "dd",
                  { dataset: { camera: id }, class: c.error ? "danger" : "" },
                  c.error
                    ? t("health_camera_failed", { reason: c.error })
                    : t("health_camera_fps", { fps: c.fps ?? "—" }),
                ),
              ]),
            ),
          ]
        : null;
    return card(
      t("health_heading"),
      h(
        "dl",
        { class: "facts", testid: "device-health" },
        rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
      ),
      perCamera,
    );
  }

  function streamingCard(states) {
    return card(
      t("streaming_states"),
      h(
        "ul",
        { class: "plain", testid: "streaming-states" },
        states.map((s) => {
          const name = cameras.find((c) => c.id === s.camera_id)?.name ?? s.camera_id;
          const word =
            s.state === "streaming" ? t("state_live") : t("state_monitoring");
          return h(
            "li",
            {},
            h("a", { href: "#/streaming" }, name),
            ": ",
            h("span", { class: s.state === "streaming" ? "live" : "muted" }, word),
          );
        }),
      ),
    );
  }

  if (!state.camera) {
    empty.hidden = false;
    return null;
  }
  await Promise.all([reload(), drawSide()]);
  const timer = setInterval(() => {
    if (document.hidden) return;
    drawSide().catch(ctx.handleFailure);
    // the newest events appear while the first page is shown and no clip plays
    if (!state.open && state.events.length <= PAGE) reload().catch(ctx.handleFailure);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
