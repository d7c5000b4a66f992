// The overview's next steps and live status, read again from this page's own URL (same
// origin, the visitor's cookie) every 15 seconds while the tab is shown and whenever it
// regains focus; the server renders them, so this script only swaps the two sections.
(() => {
  "use strict";
  const SECTIONS = ["next-steps", "status"];
  const EVERY_MS = 15000;
  if (!document.getElementById("status")) return; // anonymous: nothing live to show
  let busy = false;

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(location.href, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store",
      });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of SECTIONS) {
        const now = document.getElementById(id);
        const next = fresh.getElementById(id);
        if (now && next) now.replaceChildren(...next.childNodes);
      }
    } catch (error) {
      // offline or the server restarting: keep what is shown, try again later
    } finally {
      busy = false;
    }
  }

  setInterval(refresh, EVERY_MS);
  window.addEventListener("focus", refresh);
  document.addEventListener("visibilitychange", refresh);
})();
