// Progressive enhancement for the client portal; every form works without it.
// Last-minute opt-ins: each tick saves on its own, so the Save button is not needed.
for (const form of document.querySelectorAll("form[data-optins]")) {
  const status = form.querySelector(".optin-status");
  const save = form.querySelector("[data-optins-save]");
  if (save) save.hidden = true;
  form.addEventListener("change", async (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "optin") return;
    const label = box.closest(".optin");
    const state = label && label.querySelector(".optin-state");
    const body = new URLSearchParams({
      csrf_token: form.elements.csrf_token.value,
      template_slot_id: box.value,
      on: box.checked ? "yes" : "no",
    });
    box.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      if (label) label.classList.toggle("on", box.checked);
      if (state) state.textContent = box.checked ? "Yes" : "No";
      if (status) status.textContent = "Saved.";
    } catch {
      box.checked = !box.checked; // show what is really stored
      if (status) status.textContent = "Could not save. Check your connection and try again.";
    } finally {
      box.disabled = false;
    }
  });
}

// The offer page's "Held for you for": counts down each second from the lock's end (the
// server's minutes are the fallback). At zero it says so and the Accept button is disabled:
// the server would refuse it anyway, and a dead button beats a surprise.
for (const clock of document.querySelectorAll("[data-countdown]")) {
  const ends = Date.parse(clock.dataset.countdown);
  if (Number.isNaN(ends)) continue;
  const accept = clock.closest("section")?.querySelector("button[type=submit]");
  const tick = () => {
    const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    clock.textContent = left > 0 ? `${minutes}:${seconds}` : "Time is up";
    clock.setAttribute("aria-label", left > 0 ? `${minutes} minutes ${seconds} seconds left` : "Time is up");
    if (left === 0) {
      if (accept) accept.disabled = true;
      clearInterval(timer);
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
}
