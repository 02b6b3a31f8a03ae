// Live: the cameras this account may see, whether each may be watched now (the server says why
// not, in the page's language), and the player. A parent also sees their own viewing hours, and
// when a window closes during a session they read "your viewing hours ended", not that the
// stream ended.

import { ApiError, getJson } from "./api.js";
import { formatDateTime, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";
import { describeSchedule } from "./schedule.js";
import { LiveView } from "./whep.js";

addTexts({
  en: {
    cameras_heading: "Cameras",
    no_cameras: "There is no camera you may watch.",
    room: "Room: {room}",
    live_now: "Live now",
    not_available: "Not available: {reason}",
    watch: "Watch",
    watch_label: "Watch {name}",
    video_label: "Live video of {name}",
    stop: "Stop",
    connecting: "Connecting…",
    via_relay: "Watching through the relay server.",
    ended: "The live stream has ended.",
    hours_ended: "Your viewing hours ended. You can watch again in your next window.",
    stopped: "You stopped watching.",
    watch_failed: "Could not start watching: {reason}",
    no_webrtc: "This browser cannot play live video (it has no WebRTC).",
    your_hours: "Your viewing hours",
    access_until: "Your access ends after {date}.",
    watermark_note: "Your account name and the time are shown on the video.",
    window_ends: "Your window ends at {time}.",
    window_next: "Next window starts {time}.",
  },
  zh: {
    cameras_heading: "摄像头",
    no_cameras: "没有您可以观看的摄像头。",
    room: "房间：{room}",
    live_now: "正在直播",
    not_available: "无法观看：{reason}",
    watch: "观看",
    watch_label: "观看{name}",
    video_label: "{name}的实时画面",
    stop: "停止",
    connecting: "正在连接…",
    via_relay: "正在通过中继服务器观看。",
    ended: "直播已结束。",
    hours_ended: "您的观看时段已结束，下一个时段开始后可以再次观看。",
    stopped: "您已停止观看。",
    watch_failed: "无法开始观看：{reason}",
    no_webrtc: "此浏览器无法播放实时视频（不支持 WebRTC）。",
    your_hours: "您的观看时段",
    access_until: "您的观看权限在 {date} 之后结束。",
    watermark_note: "视频上会显示您的账户名和时间。",
    window_ends: "本时段在 {time} 结束。",
    window_next: "下一个时段从 {time} 开始。",
  },
});

// How often the camera list is re-read while it is on screen and nothing plays.
const REFRESH_MS = 15000;

export async function render(root, ctx) {
  let view = null; // the LiveView playing now
  let closed = false;

  const list = h("ul", { id: "camera-list", testid: "camera-list" });
  const empty = h("p", { id: "no-cameras", hidden: true }, t("no_cameras"));
  const heading = h("h2", { id: "player-heading" });
  const video = h("video", {
    id: "video",
    testid: "live-video",
    autoplay: true,
    muted: true,
    playsinline: true,
  });
  const stop = h("button", { type: "button", id: "stop" }, t("stop"));
  const relayNote = h("p", { class: "muted", testid: "via-relay", hidden: true }, t("via_relay"));
  const player = h("section", { id: "player", hidden: true }, heading, video, relayNote, stop);
  const hours = hoursCard(ctx.me);
  root.append(
    h("section", { id: "cameras" }, h("h2", {}, t("cameras_heading")), hours, empty, list),
    player,
  );
  if (!window.RTCPeerConnection) ctx.fail(t("no_webrtc"));

  async function refresh() {
    const cameras = await getJson("/api/cameras");
    const rows = await Promise.all(cameras.map(async (c) => row(c, await access(c))));
    if (closed) return;
    list.replaceChildren(...rows);
    empty.hidden = rows.length > 0;
  }

  /** May this account watch the camera now, and on the relay? */
  async function access(camera) {
    try {
      const live = await getJson(`/api/cameras/${encodeURIComponent(camera.id)}/live`);
      return { allowed: true, reason: null, code: null, relay: live.relay };
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) {
        return { allowed: false, reason: error.reason, code: error.code };
      }
      throw error;
    }
  }

  function row(camera, { allowed, reason }) {
    const about = h(
      "div",
      {},
      h("div", { class: "camera-name" }, camera.name),
      camera.room ? h("div", { class: "camera-room" }, t("room", { room: camera.room })) : null,
      h(
        "div",
        { class: allowed ? "camera-state live" : "camera-state" },
        allowed ? t("live_now") : t("not_available", { reason }),
      ),
    );
    const item = h("li", { dataset: { camera: camera.id }, testid: "camera-item" }, about);
    if (allowed) {
      item.append(
        h(
          "button",
          {
            type: "button",
            "aria-label": t("watch_label", { name: camera.name }),
            onclick: () => watch(camera).catch(ctx.handleFailure),
          },
          t("watch"),
        ),
      );
    }
    return item;
  }

  async function watch(camera) {
    await stopWatching();
    ctx.fail("");
    ctx.say(t("connecting"));
    heading.textContent = camera.name;
    video.setAttribute("aria-label", t("video_label", { name: camera.name }));
    player.hidden = false;
    const live = new LiveView(video, async (why) => {
      console.info(`live view ended: ${why}`);
      if (view !== live) return;
      view = null;
      player.hidden = true;
      const now = await access(camera).catch(() => ({ code: null }));
      ctx.say(now.code === "outside_viewing_hours" ? t("hours_ended") : t("ended"));
      refresh().catch(ctx.handleFailure);
    });
    view = live;
    const path = `/api/cameras/${encodeURIComponent(camera.id)}`;
    try {
      // viewers watch on the relay when the device says so (the camera is published there and
      // the relay's stream suits them); the owner keeps the device's own seats (reserved for
      // them), and everyone else watches here
      const onRelay = ctx.me?.role !== "owner" && (await access(camera)).relay;
      const relayed = onRelay && (await live.startOnRelay(`${path}/relay-ticket`));
      if (!relayed) await live.start(`${path}/whep`);
      relayNote.hidden = !relayed;
    } catch (error) {
      if (view === live) {
        view = null;
        player.hidden = true;
        ctx.say("");
      }
      if (error instanceof ApiError && error.status === 401) throw error;
      ctx.fail(t("watch_failed", { reason: ctx.describe(error) }));
      await refresh();
      return;
    }
    stop.focus();
  }

  async function stopWatching() {
    const live = view;
    view = null;
    player.hidden = true;
    if (live) await live.stop();
  }

  video.addEventListener("playing", () => ctx.say(""));
  stop.addEventListener("click", async () => {
    await stopWatching();
    ctx.say(t("stopped"));
    await refresh().catch(ctx.handleFailure);
  });

  await refresh();
  const timer = setInterval(() => {
    if (!view && !document.hidden) refresh().catch(ctx.handleFailure);
  }, REFRESH_MS);
  return async () => {
    closed = true;
    clearInterval(timer);
    await stopWatching();
  };
}

/** A parent's (or family member's) own viewing hours, end date and watermark. */
function hoursCard(me) {
  const viewing = me?.viewing;
  if (!viewing) return null;
  const parts = [];
  if (viewing.schedule) {
    parts.push(h("p", { testid: "my-hours" }, describeSchedule(viewing.schedule)));
  }
  if (viewing.window_ends_at) {
    parts.push(h("p", {}, t("window_ends", { time: formatDateTime(viewing.window_ends_at) })));
  } else if (viewing.next_window_at) {
    parts.push(h("p", {}, t("window_next", { time: formatDateTime(viewing.next_window_at) })));
  }
  if (viewing.expires_on) parts.push(h("p", {}, t("access_until", { date: viewing.expires_on })));
  if (viewing.watermark) parts.push(h("p", { class: "muted" }, t("watermark_note")));
  if (!parts.length) return null;
  return h("div", { class: "card", testid: "viewing-hours" }, h("h3", {}, t("your_hours")), parts);
}
