// The buyer phone's small comforts; the page works without them. A payment's
// result gets the focus (so a screen reader reads it), and a shown auth code
// can be copied.
(function () {
  "use strict";
  var result = document.getElementById("result");
  if (result) {
    result.focus();
  }
  var code = document.getElementById("auth-code");
  var copy = document.getElementById("copy");
  if (code && copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(code.dataset.code).then(function () {
        copy.textContent = "Copied";
      });
    });
  }
  // Picking a listed code clears a pasted one, and typing one unpicks the
  // list, so that the form says plainly which code is paid.
  var pasted = document.getElementById("qr_code");
  var picks = document.querySelectorAll('input[name="pick"]');
  if (pasted) {
    pasted.addEventListener("input", function () {
      if (pasted.value !== "") {
        picks.forEach(function (p) { p.checked = false; });
      }
    });
    picks.forEach(function (p) {
      p.addEventListener("change", function () { pasted.value = ""; });
    });
  }
}());
