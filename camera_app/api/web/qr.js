// A QR code drawn on a canvas from the modules the device computed (POST /api/qr): the link it
// holds never goes to an outside QR service, and no image library is needed in the browser.

import { postJson } from "./api.js";
import { h } from "./dom.js";

/** A canvas showing `text` as a QR code, `pixels` wide, with its text as the accessible name. */
export async function qrCanvas(text, { pixels = 220, label = text, testid = "qr-code" } = {}) {
  const { size, border, rows } = await postJson("/api/qr", { text });
  const modules = size + 2 * border;
  const scale = Math.max(2, Math.floor(pixels / modules));
  const canvas = h("canvas", {
    width: modules * scale,
    height: modules * scale,
    role: "img",
    "aria-label": label,
    testid,
    class: "qr",
  });
  const paint = canvas.getContext("2d");
  paint.fillStyle = "#fff";
  paint.fillRect(0, 0, canvas.width, canvas.height);
  paint.fillStyle = "#000";
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) {
      if (row[x] === "1") paint.fillRect((x + border) * scale, (y + border) * scale, scale, scale);
    }
  });
  return canvas;
}
