// Streaming setup: one wizard per camera and profile (home, kindergarten, merchant). Each gate the
// profile needs is a step, explained in plain words, with the form that opens it and, when it is
// closed, the server's reason (re-read every few seconds, so a lapse shows at once). Start is
// offered only when every gate holds; the server checks again anyway.

import { ApiError, getJson, postJson, request } from "./api.js";
import { add, button, field, fill, formatDateTime, h } from "./dom.js";
import { addTexts, t } from "./i18n.js";
import { describeSchedule, scheduleEditor } from "./schedule.js";

addTexts({
  en: {
    streaming_heading: "Live streaming",
    streaming_intro:
      "Your camera records privately for you. Streaming live to other people is off until every step below is done. Faces are covered in every streamed frame, and when the camera cannot vouch for a frame, a \"privacy hold\" picture goes out instead.",
    profile: "Profile: {profile}",
    profile_home: "home",
    profile_kindergarten: "kindergarten",
    profile_merchant: "shop",
    state_streaming: "Streaming live now",
    state_monitoring: "Not streaming: private monitoring only",
    gate_open: "Done",
    gate_closed: "To do",
    why_closed: "Why it is closed: {reason}",
    start_stream: "Start streaming",
    stop_stream: "Stop streaming",
    stream_started: "The live stream has started. The red light on the camera is on.",
    stream_stopped: "The live stream has stopped.",
    start_blocked: "Finish the steps marked \"To do\" first.",
    last_stop: "Last stopped: {reason}",
    gate_indicator: "Recording light",
    gate_indicator_text:
      "A red light on the camera shows everyone nearby when it streams. Streaming is refused if the light cannot be switched on.",
    gate_opt_in: "Your explicit choice",
    gate_opt_in_text:
      "Streaming is never on by default. Type the sentence below to say that you want this camera to stream.",
    opt_in_type: "Type: {phrase}",
    opt_in: "Opt in",
    opt_out: "Withdraw the opt-in",
    opted_in: "You opted in.",
    gate_registration: "The person responsible",
    gate_registration_text_owner:
      "Real-name registration of the owner who is responsible for the stream. Your ID number is stored encrypted and only its last digits are shown again.",
    gate_registration_text_institution:
      "Real-name registration of the kindergarten (its Unified Social Credit Code) and the person responsible.",
    gate_registration_text_business:
      "Real-name registration of the business (its Unified Social Credit Code, as on the business licence) and the person responsible.",
    reg_name: "Full name of the person responsible",
    reg_organisation: "Name of the kindergarten or business, as registered",
    reg_document: "Identity document",
    doc_resident_id: "PRC resident ID card (also HK/Macao/Taiwan residence permits)",
    doc_passport: "Passport",
    doc_hk_macao_permit: "Mainland Travel Permit for Hong Kong and Macao Residents",
    doc_taiwan_permit: "Mainland Travel Permit for Taiwan Residents",
    reg_number: "Document number",
    reg_country: "Issuing country (two letters, e.g. GB, US, DE)",
    reg_resident_id: "Resident ID number (18 characters)",
    reg_uscc: "Unified Social Credit Code (18 characters)",
    reg_submit: "Register",
    reg_done: "Registered: {name}, ID {masked}",
    reg_revoke: "Revoke",
    reg_revoke_reason: "Why is the registration revoked?",
    registered: "The registration is recorded.",
    gate_live_viewing_allowed: "Allowed where you are",
    gate_live_viewing_allowed_text:
      "Live viewing of childcare must be permitted for your jurisdiction. This is set in the device's configuration by the installer (streaming.live_childcare_viewing_permitted).",
    gate_guardian_consent: "Guardians' consent",
    gate_guardian_consent_text:
      "Parents may only watch when the guardians have agreed in writing. Record where the signed forms are kept, how many guardians signed and until when they are valid.",
    consent_reference: "Where the signed forms are kept",
    consent_guardians: "Number of guardians who signed",
    consent_until: "Valid until",
    consent_submit: "Record the consent",
    consent_done: "Consent of {n} guardians ({reference}), valid until {date}",
    consent_revoke: "Revoke the consent",
    gate_notice_posted: "The posted notice",
    gate_notice_posted_text:
      "Customers must be told before they are filmed. Make the sign, print it, post it where the camera sees, then confirm that it is posted. Its QR code opens a page that explains the stream.",
    notice_operator: "Shop or company name",
    notice_purpose: "Why the shop streams",
    notice_contact: "Contact (phone or e-mail)",
    notice_hours: "Streaming hours (printed on the sign, and enforced)",
    notice_public_url: "The camera's public address (its QR code opens this)",
    notice_public_url_hint:
      "An https:// address customers' phones can open from the internet. Leave it empty to use the one the installer configured.",
    notice_preview: "The sign as it will print",
    notice_make: "Make the sign",
    notice_made: "The sign is ready. Download it, print it and post it.",
    notice_download: "Download the sign (PDF)",
    notice_view: "Open the sign",
    notice_page: "The page its QR code opens",
    notice_attest_check: "I have posted this sign where the camera is and where customers see it.",
    notice_attest: "Confirm the sign is posted",
    notice_attested: "Confirmed posted on {date}.",
    notice_remake: "Make a new sign",
    gate_notice_current: "Notice re-confirmed",
    gate_notice_current_text:
      "Confirm again at least every 30 days that the sign is still posted. You are reminded before it lapses.",
    gate_notice_hours: "Within the posted hours",
    gate_notice_hours_text: "The stream only runs during the hours printed on the sign: {hours}.",
    no_notice_hours: "The hours come from the sign.",
    autostart_label: "Start by itself inside the posted hours every day, and stop after them",
    autostart_on: "Automatic start is on.",
    autostart_off: "Automatic start is off.",
    autostart_next_start: "Next start: {time}",
    autostart_next_stop: "Stops at: {time}",
    autostart_waiting: "Waiting for: {gates}",
    autostart_paused: "Paused after a manual stop until {time}.",
    reattest_due: "Confirm that the sign is still posted by {date}, or the stream stops then.",
    reattest_lapsed: "The sign's confirmation has lapsed: confirm it is still posted to stream again.",
  },
  zh: {
    streaming_heading: "直播",
    streaming_intro:
      "摄像头只为您私密录像。只有完成以下所有步骤后，才能向他人直播。每一帧直播画面中的人脸都会被遮挡；当摄像头无法确认某一帧安全时，会改为播出“隐私保护暂停”画面。",
    profile: "场景：{profile}",
    profile_home: "家庭",
    profile_kindergarten: "幼儿园",
    profile_merchant: "商户",
    state_streaming: "正在直播",
    state_monitoring: "未直播：仅私密监控",
    gate_open: "已完成",
    gate_closed: "待完成",
    why_closed: "未满足原因：{reason}",
    start_stream: "开始直播",
    stop_stream: "停止直播",
    stream_started: "直播已开始，摄像头上的红灯已亮起。",
    stream_stopped: "直播已停止。",
    start_blocked: "请先完成标为“待完成”的步骤。",
    last_stop: "上次停止原因：{reason}",
    gate_indicator: "直播指示灯",
    gate_indicator_text: "摄像头上的红灯会在直播时亮起，让周围的人知道。如果指示灯无法点亮，将拒绝直播。",
    gate_opt_in: "您的明确同意",
    gate_opt_in_text: "直播默认关闭。请输入下面的语句，确认您希望这台摄像头直播。",
    opt_in_type: "请输入：{phrase}",
    opt_in: "确认开启",
    opt_out: "撤回同意",
    opted_in: "您已确认开启。",
    gate_registration: "直播责任人",
    gate_registration_text_owner: "对直播负责的主人需实名登记。身份证号码加密保存，之后只显示末几位。",
    gate_registration_text_institution: "幼儿园（统一社会信用代码）及负责人需实名登记。",
    gate_registration_text_business: "商户（营业执照上的统一社会信用代码）及负责人需实名登记。",
    reg_name: "责任人姓名",
    reg_organisation: "幼儿园或商户的登记名称",
    reg_document: "身份证件",
    doc_resident_id: "居民身份证（含港澳台居民居住证）",
    doc_passport: "护照",
    doc_hk_macao_permit: "港澳居民来往内地通行证",
    doc_taiwan_permit: "台湾居民来往大陆通行证",
    reg_number: "证件号码",
    reg_country: "签发国家（两位字母代码，如 GB、US、DE）",
    reg_resident_id: "居民身份证号码（18 位）",
    reg_uscc: "统一社会信用代码（18 位）",
    reg_submit: "登记",
    reg_done: "已登记：{name}，证件号 {masked}",
    reg_revoke: "撤销",
    reg_revoke_reason: "撤销登记的原因？",
    registered: "实名登记已记录。",
    gate_live_viewing_allowed: "当地允许",
    gate_live_viewing_allowed_text:
      "托育机构的实时观看必须为当地所允许。此项由安装人员在设备配置中设置（streaming.live_childcare_viewing_permitted）。",
    gate_guardian_consent: "监护人同意",
    gate_guardian_consent_text: "只有在监护人书面同意后，家长才能观看。请记录签字同意书的存放位置、签字人数和有效期。",
    consent_reference: "签字同意书的存放位置",
    consent_guardians: "签字同意的监护人人数",
    consent_until: "有效期至",
    consent_submit: "记录同意",
    consent_done: "{n} 位监护人同意（{reference}），有效期至 {date}",
    consent_revoke: "撤销同意记录",
    gate_notice_posted: "张贴告示",
    gate_notice_posted_text:
      "顾客在被拍摄前必须得到告知。请生成告示牌，打印并张贴在摄像头拍摄范围内，然后确认已张贴。告示上的二维码会打开直播说明页面。",
    notice_operator: "店铺或公司名称",
    notice_purpose: "直播目的",
    notice_contact: "联系方式（电话或邮箱）",
    notice_hours: "直播时间（印在告示上，并严格执行）",
    notice_public_url: "摄像头的公网地址（二维码打开此地址）",
    notice_public_url_hint: "顾客手机可以从互联网打开的 https:// 地址。留空则使用安装人员配置的地址。",
    notice_preview: "告示打印效果",
    notice_make: "生成告示牌",
    notice_made: "告示牌已生成。请下载、打印并张贴。",
    notice_download: "下载告示牌（PDF）",
    notice_view: "打开告示牌",
    notice_page: "二维码打开的页面",
    notice_attest_check: "我已将告示张贴在摄像头所在、顾客能看到的位置。",
    notice_attest: "确认已张贴",
    notice_attested: "已于 {date} 确认张贴。",
    notice_remake: "重新生成告示牌",
    gate_notice_current: "重新确认告示",
    gate_notice_current_text: "至少每 30 天确认一次告示仍在张贴。到期前会提醒您。",
    gate_notice_hours: "在告示时间内",
    gate_notice_hours_text: "直播只在告示上印明的时间内进行：{hours}。",
    no_notice_hours: "时间以告示为准。",
    autostart_label: "每天在告示的直播时间内自动开始直播，时间结束后自动停止",
    autostart_on: "自动开播已开启。",
    autostart_off: "自动开播已关闭。",
    autostart_next_start: "下次开始：{time}",
    autostart_next_stop: "停止时间：{time}",
    autostart_waiting: "等待：{gates}",
    autostart_paused: "手动停止后暂停至 {time}。",
    reattest_due: "请在 {date} 前确认告示仍在张贴，否则届时直播将停止。",
    reattest_lapsed: "告示确认已过期：请确认告示仍在张贴后再直播。",
  },
});

const REFRESH_MS = 5000;

export async function render(root, ctx) {
  const cameras = await getJson("/api/cameras");
  let camera = cameras[0];
  const picker = h(
    "select",
    {
      testid: "streaming-camera",
      onchange: () => {
        camera = cameras.find((c) => c.id === picker.value);
        drawn = null;
        refresh().catch(ctx.handleFailure);
      },
    },
    cameras.map((c) => h("option", { value: c.id }, c.name)),
  );
  const head = h("div", { class: "card", testid: "streaming-state" });
  const steps = h("ol", { class: "plain steps" });
  add(
    root,
    h("h2", {}, t("streaming_heading")),
    h("p", { class: "muted" }, t("streaming_intro")),
    cameras.length > 1 ? h("div", { class: "toolbar" }, picker) : null,
    h("div", { testid: "streaming-wizard" }, head, steps),
  );

  let drawn = null; // the gate names drawn, so an unchanged wizard keeps what the user typed
  const cards = new Map();

  async function refresh() {
    const [status, registrations] = await Promise.all([
      getJson(`/api/cameras/${encodeURIComponent(camera.id)}/streaming`),
      getJson("/api/registrations"),
    ]);
    drawHead(status);
    const names = status.gates.map((g) => g.gate).join(",");
    const fingerprint = JSON.stringify([
      names,
      status.gates.map((g) => g.ok),
      status.opted_in,
      status.notice?.id,
      status.notice?.attested_at,
      status.consent?.id,
      registrations.map((r) => r.id),
    ]);
    if (drawn === fingerprint) return;
    drawn = fingerprint;
    cards.clear();
    fill(
      steps,
      ...status.gates.map((gate) => {
        const element = gateCard(gate, status, registrations);
        cards.set(gate.gate, element);
        return h("li", {}, element);
      }),
    );
  }

  function drawHead(status) {
    const live = status.state === "streaming";
    fill(
      head,
      h(
        "p",
        {},
        h("strong", { class: live ? "live" : "", testid: "stream-state" }, live ? t("state_streaming") : t("state_monitoring")),
        " · ",
        t("profile", { profile: t(`profile_${status.profile}`) }),
      ),
      status.last_stop_reason && !live
        ? h("p", { class: "muted" }, t("last_stop", { reason: status.last_stop_reason }))
        : null,
      h(
        "div",
        { class: "actions" },
        live
          ? button(t("stop_stream"), () => act("stop", { reason: "stopped by the owner" }, "stream_stopped"), {
              testid: "stream-stop",
            })
          : button(t("start_stream"), () => act("start", undefined, "stream_started"), {
              testid: "stream-start",
              class: "primary",
              disabled: !status.open,
            }),
        !live && !status.open ? h("span", { class: "muted" }, t("start_blocked")) : null,
      ),
      reattestBanner(status),
      autostartToggle(status.autostart),
    );
  }

  function reattestBanner(status) {
    const due = status.reattest_due;
    if (!due) return null;
    return h(
      "div",
      { class: "card gate", testid: "reattest-due" },
      h("p", {}, due.lapsed ? t("reattest_lapsed") : t("reattest_due", { date: due.date })),
      status.notice ? attestForm(status.notice) : null,
    );
  }

  function autostartToggle(auto) {
    if (!auto?.available) return null;
    const box = h("input", { type: "checkbox", checked: auto.enabled, testid: "autostart-toggle" });
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        await postJson(`/api/cameras/${encodeURIComponent(camera.id)}/streaming/autostart`, {
          enabled: box.checked,
        });
        ctx.say(box.checked ? t("autostart_on") : t("autostart_off"));
        await refresh();
      } catch (error) {
        ctx.handleFailure(error);
      } finally {
        box.disabled = false;
      }
    });
    const facts = [
      auto.enabled && auto.next_start && !auto.in_hours
        ? t("autostart_next_start", { time: formatDateTime(auto.next_start) })
        : null,
      auto.enabled && auto.next_stop && auto.in_hours
        ? t("autostart_next_stop", { time: formatDateTime(auto.next_stop) })
        : null,
      auto.enabled && auto.waiting_for?.length
        ? t("autostart_waiting", { gates: auto.waiting_for.map((g) => t(`gate_${g}`)).join(", ") })
        : null,
      auto.enabled && auto.paused_until
        ? t("autostart_paused", { time: formatDateTime(auto.paused_until) })
        : null,
    ].filter(Boolean);
    return h(
      "div",
      { testid: "autostart" },
      h("label", {}, box, " ", t("autostart_label")),
      facts.length ? h("p", { class: "muted" }, facts.join(" · ")) : null,
    );
  }

  async function act(action, json, done) {
    await request("POST", `/api/cameras/${encodeURIComponent(camera.id)}/streaming/${action}`, { json });
    ctx.fail("");
    ctx.say(t(done));
    drawn = null;
    await refresh();
  }

  /** Runs a step's call; a refusal is shown in the step, the wizard then re-reads the state. */
  async function step(gate, call, done) {
    const where = cards.get(gate)?.querySelector(".step-error");
    if (where) where.textContent = "";
    try {
      await call();
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401 && where) {
        where.textContent = error.reason;
        return false;
      }
      throw error;
    }
    if (done) ctx.say(t(done));
    drawn = null;
    await refresh();
    return true;
  }

  function gateCard(gate, status, registrations) {
    const body = stepBody(gate.gate, status, registrations);
    return h(
      "section",
      { class: gate.ok ? "card gate ok" : "card gate", testid: `gate-${gate.gate}` },
      h(
        "h3",
        {},
        t(`gate_${gate.gate}`),
        " ",
        h("span", { class: "gate-status", testid: "gate-status" }, gate.ok ? `✓ ${t("gate_open")}` : t("gate_closed")),
      ),
      h("p", {}, explain(gate.gate, status)),
      !gate.ok && gate.reason ? h("p", { class: "muted" }, t("why_closed", { reason: gate.reason })) : null,
      body,
      h("p", { class: "step-error error", role: "alert" }),
    );
  }

  function explain(gate, status) {
    if (gate === "registration") return t(`gate_registration_text_${registrationKind(status.profile)}`);
    if (gate === "notice_hours") {
      return status.notice
        ? t("gate_notice_hours_text", { hours: describeSchedule(status.notice.hours) })
        : t("no_notice_hours");
    }
    return t(`gate_${gate}_text`);
  }

  function stepBody(gate, status, registrations) {
    switch (gate) {
      case "opt_in":
        return optInStep(status);
      case "registration":
        return registrationStep(status, registrations);
      case "guardian_consent":
        return consentStep(status);
      case "notice_posted":
        return noticeStep(status);
      case "notice_current":
        return status.notice?.attested_at ? attestForm(status.notice) : null;
      default:
        return null;
    }
  }

  function optInStep(status) {
    const base = `/api/cameras/${encodeURIComponent(camera.id)}/streaming`;
    if (status.opted_in) {
      return h(
        "div",
        { class: "actions" },
        h("span", {}, t("opted_in")),
        button(t("opt_out"), () => step("opt_in", () => request("POST", `${base}/opt-out`))),
      );
    }
    const typed = h("input", { testid: "opt-in-phrase", autocomplete: "off", spellcheck: "false" });
    const form = h(
      "form",
      {},
      field(t("opt_in_type", { phrase: status.confirmation_phrase }), typed),
      h("button", { type: "submit" }, t("opt_in")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      step("opt_in", () => postJson(`${base}/opt-in`, { confirmation: typed.value })).catch(ctx.handleFailure);
    });
    return form;
  }

  function registrationStep(status, registrations) {
    const kind = registrationKind(status.profile);
    const mine = registrations.filter((r) => r.kind === kind);
    if (mine.length) {
      return h(
        "ul",
        { class: "plain" },
        mine.map((r) =>
          h(
            "li",
            { class: "actions", testid: "registration" },
            t("reg_done", {
              name: r.organisation ? `${r.organisation} · ${r.name}` : r.name,
              masked: r.document_number ?? r.resident_id ?? "",
            }),
            button(t("reg_revoke"), async () => {
              const reason = window.prompt(t("reg_revoke_reason"));
              if (!reason) return;
              await step("registration", () =>
                postJson(`/api/registrations/${encodeURIComponent(r.id)}/revoke`, { reason }),
              );
            }),
          ),
        ),
      );
    }
    const organisation =
      kind === "owner" ? null : h("input", { name: "organisation", required: true, maxlength: 200 });
    const name = h("input", { name: "name", required: true, maxlength: 200, autocomplete: "name" });
    const documentType = h(
      "select",
      { name: "document_type" },
      ["resident_id", "passport", "hk_macao_permit", "taiwan_permit"].map((d) =>
        h("option", { value: d }, t(`doc_${d}`)),
      ),
    );
    const resident = h("input", {
      name: "resident_id",
      required: true,
      maxlength: 64,
      autocomplete: "off",
      spellcheck: "false",
      inputmode: "text",
    });
    const numberLabel = h("span", { class: "field-label" }, t("reg_resident_id"));
    const country = h("input", { name: "country", maxlength: 2, autocapitalize: "characters", spellcheck: "false" });
    const countryField = field(t("reg_country"), country);
    const syncDocument = () => {
      const passport = documentType.value === "passport";
      numberLabel.textContent = documentType.value === "resident_id" ? t("reg_resident_id") : t("reg_number");
      countryField.hidden = !passport;
      country.required = passport;
    };
    documentType.addEventListener("change", syncDocument);
    const uscc = kind === "owner" ? null : h("input", { name: "uscc", required: true, maxlength: 18, spellcheck: "false" });
    const form = h(
      "form",
      { testid: "registration-form" },
      organisation ? field(t("reg_organisation"), organisation) : null,
      uscc ? field(t("reg_uscc"), uscc) : null,
      field(t("reg_name"), name),
      field(t("reg_document"), documentType),
      h("label", { class: "field" }, numberLabel, resident),
      countryField,
      h("button", { type: "submit" }, t("reg_submit")),
    );
    syncDocument();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const json = { kind, name: name.value, document_type: documentType.value };
      if (documentType.value === "resident_id") json.resident_id = resident.value.trim();
      else json.document_number = resident.value.trim();
      if (documentType.value === "passport") json.country = country.value.trim().toUpperCase();
      if (organisation) json.organisation = organisation.value.trim();
      if (uscc) json.uscc = uscc.value.trim();
      step("registration", async () => {
        await postJson("/api/registrations", json);
        resident.value = ""; // the number leaves the page once it is sent
      }, "registered").catch(ctx.handleFailure);
    });
    return form;
  }

  function consentStep(status) {
    if (status.consent) {
      const c = status.consent;
      return h(
        "div",
        { class: "actions" },
        t("consent_done", { n: c.guardians, reference: c.reference, date: c.valid_until }),
        button(t("consent_revoke"), () =>
          step("guardian_consent", () => request("POST", `/api/consents/${encodeURIComponent(c.id)}/revoke`)),
        ),
      );
    }
    const reference = h("input", { required: true, maxlength: 200 });
    const guardians = h("input", { type: "number", min: 1, max: 10000, required: true, value: "1" });
    const until = h("input", { type: "date", required: true });
    const form = h(
      "form",
      { testid: "consent-form" },
      field(t("consent_reference"), reference),
      field(t("consent_guardians"), guardians),
      field(t("consent_until"), until),
      h("button", { type: "submit" }, t("consent_submit")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      step("guardian_consent", () =>
        postJson(`/api/cameras/${encodeURIComponent(camera.id)}/consents`, {
          reference: reference.value,
          guardians: Number(guardians.value),
          valid_until: until.value,
        }),
      ).catch(ctx.handleFailure);
    });
    return form;
  }

  function noticeStep(status) {
    const notice = status.notice;
    if (notice && !remaking) {
      return h(
        "div",
        {},
        h(
          "div",
          { class: "actions" },
          h("a", { href: notice.sign, download: `notice-${camera.id}.pdf`, class: "button", testid: "notice-download" }, t("notice_download")),
          h("a", { href: notice.sign, target: "_blank", rel: "noopener" }, t("notice_view")),
          h("a", { href: `/notice/${encodeURIComponent(notice.id)}`, target: "_blank", rel: "noopener" }, t("notice_page")),
        ),
        h("p", {}, notice.operator, " · ", describeSchedule(notice.hours)),
        h("img", {
          src: `/api/notices/${encodeURIComponent(notice.id)}/sign.png`,
          alt: t("notice_preview"),
          class: "sign-preview",
          testid: "notice-preview",
          loading: "lazy",
        }),
        notice.attested_at
          ? h("p", {}, t("notice_attested", { date: formatDateTime(notice.attested_at) }))
          : attestForm(notice),
        button(t("notice_remake"), async () => {
          remaking = true;
          drawn = null;
          await refresh();
        }),
      );
    }
    return noticeForm(notice);
  }

  let remaking = false;

  function noticeForm(previous) {
    const operator = h("input", { required: true, maxlength: 80, value: previous?.operator ?? "" });
    const purpose = h("input", { required: true, maxlength: 160, value: previous?.purpose ?? "" });
    const contact = h("input", { required: true, maxlength: 120, value: previous?.contact ?? "" });
    const hours = scheduleEditor(previous?.hours ?? null, { testid: "notice-hours" });
    const publicUrl = h("input", {
      type: "url",
      maxlength: 200,
      placeholder: "https://",
      testid: "notice-public-url",
      value: previous?.url ? new URL(previous.url).origin : "",
    });
    const form = h(
      "form",
      { testid: "notice-form" },
      field(t("notice_operator"), operator),
      field(t("notice_purpose"), purpose),
      field(t("notice_contact"), contact),
      h("div", { class: "field" }, h("span", { class: "field-label" }, t("notice_hours")), hours.element),
      field(t("notice_public_url"), publicUrl, t("notice_public_url_hint")),
      h("button", { type: "submit" }, t("notice_make")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      step(
        "notice_posted",
        async () => {
          const json = {
            operator: operator.value,
            purpose: purpose.value,
            contact: contact.value,
            hours: hours.value(),
          };
          if (publicUrl.value.trim()) json.public_url = publicUrl.value.trim();
          await postJson(`/api/cameras/${encodeURIComponent(camera.id)}/notices`, json);
          remaking = false;
        },
        "notice_made",
      ).catch(ctx.handleFailure);
    });
    return form;
  }

  function attestForm(notice) {
    const check = h("input", { type: "checkbox", required: true, testid: "notice-attest-check" });
    const form = h(
      "form",
      { testid: "notice-attest" },
      h("label", {}, check, " ", t("notice_attest_check")),
      h("button", { type: "submit" }, t("notice_attest")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      step("notice_posted", () =>
        postJson(`/api/notices/${encodeURIComponent(notice.id)}/attest`, { confirmation: "posted" }),
      ).catch(ctx.handleFailure);
    });
    return form;
  }

  await refresh();
  const timer = setInterval(() => {
    if (!document.hidden) refresh().catch(ctx.handleFailure);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

function registrationKind(profile) {
  return { home: "owner", kindergarten: "institution", merchant: "business" }[profile] ?? "owner";
}
