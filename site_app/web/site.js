// The site's page: a parent logs in once and sees every camera that films their child's room,
// on whichever device; "Watch" asks the site for a ticket, which the device filming the room
// signs (or refuses), and plays the room from the relay with the owner app's WHEP client.
// Staff get the staff pages instead (staff.js).

import { ApiError, getJson, postJson } from "./api.js";
import { LANG, addTexts, setLanguage, t, translatePage } from "./i18n.js";
import { joining, setUpJoin, translateJoin } from "./join.js";
import { hidePassword, showPassword } from "./password.js";
import { resetting, setUpReset, translateReset } from "./reset.js";
import { setUpSetup, setupNeeded, showSetup } from "./setup.js";
import { showStaff } from "./staff.js";
import { formatDay, formatTime } from "./dom.js";
import { describeSchedule } from "./schedule.js";
import { LiveView } from "./whep.js";

addTexts({
  en: {
    title: "Kindergarten cameras",
    site_title: "Kindergarten cameras",
    watch: "Watch",
    stop: "Stop",
    offline: "offline",
    no_cameras: "No room is granted to you yet.",
    my_grant: "Your viewing hours: {hours} · until {date}",
    watching: "Watching {name}",
    ended: "The live view ended.",
    refused_outside_viewing_hours: "Outside your viewing hours.",
    refused_not_live: "This room is not streaming now.",
    refused_device_unreachable: "The camera of this room does not answer.",
    refused_camera_id_clash: "This camera cannot be watched until the school fixes its set-up.",
    refused_room_paused: "The school has paused viewing of this room for now.",
    room_paused: "paused by the school",
    room_paused_until: "paused by the school until {time}",
    refused_other: "Not allowed now: {reason}",
    terms_heading: "Viewing terms",
    accept_terms: "I accept",
  },
  zh: {
    title: "幼儿园摄像头",
    site_title: "幼儿园摄像头",
    watch: "观看",
    stop: "停止",
    offline: "离线",
    no_cameras: "尚未为您开通任何教室。",
    my_grant: "您的观看时段：{hours} · 有效期至 {date}",
    watching: "正在观看：{name}",
    ended: "实时画面已结束。",
    refused_outside_viewing_hours: "现在不在您的观看时段内。",
    refused_not_live: "该教室现在没有直播。",
    refused_device_unreachable: "该教室的摄像头没有响应。",
    refused_camera_id_clash: "在幼儿园修正设置之前，无法观看此摄像头。",
    refused_room_paused: "幼儿园已暂停该教室的观看。",
    room_paused: "幼儿园已暂停观看",
    room_paused_until: "幼儿园已暂停观看，至 {time}",
    refused_other: "现在不能观看：{reason}",
    terms_heading: "观看条款",
    accept_terms: "我同意",
  },
});

const $ = (id) => document.getElementById(id);
let view = null;

function refusal(error) {
  const key = `refused_${error.code}`;
  const text = t(key);
  return text === key ? t("refused_other", { reason: error.reason }) : text;
}

async function stopWatching() {
  if (view) await view.stop();
  view = null;
  $("video").hidden = true;
}

async function watch(camera) {
  await stopWatching();
  $("status").textContent = "";
  const video = $("video");
  view = new LiveView(video, () => {
    $("status").textContent = t("ended");
    video.hidden = true;
  });
  try {
    const path = `/api/watch/${encodeURIComponent(camera.device)}/${encodeURIComponent(camera.camera)}`;
    if (!(await view.startOnRelay(path))) {
      view = null;
      $("status").textContent = t("refused_not_live");
      return;
    }
    video.hidden = false;
    $("status").textContent = t("watching", { name: camera.name });
  } catch (error) {
    view = null;
    $("status").textContent = error instanceof ApiError ? refusal(error) : t("network_error");
  }
}

function showCameras(me) {
  const list = $("cameras");
  list.replaceChildren();
  if (!me.cameras.length) {
    const empty = document.createElement("li");
    empty.textContent = t("no_cameras");
    list.append(empty);
  }
  for (const camera of me.cameras) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = `${camera.room} · ${camera.name}${camera.online ? "" : ` (${t("offline")})`}`;
    item.dataset.camera = `${camera.device}/${camera.camera}`;
    if (camera.paused) {
      // the school paused the room: no Watch until it resumes (the page shows it on reload)
      const note = document.createElement("span");
      note.className = "warn";
      note.textContent = camera.paused_until ? t("room_paused_until", { time: formatTime(camera.paused_until) }) : t("room_paused");
      item.append(name, note);
      list.append(item);
      continue;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("watch");
    button.setAttribute("aria-label", `${t("watch")} ${camera.name}`);
    button.dataset.camera = `${camera.device}/${camera.camera}`;
    button.addEventListener("click", () => watch(camera));
    item.append(name, button);
    list.append(item);
  }
  $("who").textContent = t("logged_in_as", { name: me.username });
  // when they may watch, so "outside your viewing hours" is never a surprise
  $("my-grant").textContent = me.grant
    ? t("my_grant", { hours: describeSchedule(me.grant.schedule), date: formatDay(me.grant.expires_at) })
    : "";
}

async function show() {
  translatePage();
  $("lang").textContent = LANG === "zh" ? "English" : "中文";
  if (resetting()) {
    // a reset link opened: only its form, whoever may be logged in on this browser
    showSetup(false);
    for (const id of ["login", "join", "terms", "rooms", "staff"]) $(id).hidden = true;
    hidePassword($("password-box"));
    translateReset();
    return;
  }
  try {
    const me = await getJson("/api/me");
    showSetup(false);
    $("login").hidden = true;
    $("join").hidden = true;
    showPassword($("password-box"));
    if (me.role === "staff") {
      $("terms").hidden = true;
      $("rooms").hidden = true;
      $("staff").hidden = false;
      $("staff-who").textContent = t("logged_in_as", { name: me.username });
      await showStaff($("staff"), me);
      return;
    }
    $("staff").hidden = true;
    if (me.terms.required) {
      // a parent's grant reaches the devices only once they accepted the terms here
      $("terms-text").textContent = LANG === "zh" ? me.terms.zh : me.terms.en;
      $("accept").dataset.version = me.terms.version;
      $("terms").hidden = false;
      $("rooms").hidden = true;
      return;
    }
    $("terms").hidden = true;
    $("rooms").hidden = false;
    showCameras(me);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) throw error;
    hidePassword($("password-box"));
    $("rooms").hidden = true;
    $("terms").hidden = true;
    $("staff").hidden = true;
    translateJoin();
    // a site without a staff account shows its setup form; an invite link (or "I have an
    // invite code") keeps the join form up instead of the log-in
    const first = await setupNeeded();
    showSetup(first);
    $("login").hidden = first || joining();
  }
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await postJson("/api/login", { username: form.get("username"), password: form.get("password") });
    $("login-error").textContent = "";
    await show();
  } catch (error) {
    $("login-error").textContent = error instanceof ApiError ? t("login_failed") : t("network_error");
  }
});

$("accept").addEventListener("click", async () => {
  await postJson("/api/terms", { version: $("accept").dataset.version });
  await show();
});

$("logout").addEventListener("click", async () => {
  await stopWatching();
  await postJson("/api/logout").catch(() => {});
  await show();
});

$("staff-logout").addEventListener("click", async () => {
  await postJson("/api/logout").catch(() => {});
  await show();
});

$("lang").addEventListener("click", async () => {
  setLanguage(LANG === "zh" ? "en" : "zh");
  await show();
});

setUpJoin(show);
setUpReset(show);
setUpSetup(show);
show();
