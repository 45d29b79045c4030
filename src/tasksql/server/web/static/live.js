// Live pages: when a run or a task changes, the regions marked data-live are fetched again and
// swapped in place (the server renders them, escaping every value), without a reload.
// Changes arrive as server-sent events from /api/v1/events; where that stream is not available the
// page asks again every few seconds. Focus and open <details> survive a swap.

const POLL_MS = 3000;
const label = document.getElementById("live-state");
let timer = null;
let busy = false;
let again = false;

function setMode(mode, text) {
  document.documentElement.dataset.live = mode;
  if (label) label.textContent = `live: ${text}`;
}

function keyOf(el, root) {
  // a way to find the same element in the fresh region: its id, else its row and its role in it
  if (!el || !root.contains(el)) return null;
  if (el.id) return `#${CSS.escape(el.id)}`;
  const row = el.closest("[data-run-id], [data-task]");
  const tag = el.tagName.toLowerCase();
  if (row && row.dataset.runId) return `[data-run-id="${CSS.escape(row.dataset.runId)}"] ${tag}`;
  if (row && row.dataset.task !== undefined) return `[data-task="${CSS.escape(row.dataset.task)}"] ${tag}`;
  if (el.getAttribute("href")) return `${tag}[href="${CSS.escape(el.getAttribute("href"))}"]`;
  return null;
}

function openDetails(root) {
  return [...root.querySelectorAll("details[open]")]
    .map((d) => d.closest("[data-run-id]"))
    .filter(Boolean)
    .map((row) => row.dataset.runId);
}

function swap(el, fresh) {
  const focusKey = keyOf(document.activeElement, el);
  const opened = openDetails(el);
  const node = document.importNode(fresh, true);
  for (const id of opened) {
    const d = node.querySelector(`[data-run-id="${CSS.escape(id)}"] details`);
    if (d) d.open = true;
  }
  el.replaceWith(node);
  if (focusKey) {
    const target = node.querySelector(focusKey);
    if (target) target.focus({ preventScroll: true });
  }
}

export async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const res = await fetch(location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } });
    if (res.status === 401) {
      location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
      return;
    }
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    for (const el of document.querySelectorAll("[data-live][id]")) {
      const fresh = doc.getElementById(el.id);
      if (fresh && fresh.innerHTML !== el.innerHTML) swap(el, fresh);
    }
    document.dispatchEvent(new CustomEvent("tasksql:refreshed"));
  } catch (err) {
    setMode("error", "cannot reach the server");
  } finally {
    busy = false;
    if (again) {
      again = false;
      soon();
    }
  }
}

function soon(delay = 50) {
  if (timer === null) timer = setTimeout(() => { timer = null; refresh(); }, delay);
}

function poll() {
  setMode("polling", `asking every ${POLL_MS / 1000} s`);
  setInterval(() => soon(0), POLL_MS);
}

// A page about some tasks only (a task's page: the task and its graph) names them in
// data-live-tasks (database.schema.name, as events name them); events of other tasks are ignored.
const liveTasks = document.querySelector("[data-live-tasks]");
const only = liveTasks ? new Set(JSON.parse(liveTasks.dataset.liveTasks)) : null;

function wanted(event) {
  if (!only) return true;
  try {
    const data = JSON.parse(event.data);
    return only.has(data.task ?? data.name);
  } catch (err) {
    return true;
  }
}

function connect() {
  if (!("EventSource" in window)) return poll();
  const source = new EventSource("/api/v1/events");
  let opened = false;
  source.onopen = () => {
    if (opened) soon(); // reconnected: catch up on what happened meanwhile
    opened = true;
    setMode("events", "following events");
  };
  // at once: a refresh already under way is followed by one more (busy/again), so a burst of
  // events costs two fetches, and the first change shows without waiting
  source.addEventListener("run", (e) => { if (wanted(e)) soon(0); });
  source.addEventListener("task", (e) => { if (wanted(e)) soon(0); });
  source.onerror = () => {
    if (!opened || source.readyState === EventSource.CLOSED) {
      source.close();
      poll();
    } else {
      setMode("reconnecting", "reconnecting");
    }
  };
}

if (document.querySelector("[data-live]")) connect();
else setMode("off", "off on this page");
