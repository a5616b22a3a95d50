// Hookline dashboard: a little progressive enhancement, nothing required.
// - keeps an event's deliveries and attempts current while any is pending;
// - reveals and copies an endpoint's secret;
// - asks before submitting forms marked data-confirm;
// - shows times relative ("3 min ago"), the exact time on hover;
// - "Test filter" posts the endpoint form to try its filter, saving nothing;
// - "Copy as curl" copies an attempt's request as a shell command.
"use strict";

function pollLive() {
  const live = document.getElementById("live");
  if (!live || live.dataset.pending !== "true") return;
  setTimeout(async () => {
    try {
      const response = await fetch(live.dataset.live, { credentials: "same-origin" });
      if (response.ok) {
        live.outerHTML = await response.text();
        relativeTimes();
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

// Copies the text of the element a button names; where the clipboard is
// refused (an http page, a frame without clipboard-write), the text is
// shown and selected for the user to copy.
function copyButtons() {
  document.querySelectorAll("button[data-copy-from]").forEach((button) => {
    const source = document.getElementById(button.dataset.copyFrom);
    if (!source) return;
    const label = button.textContent;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch (_) {
        const details = source.closest("details");
        if (details) details.open = true;
        const range = document.createRange();
        range.selectNodeContents(source);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => (button.textContent = label), 2000);
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

// A plain button, not a second submit button, so that Enter in a field
// still saves the form.
function filterTrials() {
  document.querySelectorAll("button[data-filter-trial]").forEach((button) => {
    button.addEventListener("click", () => {
      const form = button.closest("form");
      const intent = document.createElement("input");
      intent.type = "hidden";
      intent.name = "intent";
      intent.value = "test-filter";
      form.appendChild(intent);
      form.submit();
    });
  });
}

function relative(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  const [n, unit] =
    s < 45 ? [s, "s"] : s < 2700 ? [Math.round(s / 60), "min"] :
    s < 64800 ? [Math.round(s / 3600), "h"] : [Math.round(s / 86400), "d"];
  if (unit === "s" && n < 5) return "just now";
  return ms <= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

function relativeTimes() {
  document.querySelectorAll("time[datetime]").forEach((el) => {
    const at = Date.parse(el.getAttribute("datetime"));
    if (Number.isNaN(at)) return;
    el.textContent = relative(at - Date.now());
  });
}

document.addEventListener("DOMContentLoaded", () => {
  relativeTimes();
  setInterval(relativeTimes, 30000);
  pollLive();
  secrets();
  confirmations();
  filterTrials();
  copyButtons();
});
