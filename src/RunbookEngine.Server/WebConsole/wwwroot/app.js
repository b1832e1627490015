// RunbookEngine web console: one page over the server's own API (/api), signed in with a session cookie.
// Everything shown is set as text (never parsed as HTML), so nothing a runbook, an alert or a run writes can
// run as script here. The server's Content-Security-Policy allows only this file.

const main = document.getElementById("main");
const who = document.getElementById("who");
const nav = document.getElementById("nav");
let session = null; // { name, actor, role, groups, csrf, expires_at }
let closeLive = null; // ends the live timeline of the page being left

// ---- helpers ---------------------------------------------------------------------------------------------------

/** Builds an element: h("a", { href: "/runs" }, "Runs"). Strings become text nodes, never HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children; null, undefined and false are left out (replaceChildren would print them). */
function put(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

class ApiError extends Error {
  constructor(status, kind, message) { super(message); this.status = status; this.kind = kind; }
}

/** Calls the API; a change carries the session's CSRF token. A 401 sends the browser to sign in. */
async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  const method = options.method || "GET";
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session && session.csrf) headers["X-Runbook-CSRF"] = session.csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    const error = (json && json.error) || {};
    if (response.status === 401 && !options.signin) {
      session = null;
      go("/signin?next=" + encodeURIComponent(location.pathname + location.search), true);
    }
    throw new ApiError(response.status, error.kind || "error", error.message || `${response.status} ${response.statusText}`);
  }
  return json;
}

const may = {
  operate: () => session && (session.role === "operator" || session.role === "admin"),
  approve: () => session && (session.role === "approver" || session.role === "admin"),
};

function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleTimeString(undefined, { hour12: false });
}

function status(s) { return h("span", { class: "status " + String(s || "").replace(/[^a-z-]/g, "") }, s || "?"); }

function json(value) { return h("pre", {}, JSON.stringify(value, null, 2)); }

function notice(message, ok) { return h("p", { class: ok ? "notice ok" : "notice", role: ok ? "status" : "alert" }, message); }

function failure(error) { return notice(error instanceof ApiError ? error.message : "The server did not answer: " + error.message); }

function runLink(id) { return h("a", { href: "/runs/" + encodeURIComponent(id) }, id); }

function page(title, ...children) {
  document.title = title + " · RunbookEngine";
  put(main, h("h1", {}, title), ...children);
  main.focus({ preventScroll: true });
}

// ---- routing ---------------------------------------------------------------------------------------------------

function go(path, replace) {
  if (replace) history.replaceState(null, "", path); else history.pushState(null, "", path);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[href^='/']");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  if (a.getAttribute("href").startsWith("/api/")) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
window.addEventListener("popstate", route);

async function route() {
  if (closeLive) { closeLive(); closeLive = null; }
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  if (path === "/signin") return signin(query.get("next"));
  if (!session) {
    try { session = await api("/api/session", { signin: true }); } catch (e) {
      if (e instanceof ApiError && e.status === 401) return go("/signin?next=" + encodeURIComponent(path + location.search), true);
      return page("RunbookEngine", failure(e));
    }
  }
  showWho();
  for (const a of nav.querySelectorAll("a")) {
    const here = path === a.getAttribute("href") || path.startsWith(a.getAttribute("href") + "/");
    if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  let m;
  try {
    if (path === "/" || path === "/runs") return await runs(query);
    if ((m = path.match(/^\/runs\/([^/]+)$/))) return await run(decodeURIComponent(m[1]));
    if (path === "/approvals") return await approvals();
    if (path === "/alerts") return await alerts(query);
    if (path === "/runbooks") return await runbooks();
    if (path === "/guards") return await guards();
    if (path === "/drills") return await drills();
    if ((m = path.match(/^\/drills\/([^/]+)$/))) return await drill(decodeURIComponent(m[1]));
    page("Not found", h("p", {}, "No console page here. ", h("a", { href: "/runs" }, "Runs")));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) page("Something went wrong", failure(e));
  }
}

function showWho() {
  nav.hidden = false;
  put(who, 
    h("span", { "data-testid": "who" }, `${session.name} (${session.role})`),
    h("button", { type: "button", onclick: signout }, "Sign out"));
}

async function signout() {
  try { await api("/api/session/end", { method: "POST" }); } catch { /* signed out either way */ }
  session = null;
  nav.hidden = true;
  put(who);
  go("/signin", true);
}

// ---- sign in ---------------------------------------------------------------------------------------------------

function signin(next) {
  nav.hidden = true;
  put(who);
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false", "aria-describedby": "token-help" });
  const message = h("div", { "aria-live": "assertive" });
  const form = h("form", {
    class: "card signin",
    onsubmit: async (e) => {
      e.preventDefault();
      put(message);
      try {
        session = await api("/api/session", { method: "POST", body: { token: input.value }, signin: true });
        input.value = "";
        go(next && next.startsWith("/") && !next.startsWith("//") ? next : "/runs", true);
      } catch (err) {
        put(message, failure(err));
        input.select();
      }
    },
  },
  h("label", { for: "token" }, "API token"),
  input,
  h("p", { id: "token-help", class: "muted" }, "A token from `runbook token create`. It is exchanged for a session cookie; the page never stores it."),
  h("button", { type: "submit" }, "Sign in"),
  message);
  document.title = "Sign in · RunbookEngine";
  put(main, h("h1", { class: "signin" }, "Sign in to RunbookEngine"), form);
  input.focus();
}

// ---- runs ------------------------------------------------------------------------------------------------------

const statuses = ["", "ready", "running", "waiting", "completed", "failed", "cancelled", "blocked"];

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function runs(query) {
  const limit = 50;
  const filters = ["status", "runbook", "target", "started_by", "from", "to"];
  const params = new URLSearchParams({ limit: String(limit) });
  for (const k of [...filters, "before", "before_id"]) if (query.get(k)) params.set(k, query.get(k));
  const list = await api("/api/runs?" + params);

  const field = (name, label, control) => { control.id = "f-" + name; control.name = name; return h("label", { for: control.id }, label, control); };
  const statusSelect = h("select", {}, statuses.map((s) => h("option", { value: s, selected: s === (query.get("status") || "") }, s || "any")));
  const starter = h("select", {}, [["", "anyone"], ["alert:", "an alert"], ["user:", "a person"]].map(([v, t]) => h("option", { value: v, selected: v === (query.get("started_by") || "") }, t)));
  const custom = query.get("started_by") && !["alert:", "user:"].includes(query.get("started_by"));
  if (custom) starter.append(h("option", { value: query.get("started_by"), selected: true }, query.get("started_by")));
  const form = h("form", {
    class: "filters", role: "search",
    onsubmit: (e) => {
      e.preventDefault();
      const next = new URLSearchParams();
      for (const k of filters) {
        const el = form.elements[k];
        let v = el.value.trim();
        if ((k === "from" || k === "to") && v) v = new Date(v).toISOString();
        if (v) next.set(k, v);
      }
      go("/runs" + (next.size ? "?" + next : ""));
    },
  },
  field("status", "Status", statusSelect),
  field("runbook", "Runbook", h("input", { value: query.get("runbook") || "", placeholder: "any", size: 18 })),
  field("target", "Target", h("input", { value: query.get("target") || "", placeholder: "any (e.g. restart-service/web-1)", size: 24 })),
  field("started_by", "Started by", starter),
  field("from", "Created from", h("input", { type: "datetime-local", value: localInput(query.get("from")) })),
  field("to", "Created before", h("input", { type: "datetime-local", value: localInput(query.get("to")) })),
  h("button", { type: "submit" }, "Show"));

  const rows = list.map((r) => h("tr", {},
    h("td", {}, runLink(r.run_id)),
    h("td", {}, r.runbook, r.dry_run ? h("span", { class: "muted" }, " (dry-run)") : null, r.drill ? h("span", { class: "muted" }, ` (drill ${r.drill})`) : null),
    h("td", {}, status(r.status)),
    h("td", {}, r.started_by),
    h("td", {}, time(r.created_at))));
  const paging = h("div", { class: "row" });
  if (query.get("before")) {
    const first = new URLSearchParams(query); first.delete("before"); first.delete("before_id");
    paging.append(h("a", { href: "/runs" + (first.size ? "?" + first : "") }, "Newest runs"));
  }
  if (list.length === limit) {
    const next = new URLSearchParams(query);
    next.set("before", list[list.length - 1].created_at);
    next.set("before_id", list[list.length - 1].run_id);
    paging.append(h("a", { href: "/runs?" + next, rel: "next" }, "Older runs →"));
  }

  page("Runs", form,
    list.length === 0
      ? h("p", { class: "muted" }, "No runs match. Start one with `runbook run NAME` or let an alert start one.")
      : h("div", { class: "scroll" }, h("table", { class: "runs" },
        h("caption", { class: "muted" }, `${list.length} run(s), newest first`),
        h("thead", {}, h("tr", {}, ["Run", "Runbook", "Status", "Started by", "Created"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))),
    paging);
}

// ---- one run ---------------------------------------------------------------------------------------------------

/** How many of a run's events its page shows at first: the newest ones. */
const TIMELINE_SHOWN = 500;

async function run(id) {
  const path = "/api/runs/" + encodeURIComponent(id);
  // Only the newest events travel at first; the trigger and the guard decisions, however old, come beside them.
  const [detail, timeline, context] = await Promise.all([api(path), api(path + "/timeline?last=" + TIMELINE_SHOWN),
    api(path + "/timeline?kind=run.created&kind=guard.")]);
  const header = h("div", { class: "row" });
  const approvalBox = h("section", { "aria-labelledby": "approval-h" });
  const actions = h("section", { "aria-label": "Actions" });
  const stepsBox = h("section", { "aria-labelledby": "steps-h" });
  const facts = h("section", {});
  const events = h("ol", { class: "timeline", "aria-label": "Timeline", "data-testid": "timeline" });
  const liveState = h("span", { class: "muted", "aria-live": "polite", "data-testid": "live" });
  let last = 0;
  let approvalKey = null;
  let actionsKey = null;
  let decided = null;
  const trigger = h("section", {});
  const guards = h("ul", {});

  const item = (e, fresh) => h("li", { class: fresh ? "new" : null, "data-kind": e.kind },
    h("time", { datetime: e.at, title: e.at }, clock(e.at)),
    h("span", { class: "kind" }, e.kind),
    h("span", {}, e.text || "", e.actor && !String(e.text || "").includes(e.actor) ? h("span", { class: "muted" }, " · " + e.actor) : null));

  function note(e) {
    if (e.kind === "run.created" && e.data && e.data.trigger) put(trigger, h("h2", {}, "Trigger"), json(e.data.trigger));
    if (e.kind.startsWith("guard.")) guards.append(h("li", {}, e.text));
  }

  function addEvent(e, fresh) {
    if (e.seq <= last) return;
    last = e.seq;
    events.append(item(e, fresh));
    if (fresh) note(e); // the page's first events were noted from the context fetched beside them
  }

  function render(d) {
    const r = d.run;
    put(header, status(r.status), h("span", {}, r.runbook), r.dry_run ? h("span", { class: "muted" }, "dry-run") : null,
      r.drill ? h("span", { class: "muted" }, "drill " + r.drill) : null);
    put(facts, 
      h("div", { class: "grid" },
        h("div", { class: "card" }, h("dl", { class: "facts" },
          h("dt", {}, "Started by"), h("dd", {}, r.started_by),
          h("dt", {}, "Created"), h("dd", {}, time(r.created_at)),
          h("dt", {}, "Ended"), h("dd", {}, r.completed_at ? time(r.completed_at) : "—"),
          h("dt", {}, "Waiting for"), h("dd", {}, d.waiting_for || "—"),
          h("dt", {}, "Definition"), h("dd", {}, h("code", {}, String(r.definition_hash).slice(0, 16))))),
        h("div", { class: "card" }, h("h2", {}, "Inputs"), json(r.inputs || {}))),
      r.error ? h("div", { class: "card" }, h("h2", {}, "Error"), h("p", { class: "error" }, `${r.error_kind || "error"}: ${r.error}`)) : null,
      r.output ? h("div", { class: "card" }, h("h2", {}, "Output"), json(r.output)) : null,
      d.plan && d.plan.length ? h("div", { class: "card" }, h("h2", {}, "Dry-run plan"),
        h("ul", {}, d.plan.map((p) => h("li", {}, h("strong", {}, p.step), ": ", p.plan)))) : null);
    put(stepsBox, h("h2", { id: "steps-h" }, "Steps"), d.steps.length === 0 ? h("p", { class: "muted" }, "No steps yet.") :
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["#", "Step", "Kind", "Status", "Attempt", "Result"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, d.steps.map((s) => h("tr", {},
          h("td", {}, s.seq), h("td", {}, s.name), h("td", {}, s.kind), h("td", {}, status(s.status)), h("td", {}, s.attempt),
          h("td", {}, s.error ? h("span", { class: "error" }, `${s.error_kind}: ${s.error}`) : s.output ? h("details", {}, h("summary", {}, "output"), json(s.output)) : "")))))));
    renderActions(d);
  }

  function renderActions(d) {
    const r = d.run;
    const ended = ["completed", "failed", "cancelled", "blocked"].includes(r.status);

    // Rebuilt only when what it offers changes: a reason being typed survives every other live update.
    const key = JSON.stringify([ended, ended ? d.steps.map((s) => s.name) : []]);
    if (key === actionsKey) return;
    actionsKey = key;
    const result = h("div", { "aria-live": "polite" });
    const children = [];
    if (may.operate() && !ended) {
      const reason = h("input", { id: "cancel-reason", placeholder: "why (recorded)", size: 24 });
      children.push(h("div", { class: "row" }, h("label", { for: "cancel-reason" }, "Cancel reason", reason),
        h("button", { type: "button", class: "danger", onclick: async (e) => {
          e.target.disabled = true;
          try { const c = await api(path + "/cancel", { method: "POST", body: { reason: reason.value || null } }); put(result, notice(`Cancel ${c.outcome.toLowerCase()}.`, true)); }
          catch (err) { put(result, failure(err)); e.target.disabled = false; }
        } }, "Cancel run")));
    }
    if (may.operate() && ended) {
      const names = [...new Set(d.steps.filter((s) => s.kind !== "signal" && !s.name.includes("/")).map((s) => s.name))];
      const from = h("select", { id: "retry-from" }, h("option", { value: "" }, "the start"), names.map((n) => h("option", { value: n }, n)));
      children.push(h("div", { class: "row" }, h("label", { for: "retry-from" }, "Retry from step", from),
        h("button", { type: "button", class: "secondary", onclick: async (e) => {
          e.target.disabled = true;
          try { const s = await api(path + "/retry", { method: "POST", body: { from_step: from.value || null } }); go("/runs/" + encodeURIComponent(s.run.run_id)); }
          catch (err) { put(result, failure(err)); e.target.disabled = false; }
        } }, "Retry")));
    }
    put(actions, ...(children.length ? [h("h2", {}, "Actions"), ...children, result] : []));
  }

  let refreshes = 0;
  async function refresh() {
    try {
      const [d, a] = await Promise.all([api(path), api(path + "/approval")]);
      events.dataset.refreshed = String(++refreshes);
      render(d);

      // Replaced only when the approval changed: a comment being typed survives every other update.
      const key = a.approval ? JSON.stringify([a.approval.step, a.approval.granted_by, a.approval.refusal]) : "";
      if (key !== approvalKey) {
        approvalKey = key;
        // After a decision here, its confirmation stays where the gate was.
        put(approvalBox, ...(a.approval ? [h("h2", { id: "approval-h" }, "Approval"), approvalCard(a.approval, (n) => { decided = n; refresh(); })]
          : decided ? [h("h2", { id: "approval-h" }, "Approval"), decided] : []));
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) liveState.textContent = "Could not refresh: " + e.message;
    }
  }

  // A long timeline opens on its newest events; the earlier ones are fetched on request.
  // The two reads are two moments: what the context read has not seen yet is noted from the newest events, and
  // what it saw beyond them arrives live.
  const seqOf = (list) => (list.length ? list[list.length - 1].seq : 0);
  const newest = seqOf(timeline.events);
  const seen = seqOf(context.events);
  for (const e of context.events) if (e.seq <= newest) note(e);
  for (const e of timeline.events) {
    addEvent(e, false);
    if (e.seq > seen) note(e);
  }
  const total = timeline.events.length + (timeline.earlier || 0);
  if (timeline.earlier) {
    const first = timeline.events[0].seq;
    const button = h("button", { type: "button", class: "secondary", onclick: async () => {
      button.disabled = true;
      try {
        const older = await api(path + "/timeline?before=" + first);
        const earlier = document.createDocumentFragment();
        for (const e of older.events) earlier.append(item(e, false));
        more.replaceWith(earlier);
      } catch (e) {
        button.disabled = false;
        more.append(notice("Could not load the earlier events: " + e.message));
      }
    } }, `Show ${timeline.earlier} earlier event(s)`);
    const more = h("li", { class: "more" }, button);
    events.prepend(more);
  }
  const chain = timeline.chain_intact
    ? h("p", { class: "muted", "data-testid": "chain" }, `Hash chain checked as the page opened: intact over ${total} event(s).`)
    : notice("The hash chain is broken " + timeline.chain_problem + ": this timeline was changed after it was written.");
  page("Run " + id, header, approvalBox, actions, facts, trigger, stepsBox,
    h("section", {}, h("h2", {}, "Guard and breaker decisions"), guards),
    h("section", { "aria-labelledby": "timeline-h" }, h("div", { class: "row" }, h("h2", { id: "timeline-h" }, "Timeline"), liveState), chain, events));
  render(detail);
  if (!guards.children.length) guards.append(h("li", { class: "muted" }, "none recorded"));
  await refresh();

  // Pushed by the server as they are written; the page never reloads.
  const source = new EventSource(path + "/events?after=" + last);
  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150); };
  source.addEventListener("open", () => { liveState.textContent = "live"; });
  source.addEventListener("event", (m) => { addEvent(JSON.parse(m.data), true); soon(); });
  source.addEventListener("run", () => soon());
  source.addEventListener("unavailable", (m) => { liveState.textContent = "store unavailable: " + JSON.parse(m.data).message; });
  source.addEventListener("end", () => { source.close(); liveState.textContent = "ended"; soon(); });
  source.addEventListener("error", () => { if (source.readyState !== EventSource.CLOSED) liveState.textContent = "reconnecting…"; });
  closeLive = () => { source.close(); if (pending) clearTimeout(pending); };
}

/** An approval with its rules; the buttons only where the API would accept the decision. */
function approvalCard(a, after) {
  const rules = h("dl", { class: "facts" },
    h("dt", {}, "Step"), h("dd", {}, a.step),
    h("dt", {}, "Approvers"), h("dd", {}, a.approvers.join(", ")),
    h("dt", {}, "Needs"), h("dd", {}, `${a.min} different approver(s)` + (a.granted_by.length ? `; approved so far by ${a.granted_by.join(", ")}` : "")),
    h("dt", {}, "Four-eyes"), h("dd", {}, a.four_eyes ? `yes: ${a.run.started_by} (who started it) cannot approve` : "no"),
    h("dt", {}, "Deadline"), h("dd", {}, a.until ? `${time(a.until)}, then ${a.on_timeout}` : "none"),
    h("dt", {}, "Asked"), h("dd", {}, time(a.requested_at)));
  const card = h("div", { class: "card", "data-testid": "approval" },
    h("p", {}, h("strong", {}, a.run.runbook), " · ", runLink(a.run.run_id)),
    a.message ? h("p", {}, a.message) : null,
    rules);
  if (!a.may_decide) {
    card.append(h("p", { class: "muted", "data-testid": "refusal" }, "You cannot decide this: " + a.refusal));
    return card;
  }
  const id = "comment-" + a.run.run_id + "-" + a.step.replace(/[^A-Za-z0-9_-]/g, "_");
  const comment = h("textarea", { id, placeholder: "recorded in the timeline with your name" });
  const result = h("div", { "aria-live": "assertive" });
  const decide = (approve) => async (e) => {
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      const d = await api(`/api/runs/${encodeURIComponent(a.run.run_id)}/${approve ? "approve" : "reject"}`, { method: "POST", body: { step: a.step, comment: comment.value || null } });
      const said = d.accepted ? notice(`${approve ? "Approved" : "Rejected"} as ${d.by}.`, true) : notice("Refused: " + d.reason);
      put(result, said);
      if (after) after(said);
    } catch (err) {
      put(result, failure(err));
      for (const b of card.querySelectorAll("button")) b.disabled = false;
    }
  };
  card.append(h("label", { for: id }, "Comment"), comment,
    h("div", { class: "row" },
      h("button", { type: "button", onclick: decide(true) }, "Approve"),
      h("button", { type: "button", class: "danger", onclick: decide(false) }, "Reject")),
    result);
  return card;
}

// ---- approvals -------------------------------------------------------------------------------------------------

async function approvals() {
  const list = await api("/api/approvals");
  const mine = list.filter((a) => a.may_decide);
  const others = list.filter((a) => !a.may_decide);
  page("Approvals",
    h("h2", {}, "Waiting for you"),
    mine.length ? h("div", { "data-testid": "mine" }, mine.map((a) => approvalCard(a, approvals))) : h("p", { class: "muted" }, "Nothing is waiting for you."),
    h("h2", {}, "Waiting for others"),
    others.length ? h("div", {}, others.map((a) => approvalCard(a))) : h("p", { class: "muted" }, "Nothing else is waiting."));
}

// ---- alerts, runbooks, guards, drills --------------------------------------------------------------------------

async function alerts(query) {
  const outcome = query.get("outcome") || "";
  const list = await api("/api/alerts?limit=200" + (outcome ? "&outcome=" + encodeURIComponent(outcome) : ""));
  const select = h("select", { id: "outcome", name: "outcome", onchange: (e) => go("/alerts" + (e.target.value ? "?outcome=" + encodeURIComponent(e.target.value) : "")) },
    ["", "unmatched", "invalid", "no_run"].map((o) => h("option", { value: o, selected: o === outcome }, o || "any")));
  page("Alerts",
    h("p", { class: "muted" }, "Alerts the webhooks received that started no run, and why. Alerts that started a run are in that run's timeline."),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, h("label", { for: "outcome" }, "Outcome", select)),
    list.length === 0 ? h("p", { class: "muted" }, "No alerts received.") :
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Received", "Source", "Alert", "Outcome", "Runbook", "Why"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((a) => h("tr", {},
          h("td", {}, time(a.at)), h("td", {}, a.source), h("td", {}, a.alert, a.status ? h("span", { class: "muted" }, ` (${a.status})`) : null),
          h("td", {}, status(a.outcome)), h("td", {}, a.runbook || "—"), h("td", {}, a.reason || "")))))));
}

async function runbooks() {
  const list = await api("/api/runbooks");
  page("Runbooks",
    list.length === 0 ? h("p", { class: "muted" }, "No runbooks in the server's runbook directories.") :
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Runbook", "Valid", "Inputs", "Triggers", "Last run", "File"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((r) => h("tr", { "data-runbook": r.name },
          h("td", {}, h("strong", {}, r.name), r.description ? h("div", { class: "muted" }, r.description) : null),
          h("td", {}, r.valid ? status("valid") : h("span", { class: "error" }, `${r.problems} problem(s): \`runbook validate ${r.file}\``)),
          h("td", {}, r.inputs.join(", ") || "—"),
          h("td", { "data-testid": "triggers" }, (r.triggers || []).length === 0 ? h("span", { class: "muted" }, "started by hand") :
            h("ul", { class: "plain" }, r.triggers.map((t) => h("li", {}, `${t.source || "any source"}: ${t.match.join(", ") || "every alert"}`, t.mode !== "live" ? h("span", { class: "muted" }, ` (${t.mode})`) : null)))),
          h("td", { "data-testid": "last-run" }, r.last_run
            ? [status(r.last_run.status), " ", runLink(r.last_run.run_id), h("div", { class: "muted" }, `${time(r.last_run.created_at)} · ${r.last_run.started_by}`), h("a", { href: "/runs?runbook=" + encodeURIComponent(r.name) }, "all runs")]
            : h("span", { class: "muted" }, "never ran")),
          h("td", {}, r.file)))))));
}

async function guards() {
  const list = await api("/api/guards");
  const result = h("div", { "aria-live": "polite" });
  page("Guards and breakers",
    h("p", { class: "muted" }, "What keeps automation from acting too often on one target."),
    result,
    list.length === 0 ? h("p", { class: "muted" }, "No guard has decided anything yet.") :
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Guard", "Target", "Breaker", "Failures", "Live / max", "Rate", "Updated", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((g) => h("tr", {},
          h("td", {}, g.runbook), h("td", {}, h("a", { href: "/runs?target=" + encodeURIComponent(g.key), title: "runs on " + g.key }, g.target || g.key)),
          h("td", {}, g.breaker ? status(g.breaker) : "—", g.open_until ? h("div", { class: "muted" }, "until " + time(g.open_until)) : null),
          h("td", {}, g.recent_failures ?? "—"), h("td", {}, `${g.live_runs ?? 0} / ${g.max_live ?? "—"}`),
          h("td", {}, g.rate_max ? `${g.recent_runs ?? 0} / ${g.rate_max}` : "—"), h("td", {}, time(g.updated_at)),
          h("td", {}, may.approve() && g.breaker && g.breaker !== "closed" ? h("button", { type: "button", class: "secondary", onclick: async () => {
            const reason = prompt(`Close the breaker of ${g.key}? Say why (recorded):`);
            if (!reason) return;
            try { await api("/api/guards/reset", { method: "POST", body: { key: g.key, reason } }); await guards(); }
            catch (err) { put(result, failure(err)); }
          } }, "Close breaker") : null)))))));
}

async function drills() {
  const list = await api("/api/drills?limit=100");
  page("Drills",
    h("p", { class: "muted" }, "Game-day drills run with `runbook drill run`, newest first."),
    list.length === 0 ? h("p", { class: "muted" }, "No drill reports kept yet.") :
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Report", "Drill", "Runbook", "Verdict", "Mode", "MTTD", "MTTR", "By", "At"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((d) => h("tr", {},
          h("td", {}, h("a", { href: "/drills/" + d.id }, "#" + d.id)), h("td", {}, d.drill), h("td", {}, d.runbook),
          h("td", {}, status(d.passed ? "passed" : "failed")), h("td", {}, d.mode),
          h("td", {}, d.mttd_seconds ?? "—"), h("td", {}, d.mttr_seconds ?? "—"), h("td", {}, d.by), h("td", {}, time(d.at))))))));
}

async function drill(id) {
  const d = await api("/api/drills/" + encodeURIComponent(id));
  page(`Drill ${d.drill} #${d.id}`,
    h("p", { class: "row" }, status(d.passed ? "passed" : "failed"), `${d.runbook} · ${d.mode} · by ${d.by} · ${time(d.at)}`),
    d.failed && d.failed.length ? h("div", { class: "card" }, h("h2", {}, "Failed expectations"), h("ul", {}, d.failed.map((f) => h("li", {}, typeof f === "string" ? f : JSON.stringify(f))))) : null,
    h("div", { class: "card" }, h("h2", {}, "Report"), json(d.report)));
}

route();
