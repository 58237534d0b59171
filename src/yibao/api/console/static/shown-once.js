// A page shown once (a new secret): the history entry becomes the page the
// data-replace-url link names, so reloading or going back never posts the change again.
(function () {
  var link = document.querySelector("[data-replace-url]");
  if (link && window.history.replaceState) {
    window.history.replaceState(null, "", link.getAttribute("href"));
  }
})();
