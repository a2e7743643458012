// Progressive enhancement only: every page works without this file.
// Copy buttons: <button data-copy="input-id"> copies that field's value.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select(); // no clipboard access: leave it selected for Ctrl/Cmd+C
    return;
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});

// The 30-minute grid (macros/grid.html). Without this script every cell is a link in the
// tab order: a week is some 200 Tab presses. Here the grid becomes one tab stop (a roving
// tabindex): Tab lands on one cell, the arrow keys move between half-hours (up/down) and
// days (left/right), Home/End go to a day's first/last cell, Enter follows the link.
// A grid that scrolls inside its own box (a week on a phone) opens at that first tab
// stop: now in today's column, or the week's first session, instead of Monday 07:00.
const ROW = /(?:^|\s)r(\d+)(?:\s|$)/;
const SPAN = /(?:^|\s)s(\d+)(?:\s|$)/;

function gridCell(link) {
  const row = Number((link.className.match(ROW) || [])[1] || 0);
  const span = Number((link.className.match(SPAN) || [])[1] || 1);
  return { link, row, end: row + span - 1 };
}

function enhanceGrid(region) {
  // One column per day of cells ("+" cells and blocks), each sorted top to bottom. Every
  // row of a day is covered by exactly one cell, so no column is empty.
  const days = [...region.querySelectorAll("section.day")];
  const columns = days.map((day) =>
    [...day.querySelectorAll(".day-grid a")].map(gridCell).sort((a, b) => a.row - b.row));
  if (!columns.length || columns.some((cells) => !cells.length)) return;
  const where = new Map();
  columns.forEach((cells, x) => cells.forEach((cell, y) => where.set(cell.link, [x, y])));
  const covering = (x, row) =>
    columns[x].find((c) => c.row <= row && row <= c.end) || columns[x][columns[x].length - 1];

  // The first tab stop: today's column (else the first column holding the focus row's
  // block), at the focus row.
  const focusRow = Number(region.dataset.focusRow || 1);
  let startX = days.findIndex((day) => day.classList.contains("today"));
  if (startX < 0) {
    startX = Math.max(0, columns.findIndex((cells) =>
      cells.some((c) => c.link.classList.contains("slot") && c.row === focusRow)));
  }
  let current = covering(startX, focusRow).link;
  for (const [link] of where) link.tabIndex = link === current ? 0 : -1;

  const moveTo = (link) => {
    current.tabIndex = -1;
    link.tabIndex = 0;
    current = link;
    link.focus();
  };
  region.addEventListener("focusin", (event) => {
    // A click or a screen reader's own navigation can focus any cell: follow it.
    if (where.has(event.target) && event.target !== current) {
      current.tabIndex = -1;
      current = event.target;
      current.tabIndex = 0;
    }
  });
  region.addEventListener("keydown", (event) => {
    if (!where.has(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    const [x, y] = where.get(event.target);
    const cells = columns[x];
    const here = cells[y];
    let next = null;
    if (event.key === "ArrowDown") next = cells[y + 1];
    else if (event.key === "ArrowUp") next = cells[y - 1];
    else if (event.key === "Home") next = cells[0];
    else if (event.key === "End") next = cells[cells.length - 1];
    else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const nx = x + (event.key === "ArrowRight" ? 1 : -1);
      if (nx >= 0 && nx < columns.length) next = covering(nx, here.row);
    } else return;
    event.preventDefault(); // arrows would scroll the page; at an edge, stay put
    if (next) moveTo(next.link);
  });

  const help = document.getElementById("grid-help");
  if (help) {
    help.hidden = false;
    region.setAttribute("aria-describedby", help.id);
  }

  // A grid that scrolls inside its own box opens with the first tab stop at its top and
  // its day first (under the sticky day names, beside the times); a grid that the page
  // scrolls as a whole is left alone, where the reader is.
  const box = region.getBoundingClientRect();
  const head = region.querySelector(".day-head");
  const gutter = region.querySelector(".week-times");
  if (region.scrollHeight > region.clientHeight + 1) {
    const top = current.getBoundingClientRect().top - box.top - region.clientTop;
    region.scrollTop += top - (head ? head.offsetHeight : 0);
  }
  if (region.scrollWidth > region.clientWidth + 1) {
    const column = current.closest("section.day").getBoundingClientRect();
    const left = column.left - box.left - region.clientLeft;
    region.scrollLeft += left - (gutter ? gutter.offsetWidth : 0);
  }
}

for (const region of document.querySelectorAll("[data-grid]")) enhanceGrid(region);

// The portal link's Copy button (clients/profile.html) submits a small form that records
// the link as shared (checklist step 6). With this script it copies to the clipboard and
// records the share in the background instead, staying on the page.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("[data-share-form]");
  if (!form) return;
  const button = form.querySelector("[data-share-copy]");
  const field = button && document.getElementById(button.dataset.shareCopy);
  if (!field || !navigator.clipboard) return; // let the form submit: the page selects it
  event.preventDefault();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select();
    return;
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
  fetch(form.action, {
    method: "POST",
    body: new URLSearchParams(new FormData(form)),
    headers: { "X-Requested-With": "fetch" },
    credentials: "same-origin",
  }).catch(() => {});
});

// Uploading a document (macros/documents.html: a template, a bundle, a session, the
// wizard's step 1): the file goes straight to the documents bucket with a presigned POST
// the app makes for it, then the form hands the app the key and the signature the form
// came with, and the app checks the file before attaching it. Without this script the
// form posts no key and the page says uploads need JavaScript. A form that holds other
// fields too (`data-upload-button`: the wizard's offer) uploads only when its Upload
// button (`data-upload-submit`) is the one pressed.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("[data-upload]");
  if (!form || form.dataset.uploaded) return;
  const submitter = event.submitter;
  if (form.hasAttribute("data-upload-button")
      && !(submitter && submitter.hasAttribute("data-upload-submit"))) return;
  const input = form.querySelector("[data-upload-file]");
  const status = form.querySelector("[data-upload-status]");
  const file = input && input.files && input.files[0];
  if (!file) return; // the app says to choose a file
  event.preventDefault();
  const say = (text) => { if (status) status.textContent = text; };
  const button = submitter || form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    say("Uploading…");
    const ask = new URLSearchParams();
    ask.set("csrf_token", form.querySelector("[name=csrf_token]").value);
    ask.set("filename", file.name);
    ask.set("content_type", file.type);
    const answer = await fetch(form.dataset.uploadFormUrl, {
      method: "POST",
      body: ask,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    });
    const made = await answer.json();
    if (!answer.ok) throw new Error(made.error || "The upload could not start.");
    const body = new FormData();
    for (const [name, value] of Object.entries(made.fields)) body.append(name, value);
    body.append("file", file);
    const sent = await fetch(made.url, { method: "POST", body });
    if (!sent.ok) throw new Error("The file was refused: check it is a PDF, JPEG or PNG under 10 MB.");
    form.querySelector("[data-upload-key]").value = made.key;
    form.querySelector("[data-upload-signature]").value = made.signature;
    if (submitter && submitter.name) {
      // form.submit() sends no button: say which one this was (the wizard's attach_file).
      const pressed = document.createElement("input");
      pressed.type = "hidden";
      pressed.name = submitter.name;
      pressed.value = submitter.value;
      form.append(pressed);
    }
    form.dataset.uploaded = "yes";
    say("Checking the file…");
    form.submit();
  } catch (error) {
    say(error.message || "The upload failed: try again.");
    if (button) button.disabled = false;
  }
});
