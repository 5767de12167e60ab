// Hazard report form: once a photo is chosen, ask the server for the QR label in it (SA:AREA:<code> or
// SA:EQ:<equipment code>) and pre-select that area; otherwise say why, and the reporter chooses by hand.
// The request carries the shared SafetyForms' idempotency key (a new one per chosen photo) and the photo
// input stays disabled while it is in flight, so a second change meanwhile sends nothing.
(function () {
  "use strict";
  var photo = document.getElementById("report-photo"), area = document.getElementById("report-area");
  var status = document.getElementById("locate-status");
  if (!photo || !area || !status) return;
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var lang = document.documentElement.lang === "en" ? "en" : "zh-CN";
  var F = window.SafetyForms;

  photo.addEventListener("change", function () {
    if (!photo.files || !photo.files.length || photo.dataset.busy) return;
    delete photo.dataset.idemKey;      // another photo: another question
    var idem = F.key(photo);
    F.busy(photo, true);
    var fd = new FormData();
    fd.append("photo", photo.files[0]);
    status.className = "wide locate-status";
    status.textContent = I18N.locating;
    fetch("/api/v1/hazards/locate", { method: "POST", credentials: "same-origin", body: fd,
                                      headers: { "X-CSRF-Token": csrf, "Idempotency-Key": idem } })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.error) throw new Error(j.error.message);
        var known = j.area_id && area.querySelector('option[value="' + j.area_id + '"]');
        if (known) area.value = String(j.area_id);
        status.className = "wide locate-status " + (known ? "ok" : "none");
        status.dataset.reason = j.reason;
        status.textContent = j.messages[lang];
      })
      .catch(function (e) { status.className = "wide locate-status none"; status.textContent = e.message; })
      .then(function () { F.busy(photo, false); });
  });
})();
