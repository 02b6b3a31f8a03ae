// Masks: privacy masks (filled in every frame before anything records or streams it: a
// neighbour's window, a pavement) and motion masks (no event starts there: a tree, a road) drawn
// as polygons on the camera's latest picture. "Preview" shows what recordings and the stream
// will look like without saving; "Save" writes the config (validated, atomically, audited) and
// takes effect at once.

import { ApiError, getJson, request } from "./api.js";
import { add, button, fill, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: {
    masks_heading: "Privacy and motion masks",
    mask_camera: "Camera",
    masks_intro:
      "Click on the picture to place the corners of a shape, then \"Finish the shape\". A privacy mask is filled in every frame before it is recorded or streamed; a motion mask only stops motion there from starting an event.",
    mask_kind: "Drawing",
    mask_kind_privacy: "Privacy mask (hidden in recordings and streams)",
    mask_kind_motion: "Motion mask (ignored for events, still recorded)",
    mask_finish: "Finish the shape",
    mask_undo: "Undo the last corner",
    mask_cancel: "Cancel the shape",
    mask_points: "{n} corners placed",
    mask_need_three: "A shape needs at least 3 corners.",
    mask_name: "Name",
    mask_default_privacy: "Privacy mask {n}",
    mask_default_motion: "Motion mask {n}",
    mask_remove: "Remove",
    masks_privacy_list: "Privacy masks",
    masks_motion_list: "Motion masks",
    masks_none: "None.",
    mask_preview: "Preview",
    mask_preview_heading: "How recordings and the stream will look",
    mask_save: "Save",
    mask_saved: "The masks are saved and in force.",
    mask_reload: "New picture",
    mask_picture: "The camera's latest picture with the masks drawn on it",
    mask_not_editable: "This device's configuration is not a file the app may change; masks are set by the installer.",
    mask_no_picture: "There is no picture from the camera yet.",
  },
  zh: {
    masks_heading: "隐私遮挡与移动侦测屏蔽区",
    mask_camera: "摄像头",
    masks_intro:
      "在画面上点击放置形状的各个角点，然后点“完成形状”。隐私遮挡区在录像或直播之前就会在每一帧中被填充；移动侦测屏蔽区只是让该区域的移动不触发事件。",
    mask_kind: "正在绘制",
    mask_kind_privacy: "隐私遮挡区（录像和直播中都被遮挡）",
    mask_kind_motion: "移动侦测屏蔽区（不触发事件，仍会录像）",
    mask_finish: "完成形状",
    mask_undo: "撤销上一个角点",
    mask_cancel: "取消此形状",
    mask_points: "已放置 {n} 个角点",
    mask_need_three: "一个形状至少需要 3 个角点。",
    mask_name: "名称",
    mask_default_privacy: "隐私遮挡 {n}",
    mask_default_motion: "移动屏蔽 {n}",
    mask_remove: "删除",
    masks_privacy_list: "隐私遮挡区",
    masks_motion_list: "移动侦测屏蔽区",
    masks_none: "无。",
    mask_preview: "预览",
    mask_preview_heading: "录像和直播的效果",
    mask_save: "保存",
    mask_saved: "遮挡区已保存并立即生效。",
    mask_reload: "刷新画面",
    mask_picture: "摄像头最新画面及其上绘制的遮挡区",
    mask_not_editable: "此设备的配置不是应用可以修改的文件；遮挡区由安装人员设置。",
    mask_no_picture: "摄像头还没有画面。",
  },
});

const PRIVACY_FILL = "rgba(0, 0, 0, 0.55)";
const MOTION_STROKE = "#ffb300";

export async function render(root, ctx) {
  const cameras = await getJson("/api/cameras");
  // each camera has its own masks: #/masks/<camera id> picks one (the first by default)
  const wanted = decodeURIComponent(window.location.hash.split("/")[2] ?? "");
  const camera = cameras.find((c) => c.id === wanted) ?? cameras[0];
  const picker = h(
    "select",
    {
      testid: "mask-camera",
      onchange: () => (window.location.hash = `#/masks/${encodeURIComponent(picker.value)}`),
    },
    cameras.map((c) => h("option", { value: c.id, selected: c.id === camera.id }, c.name)),
  );
  const base = `/api/cameras/${encodeURIComponent(camera.id)}`;
  const loaded = await getJson(`${base}/masks`);
  const state = {
    privacy: loaded.privacy_masks.map((m) => ({ ...m })),
    motion: loaded.motion_masks.map((m) => ({ ...m })),
    color: loaded.color_bgr,
    drawing: [],
    kind: "privacy",
  };
  let previewUrl = null;

  const picture = h("img", { alt: t("mask_picture"), testid: "mask-picture" });
  const canvas = h("canvas", { testid: "mask-canvas", "aria-label": t("mask_picture"), role: "img" });
  const stage = h("div", { class: "mask-stage" }, picture, canvas);
  const kind = h(
    "select",
    { testid: "mask-kind", onchange: () => (state.kind = kind.value) },
    h("option", { value: "privacy" }, t("mask_kind_privacy")),
    h("option", { value: "motion" }, t("mask_kind_motion")),
  );
  const progress = h("span", { class: "muted", testid: "mask-progress" });
  const lists = h("div", {});
  const preview = h("div", { testid: "mask-preview" });
  const editable = loaded.editable !== false;

  add(
    root,
    h("h2", {}, t("masks_heading")),
    h("p", { class: "muted" }, t("masks_intro")),
    cameras.length > 1
      ? h("div", { class: "toolbar" }, h("label", {}, t("mask_camera"), " ", picker))
      : null,
    editable ? null : h("p", { class: "card" }, t("mask_not_editable")),
    h(
      "div",
      { testid: "mask-editor", class: "columns" },
      h(
        "div",
        {},
        h("div", { class: "toolbar" }, h("label", {}, t("mask_kind"), " ", kind)),
        stage,
        h(
          "div",
          { class: "actions" },
          button(t("mask_finish"), () => finish(), { testid: "mask-finish", class: "primary" }),
          button(t("mask_undo"), () => {
            state.drawing.pop();
            draw();
          }),
          button(t("mask_cancel"), () => {
            state.drawing = [];
            draw();
          }),
          progress,
        ),
        preview,
      ),
      h(
        "aside",
        {},
        lists,
        h(
          "div",
          { class: "actions" },
          button(t("mask_preview"), () => showPreview(), { testid: "mask-preview-button" }),
          button(t("mask_save"), () => save(), { testid: "mask-save", class: "primary", disabled: !editable }),
          button(t("mask_reload"), () => loadPicture()),
        ),
      ),
    ),
  );

  function loadPicture() {
    picture.src = `${base}/preview.jpg?at=${Date.now()}`;
  }
  picture.addEventListener("load", () => {
    canvas.width = picture.naturalWidth;
    canvas.height = picture.naturalHeight;
    draw();
  });
  picture.addEventListener("error", () => ctx.fail(t("mask_no_picture")));

  canvas.addEventListener("pointerdown", (event) => {
    const box = canvas.getBoundingClientRect();
    const x = clamp((event.clientX - box.left) / box.width);
    const y = clamp((event.clientY - box.top) / box.height);
    state.drawing.push([round(x), round(y)]);
    draw();
  });

  function finish() {
    if (state.drawing.length < 3) {
      ctx.fail(t("mask_need_three"));
      return;
    }
    ctx.fail("");
    const list = state[state.kind];
    const n = list.length + 1;
    list.push({ name: t(`mask_default_${state.kind}`, { n }), points: state.drawing });
    state.drawing = [];
    draw();
  }

  function draw() {
    progress.textContent = state.drawing.length ? t("mask_points", { n: state.drawing.length }) : "";
    const paint = canvas.getContext("2d");
    const w = canvas.width;
    const hgt = canvas.height;
    paint.clearRect(0, 0, w, hgt);
    const path = (points) => {
      paint.beginPath();
      points.forEach(([x, y], i) => (i ? paint.lineTo(x * w, y * hgt) : paint.moveTo(x * w, y * hgt)));
      paint.closePath();
    };
    paint.lineWidth = Math.max(2, w / 320);
    for (const mask of state.privacy) {
      path(mask.points);
      paint.fillStyle = PRIVACY_FILL;
      paint.fill();
      paint.strokeStyle = "#fff";
      paint.stroke();
    }
    paint.setLineDash([8, 6]);
    for (const mask of state.motion) {
      path(mask.points);
      paint.strokeStyle = MOTION_STROKE;
      paint.stroke();
    }
    paint.setLineDash([]);
    if (state.drawing.length) {
      paint.strokeStyle = state.kind === "privacy" ? "#e53935" : MOTION_STROKE;
      paint.beginPath();
      state.drawing.forEach(([x, y], i) => (i ? paint.lineTo(x * w, y * hgt) : paint.moveTo(x * w, y * hgt)));
      paint.stroke();
      paint.fillStyle = paint.strokeStyle;
      for (const [x, y] of state.drawing) paint.fillRect(x * w - 4, y * hgt - 4, 8, 8);
    }
    drawLists();
  }

  function drawLists() {
    const section = (which, title) =>
      h(
        "section",
        { class: "card", testid: `mask-list-${which}` },
        h("h3", {}, title),
        state[which].length
          ? h(
              "ul",
              { class: "plain" },
              state[which].map((mask, i) => {
                const name = h("input", { value: mask.name, maxlength: 64, "aria-label": t("mask_name") });
                name.addEventListener("change", () => (mask.name = name.value.trim() || mask.name));
                return h(
                  "li",
                  { class: "actions", testid: "mask-item" },
                  name,
                  h(
                    "button",
                    {
                      type: "button",
                      class: "link",
                      onclick: () => {
                        state[which].splice(i, 1);
                        draw();
                      },
                    },
                    t("mask_remove"),
                  ),
                );
              }),
            )
          : h("p", { class: "muted" }, t("masks_none")),
      );
    fill(lists, section("privacy", t("masks_privacy_list")), section("motion", t("masks_motion_list")));
  }

  function body() {
    return { privacy_masks: state.privacy, motion_masks: state.motion, color_bgr: state.color };
  }

  async function showPreview() {
    const response = await request("POST", `${base}/masks/preview`, { json: body() });
    const blob = await response.blob();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    fill(preview, h("h3", {}, t("mask_preview_heading")), h("img", { src: previewUrl, alt: t("mask_preview_heading"), class: "preview" }));
  }

  async function save() {
    try {
      await request("PUT", `${base}/masks`, { json: body() });
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) {
        ctx.fail(error.reason);
        return;
      }
      throw error;
    }
    ctx.fail("");
    ctx.say(t("mask_saved"));
    setTimeout(loadPicture, 500); // the next frame already has the new masks
  }

  loadPicture();
  drawLists();
  return () => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
  };
}

function clamp(v) {
  return Math.min(1, Math.max(0, v));
}

function round(v) {
  return Math.round(v * 10000) / 10000;
}
