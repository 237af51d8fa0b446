// The review form, enhanced: photo previews, a size check before sending, an upload progress bar, and
// field errors shown in place. It is sent with XMLHttpRequest (the only browser API that reports upload
// progress), so the page stays and nothing typed or chosen is lost when the server finds a problem.
// The request carries the form's own hidden csrf_token field; without this script the form posts normally.
(function () {
  "use strict";

  var form = document.querySelector("form.review-form");
  if (!form || typeof DataTransfer !== "function") return;
  var input = form.querySelector('input[type="file"][name="photos"]');
  var previews = form.querySelector(".previews");
  var dropzone = form.querySelector(".dropzone");
  var upload = form.querySelector(".upload");
  var progress = upload.querySelector("progress");
  var percent = upload.querySelector(".upload-percent");
  var uploadLabel = upload.querySelector(".upload-label");
  var status = form.querySelector("#form-status");
  var submit = form.querySelector('button[type="submit"]');
  var maxBytes = Number(input.dataset.maxBytes);
  var maxCount = Number(input.dataset.maxCount);
  var chosen = [];  // {file, url}: the photos to send, in order
  var busy = false;

  function formatSize(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function icon(name) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("viewBox", "0 0 24 24");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "/static/icons.svg#" + name);
    svg.appendChild(use);
    return svg;
  }

  // Errors: one message under each field, linked to its control with aria-describedby.
  function control(name) {
    if (name === "rating") return form.querySelector(".rating-input");
    return form.elements.namedItem(name);
  }

  function setError(name, message) {
    if (name === "__all__" || !form.querySelector('[data-field="' + name + '"]')) {
      var summary = form.querySelector(".form-error");
      summary.textContent = message || "";
      summary.hidden = !message;
      return;
    }
    var field = form.querySelector('[data-field="' + name + '"]');
    var id = name + "-error";
    var element = document.getElementById(id);
    var target = control(name);
    var describedBy = (target.getAttribute("aria-describedby") || "").split(" ").filter(function (token) {
      return token && token !== id;
    });
    if (message) {
      if (!element) {
        element = document.createElement("p");
        element.className = "field-error";
        element.id = id;
        field.appendChild(element);
      }
      element.textContent = message;
      describedBy.push(id);
      target.setAttribute("aria-invalid", "true");
    } else {
      if (element) element.remove();
      target.removeAttribute("aria-invalid");
    }
    if (describedBy.length) target.setAttribute("aria-describedby", describedBy.join(" "));
    else target.removeAttribute("aria-describedby");
  }

  // `fields`: the fields whose messages this check is about (others keep theirs); all of them by default.
  function showErrors(errors, fields) {
    (fields || ["__all__", "user_name", "rating", "review_text", "photos"]).forEach(function (name) {
      setError(name, errors[name]);
    });
    Object.keys(errors).forEach(function (name) {
      if (["__all__", "user_name", "rating", "review_text", "photos"].indexOf(name) < 0) setError("__all__", errors[name]);
    });
    var first = ["user_name", "rating", "review_text", "photos"].filter(function (name) { return errors[name]; })[0];
    if (first === "rating") {
      (form.querySelector('input[name="rating"]:checked') || form.querySelector('input[name="rating"]')).focus();
    } else if (first) {
      control(first).focus();
    } else if (errors.__all__) {
      form.querySelector(".form-error").scrollIntoView({ block: "center" });
    }
  }

  // Photos: previews before sending; a photo over the limit is refused here with a message saying why.
  function syncInput() {
    var transfer = new DataTransfer();
    chosen.forEach(function (entry) { transfer.items.add(entry.file); });
    input.files = transfer.files;
  }

  function renderPreviews() {
    previews.replaceChildren();
    chosen.forEach(function (entry, position) {
      var item = document.createElement("li");
      item.className = "preview";
      var img = document.createElement("img");
      img.src = entry.url;
      img.alt = "";
      var name = document.createElement("span");
      name.className = "preview-name";
      name.textContent = entry.file.name;
      var size = document.createElement("span");
      size.textContent = formatSize(entry.file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "preview-remove";
      remove.setAttribute("aria-label", "Remove " + entry.file.name);
      remove.appendChild(icon("close"));
      remove.addEventListener("click", function () { removePhoto(position); });
      item.append(img, name, size, remove);
      previews.appendChild(item);
    });
    previews.hidden = chosen.length === 0;
  }

  function announce(message) {
    status.textContent = message;
  }

  function removePhoto(position) {
    var entry = chosen.splice(position, 1)[0];
    URL.revokeObjectURL(entry.url);
    syncInput();
    renderPreviews();
    setError("photos", "");
    announce(entry.file.name + " removed. " + countText());
    var buttons = previews.querySelectorAll(".preview-remove");
    (buttons[Math.min(position, buttons.length - 1)] || input).focus();
  }

  function countText() {
    return chosen.length === 1 ? "1 photo chosen." : chosen.length + " photos chosen.";
  }

  function sameFile(a, b) {
    return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
  }

  input.addEventListener("change", function () {
    var problems = [];
    Array.prototype.forEach.call(input.files, function (file) {
      if (chosen.some(function (entry) { return sameFile(entry.file, file); })) return;
      if (file.size > maxBytes) {
        problems.push("“" + file.name + "” is " + formatSize(file.size) + ", over the " + formatSize(maxBytes) +
          " limit for each photo, so it was not added. Choose a smaller photo or resize it first.");
      } else if (file.type && !/^image\//.test(file.type)) {
        problems.push("“" + file.name + "” is not a photo, so it was not added. Choose a JPEG, PNG, WebP or GIF image.");
      } else if (chosen.length >= maxCount) {
        problems.push("A review can have at most " + maxCount + " photos, so “" + file.name + "” was not added.");
      } else {
        chosen.push({ file: file, url: URL.createObjectURL(file) });
      }
    });
    syncInput();
    renderPreviews();
    setError("photos", problems.join(" "));
    announce(problems.length ? problems.join(" ") : countText());
  });

  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function () { dropzone.classList.add("is-dragover"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    dropzone.addEventListener(type, function () { dropzone.classList.remove("is-dragover"); });
  });

  // Sending, with progress.
  function setProgress(fraction) {
    var value = Math.round(fraction * 100);
    progress.value = value;
    percent.textContent = value + "%";
  }

  function finishUpload() {
    busy = false;
    form.removeAttribute("aria-busy");
    submit.disabled = false;
    submit.textContent = "Post review";
    upload.hidden = true;
  }

  function checkRequired() {
    var errors = {};
    if (!form.elements.namedItem("user_name").value.trim()) errors.user_name = "Enter your name (up to 50 characters).";
    if (!form.querySelector('input[name="rating"]:checked')) errors.rating = "Choose a rating from 1 to 5 stars.";
    return errors;
  }

  function failureMessage(statusCode) {
    if (statusCode === 0) return "The upload was interrupted. Check your connection and try again; nothing was saved.";
    if (statusCode === 404) return "This restaurant no longer exists.";
    if (statusCode === 413) return "The upload is too large. Remove a photo or choose smaller ones.";
    if (statusCode >= 500) return "The server could not save your review right now (error " + statusCode + "). Nothing was saved; please try again in a minute.";
    return "Your review could not be posted (error " + statusCode + "). Please try again.";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    var errors = checkRequired();
    if (Object.keys(errors).length) {
      showErrors(errors, ["__all__", "user_name", "rating"]);
      return;
    }
    showErrors({});
    busy = true;
    form.setAttribute("aria-busy", "true");
    submit.disabled = true;
    submit.textContent = "Posting…";
    setProgress(0);
    uploadLabel.textContent = chosen.length ? "Uploading " + countText().replace(" chosen.", "…") : "Sending your review…";
    upload.hidden = false;
    announce(uploadLabel.textContent);

    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.responseType = "json";
    request.upload.addEventListener("progress", function (progressEvent) {
      if (progressEvent.lengthComputable) setProgress(progressEvent.loaded / progressEvent.total);
    });
    request.upload.addEventListener("load", function () {
      setProgress(1);
      uploadLabel.textContent = "Saving your review…";
    });
    request.addEventListener("load", function () {
      var body = request.response;
      if (request.status === 201 && body && body.location) {
        uploadLabel.textContent = "Posted! Opening your review…";
        announce(uploadLabel.textContent);
        // The review's URL differs from this page's only in its #fragment, which alone would not reload.
        // Reload it without restoring the scroll position, so the page opens at the new review.
        history.replaceState(null, "", body.location);
        history.scrollRestoration = "manual";
        window.location.reload();
        return;
      }
      finishUpload();
      showErrors(body && body.errors ? body.errors : { __all__: failureMessage(request.status) });
    });
    request.addEventListener("error", function () {
      finishUpload();
      showErrors({ __all__: failureMessage(0) });
    });
    request.send(new FormData(form));
  });
})();
