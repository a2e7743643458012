// Progressive enhancement for Settings > Payment details: show only the fields of the chosen
// bank details format. Without this script every format's fields are shown under headings,
// and the server checks and saves only the chosen format's, so the page works either way.
(() => {
  const choices = document.querySelectorAll('input[name="bank_scheme"]');
  if (!choices.length) return;
  const show = () => {
    const chosen = document.querySelector('input[name="bank_scheme"]:checked');
    if (!chosen) return; // nothing chosen: leave everything visible
    document.querySelectorAll("[data-bank-schemes]").forEach((element) => {
      element.hidden = !element.dataset.bankSchemes.split(" ").includes(chosen.value);
    });
    // The chosen format names the fields now: the headings only group them for no-script.
    document.querySelectorAll("[data-bank-heading]").forEach((heading) => {
      heading.hidden = true;
    });
  };
  choices.forEach((choice) => choice.addEventListener("change", show));
  show();
})();
