// A review's photos: pending ones turn into thumbnails without a reload; ready ones open in a lightbox.
(function () {
  "use strict";

  var TILE_SIZES = "(min-width: 600px) 160px, calc((100vw - 80px) / 3)";

  // The size of a thumbnail whose longest side is `bucket`, as the worker makes it (never upscaled).
  function fitted(width, height, bucket) {
    var longest = Math.max(width, height);
    if (longest <= bucket) return [width, height];
    if (width >= height) return [bucket, Math.max(1, Math.round(height * bucket / width))];
    return [Math.max(1, Math.round(width * bucket / height)), bucket];
  }

  function renderReady(item, photo) {
    var buckets = Object.keys(photo.urls).map(Number).sort(function (a, b) { return a - b; });
    var smallest = buckets[0];
    var largest = buckets[buckets.length - 1];
    var srcset = [];
    var seen = {};
    buckets.forEach(function (bucket) {
      var width = fitted(photo.width, photo.height, bucket)[0];
      if (!seen[width]) {
        seen[width] = true;
        srcset.push(photo.urls[String(bucket)] + " " + width + "w");
      }
    });
    var link = document.createElement("a");
    link.className = "photo-link";
    link.href = photo.urls[String(largest)];
    var large = fitted(photo.width, photo.height, largest);
    link.dataset.width = large[0];
    link.dataset.height = large[1];
    var img = document.createElement("img");
    var small = fitted(photo.width, photo.height, smallest);
    img.width = small[0];
    img.height = small[1];
    img.alt = item.dataset.alt || "Review photo";
    img.loading = "lazy";
    img.decoding = "async";
    img.sizes = TILE_SIZES;
    img.srcset = srcset.join(", ");
    img.src = photo.urls[String(smallest)];
    link.appendChild(img);
    return link;
  }

  function renderFailed(photo) {
    var failed = document.createElement("p");
    failed.className = "photo-failed";
    failed.setAttribute("role", "status");
    failed.textContent = "Photo could not be processed: " + (photo.failure_reason || "unknown reason");
    return failed;
  }

  function render(item, photo) {
    item.dataset.status = photo.status;
    item.className = "photo photo-" + photo.status;
    item.replaceChildren(photo.status === "ready" ? renderReady(item, photo) : renderFailed(photo));
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

  document.querySelectorAll('.photo[data-status="pending"], .photo[data-status="processing"]').forEach(function (item) {
    poll(item, 700);
  });

  // Lightbox: a modal <dialog> (focus stays inside, Esc closes it), arrow keys and swipes move between photos.
  var dialog = document.getElementById("lightbox");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var image = dialog.querySelector(".lightbox-image");
  var caption = dialog.querySelector(".lightbox-caption");
  var prev = dialog.querySelector(".lightbox-prev");
  var next = dialog.querySelector(".lightbox-next");
  var close = dialog.querySelector(".lightbox-close");
  var links = [];
  var index = 0;
  var opener = null;

  function show(position) {
    index = (position + links.length) % links.length;
    var link = links[index];
    var thumbnail = link.querySelector("img");
    image.removeAttribute("src");
    image.width = Number(link.dataset.width) || thumbnail.naturalWidth;
    image.height = Number(link.dataset.height) || thumbnail.naturalHeight;
    image.alt = thumbnail.alt;
    image.src = link.href;
    caption.textContent = thumbnail.alt;
    prev.hidden = next.hidden = links.length < 2;
    if (links.length > 1) {
      new Image().src = links[(index + 1) % links.length].href;  // the next photo is likely wanted soon
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".photo-link");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    links = Array.prototype.slice.call(link.closest(".photos").querySelectorAll(".photo-link"));
    opener = link;
    show(links.indexOf(link));
    dialog.showModal();
    close.focus();
  });

  prev.addEventListener("click", function () { show(index - 1); });
  next.addEventListener("click", function () { show(index + 1); });
  close.addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("click", function (event) {
    if (swiped) {
      swiped = false;
      return;
    }
    // A click on the dark area around the photo closes the viewer, as people expect.
    if (event.target === dialog || event.target.classList.contains("lightbox-stage")) dialog.close();
  });
  dialog.addEventListener("keydown", function (event) {
    if (links.length < 2) return;
    if (event.key === "ArrowRight") { show(index + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { show(index - 1); event.preventDefault(); }
  });
  dialog.addEventListener("close", function () {
    image.removeAttribute("src");
    if (opener) opener.focus();
  });

  var start = null;
  var swiped = false;
  dialog.addEventListener("pointerdown", function (event) {
    start = event.isPrimary ? { x: event.clientX, y: event.clientY } : null;
  });
  dialog.addEventListener("pointerup", function (event) {
    if (!start || links.length < 2) return;
    var dx = event.clientX - start.x;
    var dy = event.clientY - start.y;
    start = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) {
      swiped = true;
      setTimeout(function () { swiped = false; }, 0);
      show(dx < 0 ? index + 1 : index - 1);
    }
  });
  dialog.addEventListener("pointercancel", function () { start = null; });
})();
