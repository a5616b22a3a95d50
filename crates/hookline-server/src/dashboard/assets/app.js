// Hookline dashboard: a little progressive enhancement, nothing required.
// - keeps an event's deliveries and attempts current while any is pending;
// - reveals and copies an endpoint's secret;
// - asks before submitting forms marked data-confirm.
"use strict";

function pollLive() {
  const live = document.getElementById("live");
  if (!live || live.dataset.pending !== "true") return;
  setTimeout(async () => {
    try {
      const response = await fetch(live.dataset.live, { credentials: "same-origin" });
      if (response.ok) {
        live.outerHTML = await response.text();
      }
    } catch (_) {
      // Offline for a moment: try again on the next tick.
    }
    pollLive();
  }, 2000);
}

function secrets() {
  document.querySelectorAll("[data-reveal]").forEach((button) => {
    const box = button.closest(".secret");
    const code = box.querySelector("[data-secret-for]");
    const copy = box.querySelector("[data-copy]");
    button.addEventListener("click", async () => {
      if (button.dataset.shown) {
        code.textContent = "whsec_••••••••••••••••";
        button.textContent = "Reveal";
        delete button.dataset.shown;
        copy.hidden = true;
        return;
      }
      const response = await fetch(code.dataset.secretFor, { credentials: "same-origin" });
      if (!response.ok) return;
      code.textContent = (await response.json()).secret;
      button.textContent = "Hide";
      button.dataset.shown = "1";
      copy.hidden = false;
    });
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(code.textContent);
        copy.textContent = "Copied";
        setTimeout(() => (copy.textContent = "Copy"), 1500);
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
      }
    });
  });
}

function confirmations() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  pollLive();
  secrets();
  confirmations();
});
