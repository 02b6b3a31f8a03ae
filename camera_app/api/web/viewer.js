// The viewer page: log in (or open a public viewing link), list the cameras this account may
// watch with whether each is live now, and watch one. All DOM is built with textContent, never
// from HTML strings (the page's Content-Security-Policy enforces Trusted Types).

import { ApiError, getJson, postJson, request } from "./api.js";
import { t, translatePage } from "./i18n.js";
import { LiveView } from "./whep.js";

// How often the camera list is re-read while it is on screen and nothing plays.
const REFRESH_MS = 20000;

const $ = (id) => document.getElementById(id);
const ui = {
  notice: $("notice"),
  error: $("error"),
  login: $("login"),
  username: $("username"),
  password: $("password"),
  account: $("account"),
  who: $("who"),
  logout: $("logout"),
  cameras: $("cameras"),
  list: $("camera-list"),
  noCameras: $("no-cameras"),
  player: $("player"),
  playerHeading: $("player-heading"),
  video: $("video"),
  stop: $("stop"),
};

let view = null; // the LiveView playing now
let refreshTimer = null;

function say(key, values) {
  ui.notice.textContent = key ? t(key, values) : "";
}

function fail(text) {
  ui.error.textContent = text || "";
}

/** Words for a failed call: the API's reason, or that the device cannot be reached. */
function describe(error) {
  return error instanceof ApiError ? error.reason : t("network_error");
}

function sessionOver(error) {
  return error instanceof ApiError && error.status === 401;
}

// --- screens -------------------------------------------------------------------------------

function showLogin() {
  clearInterval(refreshTimer);
  ui.account.hidden = true;
  ui.cameras.hidden = true;
  ui.player.hidden = true;
  ui.list.replaceChildren();
  ui.login.hidden = false;
  ui.username.focus();
}

async function showCameras() {
  const me = await getJson("/api/me");
  ui.who.textContent =
    me.role === "public" ? t("public_viewer") : t("logged_in_as", { name: me.username });
  ui.login.hidden = true;
  ui.account.hidden = false;
  ui.cameras.hidden = false;
  await refreshCameras();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => {
    if (!view && !document.hidden) refreshCameras().catch(handleFailure);
  }, REFRESH_MS);
}

async function refreshCameras() {
  const cameras = await getJson("/api/cameras");
  const rows = await Promise.all(cameras.map(async (c) => cameraRow(c, await access(c))));
  ui.list.replaceChildren(...rows);
  ui.noCameras.hidden = rows.length > 0;
}

/** May this account watch the camera now? The server says why not, in the page's language. */
async function access(camera) {
  try {
    await getJson(`/api/cameras/${encodeURIComponent(camera.id)}/live`);
    return { allowed: true, reason: null };
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) {
      return { allowed: false, reason: error.reason };
    }
    throw error;
  }
}

function cameraRow(camera, { allowed, reason }) {
  const item = document.createElement("li");
  item.dataset.camera = camera.id;
  const about = document.createElement("div");
  const name = document.createElement("div");
  name.className = "camera-name";
  name.textContent = camera.name;
  about.append(name);
  if (camera.room) {
    const room = document.createElement("div");
    room.className = "camera-room";
    room.textContent = t("room", { room: camera.room });
    about.append(room);
  }
  const state = document.createElement("div");
  state.className = allowed ? "camera-state live" : "camera-state";
  state.textContent = allowed ? t("live_now") : t("not_available", { reason });
  about.append(state);
  item.append(about);
  if (allowed) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("watch");
    button.setAttribute("aria-label", t("watch_label", { name: camera.name }));
    button.addEventListener("click", () => watch(camera).catch(handleFailure));
    item.append(button);
  }
  return item;
}

// --- watching ------------------------------------------------------------------------------

async function watch(camera) {
  await stopWatching();
  fail("");
  say("connecting");
  ui.playerHeading.textContent = camera.name;
  ui.video.setAttribute("aria-label", t("video_label", { name: camera.name }));
  ui.player.hidden = false;
  const live = new LiveView(ui.video, (why) => {
    console.info(`live view ended: ${why}`);
    if (view !== live) return;
    view = null;
    ui.player.hidden = true;
    say("ended");
    refreshCameras().catch(handleFailure);
  });
  view = live;
  try {
    await live.start(`/api/cameras/${encodeURIComponent(camera.id)}/whep`);
  } catch (error) {
    if (view === live) {
      view = null;
      ui.player.hidden = true;
      say(null);
    }
    if (sessionOver(error)) throw error;
    fail(t("watch_failed", { reason: describe(error) }));
    await refreshCameras();
    return;
  }
  ui.stop.focus();
}

async function stopWatching() {
  const live = view;
  view = null;
  ui.player.hidden = true;
  if (live) await live.stop();
}

ui.video.addEventListener("playing", () => {
  if (ui.notice.textContent === t("connecting")) say(null);
});

ui.stop.addEventListener("click", async () => {
  await stopWatching();
  say("stopped");
  await refreshCameras().catch(handleFailure);
});

// --- logging in and out --------------------------------------------------------------------

ui.login.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = ui.login.querySelector("button[type=submit]");
  button.disabled = true;
  fail("");
  say(null);
  try {
    await postJson("/api/login", { username: ui.username.value, password: ui.password.value });
    ui.password.value = "";
    await showCameras();
  } catch (error) {
    ui.password.value = "";
    if (error instanceof ApiError && (error.status === 401 || error.status === 422)) {
      fail(t("login_failed"));
    } else if (error instanceof ApiError && error.status === 429) {
      fail(t("too_many_attempts", { seconds: error.retryAfter ?? "?" }));
    } else {
      fail(describe(error));
    }
    ui.password.focus();
  } finally {
    button.disabled = false;
  }
});

ui.logout.addEventListener("click", async () => {
  await stopWatching();
  try {
    await request("POST", "/api/logout");
  } catch (error) {
    if (!sessionOver(error)) {
      fail(describe(error));
      return;
    }
  }
  fail("");
  say("logged_out");
  showLogin();
});

/** The last resort for a failed call: a lost session goes back to the login form. */
function handleFailure(error) {
  if (sessionOver(error)) {
    view?.stop();
    view = null;
    say("session_over");
    showLogin();
    return;
  }
  fail(describe(error));
}

// --- start ---------------------------------------------------------------------------------

/** A public viewing link carries its token in the fragment (never sent to any server):
 * `https://device/#link=TOKEN`. It is exchanged for a session and removed from the address. */
async function openPublicLink() {
  const link = new URLSearchParams(window.location.hash.slice(1)).get("link");
  if (!link) return true;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    await postJson("/api/public/login", { link });
    return true;
  } catch (error) {
    const refused = error instanceof ApiError && [401, 422].includes(error.status);
    fail(refused ? t("link_failed") : describe(error));
    return false;
  }
}

async function start() {
  translatePage();
  if (!window.RTCPeerConnection) fail(t("no_webrtc"));
  if (!(await openPublicLink())) {
    showLogin();
    return;
  }
  try {
    await showCameras();
  } catch (error) {
    if (!sessionOver(error)) fail(describe(error));
    showLogin();
  }
}

start();
