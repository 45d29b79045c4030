// The task buttons (resume, suspend, execute now, cancel): each asks for confirmation in a modal
// dialog, then calls the task's API route (the same engine as SQL) and reports the answer.
import { refresh } from "./live.js";

const ACTIONS = {
  resume: ["Resume", "Resume task %s? Its schedule starts again."],
  suspend: ["Suspend", "Suspend task %s? No new runs start until it is resumed."],
  execute: ["Execute now", "Run task %s now, once, without moving its schedule?"],
  cancel: ["Cancel runs", "Cancel the runs of task %s that are executing or queued?"],
};

const dialog = document.getElementById("confirm");
const statusLine = document.getElementById("action-status");
let hideTimer = null;

export function report(text, failed) {
  statusLine.textContent = text;
  statusLine.classList.toggle("failed", failed);
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => { statusLine.textContent = ""; }, failed ? 15000 : 6000);
}

function confirmAction(text, verb) {
  return new Promise((resolve) => {
    document.getElementById("confirm-title").textContent = `${verb}?`;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-yes").textContent = verb;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-no").focus(); // the safe choice has the focus
  });
}

async function act(button) {
  // data-task: the task's key (SQL name, parts quoted as needed), the path of its API routes;
  // data-label: the name as people read it
  const { action, task, label } = button.dataset;
  const [verb, question] = ACTIONS[action];
  const confirmed = await confirmAction(question.replace("%s", label || task), verb);
  if (!confirmed) {
    button.focus();
    return;
  }
  button.disabled = true;
  try {
    const res = await fetch(`/api/v1/tasks/${encodeURIComponent(task)}/${action}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Requested-With": "tasksql" },
    });
    if (res.status === 401) {
      location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
      return;
    }
    const body = await res.json().catch(() => null);
    if (res.ok && body && body.ok) {
      const result = body.result || {};
      report(body.status || result.status || `${verb}: done`, false);
    } else {
      report((body && body.error && body.error.message) || `${verb} failed: HTTP ${res.status}`, true);
    }
    refresh();
  } catch (err) {
    report(`${verb} failed: ${err}`, true);
  } finally {
    button.disabled = false;
    button.focus();
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button && ACTIONS[button.dataset.action]) act(button);
});
