// Photos that are still being processed turn into thumbnails without a page reload.
(function () {
  "use strict";

  function render(item, photo) {
    item.dataset.status = photo.status;
    item.className = "photo photo-" + photo.status;
    item.textContent = "";
    if (photo.status === "ready") {
      var sizes = Object.keys(photo.urls).map(Number).sort(function (a, b) { return a - b; });
      var link = document.createElement("a");
      link.href = photo.urls[String(sizes[sizes.length - 1])];
      link.className = "photo-link";
      var img = document.createElement("img");
      img.src = photo.urls[String(sizes[0])];
      img.alt = "Review photo";
      img.width = sizes[0];
      img.height = sizes[0];
      link.appendChild(img);
      item.appendChild(link);
    } else if (photo.status === "failed") {
      var failed = document.createElement("p");
      failed.className = "photo-failed";
      failed.setAttribute("role", "status");
      failed.textContent = "Photo could not be processed: " + (photo.failure_reason || "unknown reason");
      item.appendChild(failed);
    }
  }

  function poll(item, delay) {
    fetch("/api/photos/" + encodeURIComponent(item.dataset.photoId), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (photo) {
        if (photo && (photo.status === "ready" || photo.status === "failed")) {
          render(item, photo);
        } else {
          setTimeout(function () { poll(item, Math.min(delay * 1.5, 15000)); }, delay);
        }
      })
      .catch(function () { setTimeout(function () { poll(item, Math.min(delay * 2, 30000)); }, delay); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('.photo[data-status="pending"], .photo[data-status="processing"]').forEach(function (item) {
      poll(item, 1000);
    });
  });
})();
