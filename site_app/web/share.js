// Handing a link over from a phone: the system's share sheet where the browser has one (WeChat,
// messages, mail), and a copy to the clipboard. Used for invite links (import.js) and password
// reset links (staff.js).

import { button } from "./dom.js";
import { addTexts, t } from "./i18n.js";

addTexts({
  en: { share: "Share", copy_link: "Copy link", link_copied: "Link copied." },
  zh: { share: "分享", copy_link: "复制链接", link_copied: "链接已复制。" },
});

/** The Share (when the browser can) and Copy buttons for `url`; `copied(text)` is told when
 * the link was copied, to say so where the page wants. */
export function shareButtons({ title, text, url }, copied) {
  const share = navigator.share
    ? button(t("share"), async () => {
        await navigator.share({ title, text, url }).catch(() => {});
      })
    : null;
  const copy = button(t("copy_link"), async () => {
    await navigator.clipboard?.writeText(url).catch(() => {});
    copied(t("link_copied"));
  });
  return [share, copy];
}
