// The console works without this script. With it, a form's submit button
// is disabled once pressed, so a double click sends one request (a second
// one would be harmless anyway: every money action is idempotent).
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (form.dataset.sent === "1") {
    ev.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  form.querySelectorAll("button[type=submit]").forEach(function (b) {
    b.setAttribute("aria-disabled", "true");
    b.classList.add("sending");
  });
});
