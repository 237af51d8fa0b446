// Small enhancements for every page. Everything works without them.
(function () {
  "use strict";

  // "3 days ago" keeps its exact time on hover; show it in the reader's own time zone and language.
  // The formatter loads locale data, a long task on a slow phone: only pages with times make one.
  var times = document.querySelectorAll("time[datetime]");
  var format = times.length ? new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" }) : null;
  times.forEach(function (element) {
    var moment = new Date(element.dateTime);
    if (!isNaN(moment.getTime())) {
      element.title = format.format(moment);
    }
  });

  // After posting a review the page opens at it: highlight it and move focus there for screen readers.
  var match = /^#review-\d+$/.test(window.location.hash) && document.getElementById(window.location.hash.slice(1));
  if (match) {
    match.classList.add("is-new");
    match.focus({ preventScroll: true });
    match.scrollIntoView({ block: "start" });
  }
})();
