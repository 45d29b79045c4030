// The SQL console: runs the text through POST /api/v1/sql and shows each statement's result, or
// the error with its line and column and the failing part of the text marked. Values are put on
// the page as text (textContent), never as markup.

const form = document.getElementById("console");
const text = document.getElementById("sql-text");
const results = document.getElementById("sql-results");
const errorBox = document.getElementById("sql-error");
const MAX_ROWS = 1000;

function el(tag, attrs = {}, content = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (content !== null) node.textContent = content;
  return node;
}

function cell(value) {
  if (value === null || value === undefined) return "NULL";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function showResult(result, index) {
  const box = el("section", { class: "result", "aria-label": `Result ${index + 1}` });
  const tag = result.rowcount !== null && result.rowcount !== undefined && !result.columns.length
    ? `${result.statement} (${result.rowcount})` : result.statement;
  box.append(el("h3", {}, `${index + 1}. ${tag}`));
  if (result.columns && result.columns.length) {
    const wrap = el("div", { class: "table-wrap" });
    const table = el("table", { class: "grid" });
    const head = el("tr");
    result.columns.forEach((c) => head.append(el("th", { scope: "col" }, c)));
    table.append(el("thead"));
    table.tHead.append(head);
    const body = el("tbody");
    for (const row of result.rows.slice(0, MAX_ROWS)) {
      const tr = el("tr");
      row.forEach((v) => tr.append(el("td", {}, cell(v))));
      body.append(tr);
    }
    table.append(body);
    wrap.append(table);
    box.append(wrap);
    const shown = Math.min(result.rows.length, MAX_ROWS);
    box.append(el("p", { class: "muted" }, `${result.rows.length} row${result.rows.length === 1 ? "" : "s"}${shown < result.rows.length ? `, first ${shown} shown` : ""}`));
  }
  for (const notice of result.notices || []) box.append(el("p", { class: "note" }, `notice: ${notice}`));
  results.append(box);
}

function lineStart(source, line) {
  let at = 0;
  for (let n = 1; n < line; n++) {
    const next = source.indexOf("\n", at);
    if (next < 0) return source.length;
    at = next + 1;
  }
  return at;
}

// A warehouse error (DuckDB, PostgreSQL) points into its statement with "LINE n: <text>" and a line
// of carets under it: found in the script, that gives the error's line, column and span.
function warehouseSpan(source, error) {
  const m = /LINE (\d+): (.*)\n( *)(\^+)/.exec(error.message || "");
  if (!m || !error.statement_line) return null;
  const line = error.statement_line + Number(m[1]) - 1;
  const begin = lineStart(source, line);
  const stop = source.indexOf("\n", begin);
  const lineText = source.slice(begin, stop < 0 ? source.length : stop);
  const shownAt = lineText.indexOf(m[2].trimEnd());
  if (shownAt < 0) return null;
  const column = shownAt + m[3].length - (`LINE ${m[1]}: `).length + 1;
  if (column < 1) return null;
  const start = begin + column - 1;
  return { line, column, start, end: start + m[4].length };
}

function showError(source, error) {
  if (!error.line && error.message) error = { ...error, ...(warehouseSpan(source, error) || {}) };
  const where = [];
  if (error.statement) where.push(`statement ${error.statement}`);
  if (error.line) where.push(`line ${error.line}`);
  if (error.column) where.push(`column ${error.column}`);
  const message = document.getElementById("sql-error-message");
  message.textContent = `${where.length ? where.join(", ") + ": " : ""}${error.message}`;
  // the part to mark: the error's own span, else its line, else the failing statement's first line
  let start = Number.isInteger(error.start) ? error.start : null;
  let end = Number.isInteger(error.end) ? Math.max(error.end, start + 1) : null;
  if (start === null && (error.line || error.statement_line)) {
    start = lineStart(source, error.line || error.statement_line);
    const stop = source.indexOf("\n", start);
    end = stop < 0 ? source.length : stop;
  }
  const pre = document.getElementById("sql-error-source");
  pre.replaceChildren();
  if (start === null) {
    pre.hidden = true;
  } else {
    start = Math.min(start, source.length);
    end = Math.min(Math.max(end, start), source.length);
    const mark = el("mark", { id: "sql-error-mark" }, source.slice(start, end) || " ");
    pre.append(document.createTextNode(source.slice(0, start)), mark, document.createTextNode(source.slice(end)));
    pre.hidden = false;
  }
  errorBox.hidden = false;
}

async function run() {
  const source = text.value;
  const button = document.getElementById("sql-run");
  results.replaceChildren();
  errorBox.hidden = true;
  button.disabled = true;
  results.append(el("p", { class: "muted", id: "sql-running" }, "Running…"));
  try {
    const res = await fetch("/api/v1/sql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Requested-With": "tasksql" },
      body: JSON.stringify({ sql: source }),
    });
    if (res.status === 401) {
      location.href = `/login?next=${encodeURIComponent("/sql")}`;
      return;
    }
    const body = await res.json();
    results.replaceChildren();
    (body.results || []).forEach(showResult);
    if (!body.ok) showError(source, body.error || { message: `HTTP ${res.status}` });
    else if (!(body.results || []).length) results.append(el("p", { class: "muted" }, "No statements."));
  } catch (err) {
    results.replaceChildren();
    showError(source, { message: `cannot reach the server: ${err}` });
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run();
});
text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    run();
  }
});
