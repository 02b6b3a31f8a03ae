// Watching one camera with WHEP: the page offers to receive one video track (never audio, and
// it sends nothing), the device answers, and the Location it returns ends the session.
//
// A camera the device publishes to a relay is watched there instead (startOnRelay): the device
// gives this login a ticket for the camera, the page presents it to the relay, which offers the
// stream (the page answers), and the page renews the ticket before it runs out while the device
// still allows it. The relay ends the session when the ticket expires (the end of the viewing
// window) or the device revokes it.

import { ApiError, postJson, request } from "./api.js";

// Gathering usually completes in milliseconds on a LAN; a stuck gatherer must not hang the page,
// and the candidates found so far are enough to reach a device on the same network.
const GATHER_TIMEOUT_MS = 3000;
// Stop must not hang on a device that went away.
const DELETE_TIMEOUT_MS = 3000;
// A relay ticket is renewed this long before it expires (or halfway, for a short one).
const RENEW_BEFORE_S = 60;

// The device's answers that mean "watch on the device, not on the relay".
const NOT_ON_RELAY = new Set(["not_on_relay", "watch_on_device"]);

/** A request to the relay: its errors are plain text, not the device's JSON. */
async function relayRequest(method, url, ticket, { body, contentType, signal } = {}) {
  const headers = { Authorization: `Bearer ${ticket}` };
  if (body !== undefined) headers["Content-Type"] = contentType;
  const response = await fetch(url, { method, headers, body, cache: "no-store", signal });
  if (!response.ok) {
    const reason = (await response.text().catch(() => "")).trim() || response.statusText;
    throw new ApiError(response.status, "relay_refused", reason, null);
  }
  return response;
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * One live view in a <video> element. `onEnded(why)` is called once if the device ends the
 * session (its transport or the connection fails or closes, or the track ends); not after
 * `stop()`.
 */
export class LiveView {
  #video;
  #onEnded;
  #pc = null;
  #sessionUrl = null;
  #over = false;
  #relay = null; // on a relay: { resource, ticket, expiresAt, ticketPath, timer }

  constructor(video, onEnded) {
    this.#video = video;
    this.#onEnded = onEnded;
  }

  /** Offers, waits for the answer and starts playing; throws ApiError when refused. */
  async start(offerPath) {
    const pc = new RTCPeerConnection(); // no STUN/TURN: the page talks to the device directly
    this.#pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    this.#listen(pc);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      const response = await request("POST", offerPath, {
        body: pc.localDescription.sdp,
        contentType: "application/sdp",
      });
      const location = response.headers.get("Location");
      const sessionUrl = location ? new URL(location, window.location.href).pathname : null;
      if (this.#over) {
        // stopped while the offer was on its way: end the session the device just opened
        if (sessionUrl) await request("DELETE", sessionUrl).catch(() => {});
        return;
      }
      this.#sessionUrl = sessionUrl;
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
      this.#watchTransport(pc);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Watches on the relay with a ticket from `ticketPath`; returns false (and does nothing) when
   * the device says to watch on it instead. Throws ApiError when refused.
   */
  async startOnRelay(ticketPath) {
    let ticket;
    try {
      ticket = await postJson(ticketPath);
    } catch (error) {
      if (error instanceof ApiError && NOT_ON_RELAY.has(error.code)) return false;
      throw error;
    }
    const pc = new RTCPeerConnection(); // the relay is reached on its public address
    this.#pc = pc;
    this.#listen(pc);
    try {
      const offered = await relayRequest("POST", ticket.whep_url, ticket.ticket);
      const resource = new URL(offered.headers.get("Location"), ticket.whep_url).href;
      this.#relay = { resource, ticket: ticket.ticket, expiresAt: ticket.expires_at, ticketPath };
      if (this.#over) return true; // stop() ran meanwhile and ended the subscription
      await pc.setRemoteDescription({ type: "offer", sdp: await offered.text() });
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheringComplete(pc);
      await relayRequest("PATCH", resource, ticket.ticket, {
        body: pc.localDescription.sdp,
        contentType: "application/sdp",
      });
      this.#watchTransport(pc);
      this.#scheduleRenewal();
    } catch (error) {
      await this.stop();
      throw error;
    }
    return true;
  }

  // Before the ticket runs out, get a new one from the device and hand it to the relay. The
  // device refuses once the viewer may no longer watch (the window ended, revoked): the relay
  // then ends the session at the ticket's expiry, and onEnded tells the page.
  #scheduleRenewal() {
    const relay = this.#relay;
    if (!relay || this.#over) return;
    const left = relay.expiresAt - Date.now() / 1000;
    const wait = Math.max(1, Math.min(left - RENEW_BEFORE_S, left / 2));
    relay.timer = setTimeout(() => this.#renew().catch(() => {}), wait * 1000);
  }

  async #renew() {
    const relay = this.#relay;
    if (!relay || this.#over) return;
    const fresh = await postJson(relay.ticketPath);
    if (fresh.expires_at <= relay.expiresAt) return; // the window ends then: nothing to renew
    await relayRequest("POST", `${relay.resource}/renew`, fresh.ticket);
    relay.ticket = fresh.ticket;
    relay.expiresAt = fresh.expires_at;
    this.#scheduleRenewal();
  }

  /** Ends the session on the device or the relay (if it still exists) and stops playing. */
  async stop() {
    const url = this.#sessionUrl;
    const relay = this.#relay;
    this.#over = true;
    this.#sessionUrl = null;
    this.#relay = null;
    this.#detachVideo();
    if (relay) {
      clearTimeout(relay.timer);
      await relayRequest("DELETE", relay.resource, relay.ticket, {
        signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
      }).catch(() => {}); // the relay ended it already, or cannot be reached
    }
    if (url) {
      // DELETE before closing the connection: closing first makes the device end the session
      // on its own, and the DELETE would then find nothing
      try {
        await request("DELETE", url, { signal: AbortSignal.timeout(DELETE_TIMEOUT_MS) });
      } catch {
        // the device ended it already, or cannot be reached: nothing left to end
      }
    }
    this.#closePeer();
  }

  #listen(pc) {
    pc.addEventListener("track", (event) => {
      event.track.addEventListener("ended", () => this.#ended("track ended"));
      this.#video.srcObject = new MediaStream([event.track]);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        this.#ended(`connection ${pc.connectionState}`);
      }
    });
  }

  // When the device ends a session it closes DTLS (close_notify): the transport says "closed"
  // at once, while the connection state would only turn "failed" after ICE gives up (~15 s).
  #watchTransport(pc) {
    const transport = pc.getReceivers()[0]?.transport;
    transport?.addEventListener("statechange", () => {
      if (transport.state === "closed" || transport.state === "failed") {
        this.#ended(`transport ${transport.state}`);
      }
    });
  }

  #ended(why) {
    if (this.#over) return;
    this.#finish();
    this.#onEnded(why);
  }

  #finish() {
    this.#over = true;
    this.#sessionUrl = null;
    if (this.#relay) clearTimeout(this.#relay.timer);
    this.#relay = null;
    this.#detachVideo();
    this.#closePeer();
  }

  #detachVideo() {
    const stream = this.#video.srcObject;
    if (stream) for (const track of stream.getTracks()) track.stop();
    this.#video.srcObject = null;
  }

  #closePeer() {
    this.#pc?.close();
    this.#pc = null;
  }
}
