// Lighthouse on several pages in one Node process and one headless Chromium, so each page costs its audits
// only. Prints {url: [run, ...]} as JSON on stdout, each run {categories: {id: score}, failing: [audits]}.
//   node lighthouse.mjs <lighthouse node_modules folder> <chromium path> <runs> <url>...
// A page is run again (up to <runs> times) only while its performance is below 100: that score comes from
// timings, which a busy machine only ever makes worse; the other three categories do not depend on them.
// A run that Lighthouse itself could not record (a runtime error such as NO_NAVSTART, its trace missing the
// navigation's start, which a busy machine or a cold browser can cause) is run again the same way; the
// caller sees every run and checks that the last one was recorded.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [modules, chromePath, runs, ...urls] = process.argv.slice(2);
const resolve = createRequire(`${modules}/`).resolve;
const load = async (name) => import(pathToFileURL(resolve(name)).href);
const { default: lighthouse } = await load("lighthouse");
const chromeLauncher = await load("chrome-launcher");

// The machine has no network beyond this host: nothing in the background may try to reach one.
const chrome = await chromeLauncher.launch({
  chromePath,
  chromeFlags: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
});
const results = {};
try {
  for (const url of urls) {
    results[url] = [];
    do {
      results[url].push(await audit(url));
    } while (needsAnotherRun(results[url].at(-1)) && results[url].length < Number(runs));
  }
} finally {
  await chrome.kill();
}
process.stdout.write(JSON.stringify(results));

function needsAnotherRun(run) {
  return run.runtimeError !== null || !(run.categories.performance >= 1);
}

async function audit(url) {
  const { lhr } = await lighthouse(url, { port: chrome.port, output: "json", logLevel: "error" });
  const failing = Object.values(lhr.audits)
    .filter((audit) => audit.scoreDisplayMode === "error" || (audit.score !== null && audit.score < 1))
    .filter((audit) => audit.scoreDisplayMode !== "informative")
    .map((audit) => `${audit.id}: ${audit.title} (${audit.errorMessage ?? audit.displayValue ?? audit.score})`);
  return {
    categories: Object.fromEntries(Object.values(lhr.categories).map((c) => [c.id, c.score])),
    failing,
    runtimeError: lhr.runtimeError?.message ?? null,
    longTasks: lhr.audits["long-tasks"]?.details?.items?.map((i) => `${i.url} ${Math.round(i.duration)} ms`),
  };
}
