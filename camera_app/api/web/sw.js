// The service worker: keeps the app shell (this page, its scripts, styles and icon) so the app
// opens at once and installs on a phone. It caches nothing else: never an API answer, a
// recording, a snapshot or live video; those always come from the device, with the session.

const SHELL = "camera-shell-v1";
const SHELL_FILES = [
  "/",
  "/web/app.css",
  "/web/app.js",
  "/web/api.js",
  "/web/dom.js",
  "/web/i18n.js",
  "/web/schedule.js",
  "/web/qr.js",
  "/web/classlist.js",
  "/web/onboarding.js",
  "/web/whep.js",
  "/web/page-audit.js",
  "/web/page-events.js",
  "/web/page-join.js",
  "/web/page-live.js",
  "/web/page-masks.js",
  "/web/page-settings.js",
  "/web/page-streaming.js",
  "/web/page-viewers.js",
  "/web/icon.svg",
  "/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return url.origin === self.location.origin && SHELL_FILES.includes(url.pathname);
}

// Network first (an update shows at once); the cached shell only when the device is unreachable.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !isShell(url)) return; // the browser fetches it as usual
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request)),
  );
});
