// Watching one camera with WHEP: the page offers to receive one video track (never audio, and
// it sends nothing), the device answers, and the Location it returns ends the session.

import { request } from "./api.js";

// Gathering usually completes in milliseconds on a LAN; a stuck gatherer must not hang the page,
// and the candidates found so far are enough to reach a device on the same network.
const GATHER_TIMEOUT_MS = 3000;
// Stop must not hang on a device that went away.
const DELETE_TIMEOUT_MS = 3000;

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

  constructor(video, onEnded) {
    this.#video = video;
    this.#onEnded = onEnded;
  }

  /** Offers, waits for the answer and starts playing; throws ApiError when refused. */
  async start(offerPath) {
    const pc = new RTCPeerConnection(); // no STUN/TURN: the page talks to the device directly
    this.#pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => {
      event.track.addEventListener("ended", () => this.#ended("track ended"));
      this.#video.srcObject = new MediaStream([event.track]);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        this.#ended(`connection ${pc.connectionState}`);
      }
    });
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

  /** Ends the session on the device (if it still exists) and stops playing. */
  async stop() {
    const url = this.#sessionUrl;
    this.#over = true;
    this.#sessionUrl = null;
    this.#detachVideo();
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
