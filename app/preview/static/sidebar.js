// The sidebar preview: plain DOM code calling the service's public API with a caller token.
"use strict";

const $ = (id) => document.getElementById(id);
const NUMBER_TYPES = new Set(["double", "currency", "percent", "int", "long"]);
const MESSAGES = {
  salesforce_not_connected: ["warn", "Salesforce is not connected",
    "A workspace owner or manager can connect a Salesforce account (Connect Salesforce)."],
  salesforce_reauthorization_required: ["warn", "Salesforce needs to be reconnected",
    "Salesforce no longer accepts this workspace's access. An owner or manager must connect again."],
  salesforce_api_disabled: ["error", "No API access in this Salesforce org",
    "The org's edition or the connected user lacks API access (\"API Enabled\"). Ask the Salesforce admin."],
  salesforce_insufficient_access: ["error", "Not allowed in Salesforce",
    "The connected Salesforce user may not read or change this."],
  salesforce_rate_limited: ["warn", "Salesforce is busy", "Its API limit was reached; try again later."],
  salesforce_unavailable: ["warn", "Salesforce is not answering", "Try again in a moment."],
  unauthenticated: ["error", "Not signed in", "The token is missing, invalid or expired: mint a new one."],
  forbidden: ["error", "Not allowed", "This token's role or workspace may not do this."],
};
// `contact` is the record shown: a Contact, or a Lead when `object` is "Lead"; `answer` the
// lookup answer it came from (its notes outlive edits). `generation` changes with the
// workspace, role or token: an answer asked for under another generation is dropped.
const state = { contact: null, answer: null, object: "Contact", query: null, describe: {}, generation: 0 };

function forget() {
  state.generation += 1;
  state.contact = null;
  state.answer = null;
  state.describe = {};
  $("result").replaceChildren();
  $("lookup").disabled = false;
  $("connection").textContent = "Connection: …";  // the old caller's connection is not this one's
}

// The same caller still: the workspace, role and token have not changed since `generation`.
function current(generation) { return generation === state.generation; }

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function workspace() { return $("workspace").value.trim(); }
function base() { return `/v1/workspaces/${encodeURIComponent(workspace())}/salesforce`; }

async function api(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${$("token").value.trim()}`, ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data || {});
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function message(kind, title, detail, code) {
  return el("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status", "data-code": code || "" },
    el("strong", {}, title), detail ? el("span", {}, detail) : null,
    code ? el("span", { class: "code" }, `code: ${code}`) : null);
}

function problemMessage(error) {
  if (!(error instanceof ApiError)) return message("error", "The service did not answer", String(error));
  const code = error.problem.code || "";
  const known = MESSAGES[code];
  if (known) return message(known[0], known[1], known[2], code);
  return message("error", error.problem.title || `HTTP ${error.status}`, error.problem.detail || "", code);
}

function show(...nodes) { $("result").replaceChildren(...nodes.filter((node) => node !== null)); }

function display(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (value === true) return "Yes";
  if (value === false) return "No";
  return String(value);
}

// -- lookup -------------------------------------------------------------------------------

async function lookup(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  const email = $("email").value.trim(), phone = $("phone").value.trim();
  if (email) params.set("email", email);
  if (phone) params.set("phone", phone);
  if (!email && !phone) { show(message("info", "Enter an email or a phone.")); return; }
  state.query = email || phone;
  const generation = state.generation;
  $("lookup").disabled = true;
  show(el("p", { class: "note" }, "Looking up…"));
  try {
    const answer = await api("GET", `${base()}/contacts/lookup?${params}`);
    if (!current(generation)) return;
    if (!answer.matched) {
      state.contact = null;
      state.answer = null;
      show(message("info", `No Salesforce Contact matches ${state.query}.`, answer.hint || ""));
      return;
    }
    state.object = answer.matched_object === "Lead" ? "Lead" : "Contact";
    state.contact = answer.lead || answer.contact;
    state.answer = answer;
    renderContact();
  } catch (error) {
    if (!current(generation)) return;
    state.contact = null;
    state.answer = null;
    show(problemMessage(error));
  } finally {
    if (current(generation)) $("lookup").disabled = false;
  }
}

function contactName(contact) {
  const name = contact.fields.find((f) => f.name === "Name");
  return name && name.value ? String(name.value) : contact.id;
}

function renderContact() {
  const contact = state.contact, answer = state.answer;
  const notes = [];
  if (answer && answer.matched_on) notes.push(`Matched on ${answer.matched_on}`);
  if (answer && answer.matched_object === "Lead") notes.push("A Lead (no Contact matches)");
  if (answer && answer.other_matches) notes.push(`${answer.other_matches} other ${state.object}(s) match too`);
  if (answer && answer.stale) notes.push("Salesforce is unreachable: showing an older answer");
  const list = el("dl", { class: "fields" });
  for (const field of contact.fields) list.append(renderField(field));
  const history = el("details", { class: "history", id: "history", ontoggle: (e) => { if (e.target.open) loadHistory(); } },
    el("summary", {}, "Edit history"), el("ol", { id: "history-list" }));
  const logged = el("details", { class: "history", id: "logged", ontoggle: (e) => { if (e.target.open) loadLogged(); } },
    el("summary", {}, "Logged conversations"), el("ol", { id: "logged-list" }));
  show(
    el("p", { class: "contact-name" }, contactName(contact),
      contact.person_account ? el("span", { class: "tag", title: "Its fields are the Account's" }, "Person account") : null),
    el("a", { class: "view-link", href: contact.url, target: "_blank", rel: "noopener noreferrer" }, "View in Salesforce ↗"),
    notes.length ? el("p", { class: "note" }, notes.join(" · ")) : null,
    list,
    state.object === "Contact" ? renderRelated(answer && answer.related) : null,
    history,
    logged,
  );
}

// -- the whole customer: Account, open Opportunities, open Cases --------------------------

function fieldValue(record, name) {
  const field = record.fields.find((f) => f.name === name);
  return field ? field.value : null;
}

function money(value) {
  return typeof value === "number" ? value.toLocaleString(undefined, { maximumFractionDigits: 2 }) : display(value);
}

function relatedItem(record, title, details) {
  return el("li", { class: "related-item", "data-id": record.id },
    el("a", { href: record.url, target: "_blank", rel: "noopener noreferrer" }, display(title)),
    el("span", { class: "details" }, details.filter((d) => d !== "—").join(" · ")));
}

function renderRelated(related) {
  if (!related) return null;
  const parts = [];
  if ("account" in related) {
    const account = related.account;
    const section = el("section", { class: "related", id: "related-account", "aria-label": "Account" }, el("h3", {}, "Account"));
    if (!account) section.append(el("p", { class: "note" }, "No Account."));
    else {
      const [first, ...rest] = account.fields;
      section.append(el("ul", {}, relatedItem(account, first ? first.value : account.id,
        rest.map((f) => display(f.value)))));
    }
    parts.push(section);
  }
  if ("opportunities" in related) {
    const section = el("section", { class: "related", id: "related-opportunities", "aria-label": "Open opportunities" },
      el("h3", {}, `Open opportunities (${related.opportunities.length})`));
    if (!related.opportunities.length) section.append(el("p", { class: "note" }, "None open."));
    else section.append(el("ul", {}, ...related.opportunities.map((o) => relatedItem(o, fieldValue(o, "Name"),
      o.fields.filter((f) => f.name !== "Name").map((f) => f.type === "currency" ? money(f.value) : display(f.value))))));
    parts.push(section);
  }
  if ("cases" in related) {
    const section = el("section", { class: "related", id: "related-cases", "aria-label": "Open cases" },
      el("h3", {}, `Open cases (${related.cases.length})`));
    if (!related.cases.length) section.append(el("p", { class: "note" }, "None open."));
    else section.append(el("ul", {}, ...related.cases.map((c) => {
      const number = fieldValue(c, "CaseNumber"), subject = fieldValue(c, "Subject");
      const title = [number, subject].filter((v) => v !== null && v !== undefined).join(" · ") || c.id;
      return relatedItem(c, title, c.fields.filter((f) => f.name !== "CaseNumber" && f.name !== "Subject").map((f) => display(f.value)));
    })));
    section.append(newCaseForm());
    parts.push(section);
  }
  return el("div", { class: "related-all" }, ...parts);
}

function newCaseForm() {
  const subject = el("input", { type: "text", "aria-label": "Case subject", placeholder: "Subject of a new case" });
  const priority = el("select", { "aria-label": "Case priority" },
    ...["High", "Medium", "Low"].map((p) => el("option", { value: p }, p)));
  priority.value = "Medium";
  const error = el("p", { class: "inline-error", role: "alert" });
  const button = el("button", { type: "submit" }, "Open case");
  const form = el("form", { class: "new-case", "aria-label": "New case" }, subject, priority, button, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!subject.value.trim()) { error.textContent = "Give the case a subject."; return; }
    button.disabled = true;
    try {
      // One key per attempt: a retry of this request never opens a second case.
      const key = `preview-${state.contact.id}-${Date.now()}`;
      await api("POST", `${base()}/cases`,
        { contact_id: state.contact.id, fields: { Subject: subject.value.trim(), Priority: priority.value, Origin: "WhatsApp" } },
        { "Idempotency-Key": key });
      await lookup();
    } catch (failure) {
      error.textContent = failure instanceof ApiError ? (failure.problem.detail || failure.problem.title) : String(failure);
      button.disabled = false;
    }
  });
  return form;
}

async function loadLogged() {
  const list = $("logged-list");
  if (!list) return;
  list.replaceChildren(el("li", {}, "Loading…"));
  try {
    const params = new URLSearchParams({ record_id: state.contact.id });
    const entries = await api("GET", `${base()}/activities?${params}`);
    if (!entries.length) { list.replaceChildren(el("li", {}, "No conversation logged yet.")); return; }
    list.replaceChildren(...entries.map((entry) => el("li", {},
      el("a", { class: "change", href: entry.url, target: "_blank", rel: "noopener noreferrer" }, entry.subject),
      el("span", { class: "when" }, `${new Date(entry.logged_at).toLocaleString()} · ${entry.logged_by}`))));
  } catch (error) {
    list.replaceChildren(el("li", {}, problemMessage(error)));
  }
}

// The demo of conversation logging: respond.io (its emulator) closes a conversation with the
// email looked up, sends the signed event to the service, and the worker logs it as a Task.
const DEMO = { respondio_token: "demo-respondio-token", signing_key: "demo-signing-key" };

async function demoConversation() {
  const email = $("email").value.trim() || "ana.souza@example.com";
  const ws = `/v1/workspaces/${encodeURIComponent(workspace())}`;
  try {
    toolbarMessage("Setting up conversation logging…");
    await api("PUT", `${ws}/respondio-credentials`, { api_token: DEMO.respondio_token });
    const hook = await api("PUT", `${ws}/respondio-webhook`, { signing_key: DEMO.signing_key });
    const settings = await api("GET", `${base()}/settings`);
    await api("PUT", `${base()}/settings`, { ...settings, conversation_logging: { enabled: true, min_messages: 1 } });
    const response = await fetch("/dev/sidebar/demo-conversation", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...DEMO, url: hook.url, email }),
    });
    if (!response.ok) throw new Error(`the respond.io emulator did not close it (HTTP ${response.status})`);
    const closed = await response.json();
    toolbarMessage(`respond.io closed a conversation with ${email}; waiting for the Task…`);
    for (let i = 0; i < 60; i += 1) {
      const listed = await api("GET", `${base()}/conversation-logging`);
      const entry = listed.events.find((e) => e.event_id === closed.event_id);
      if (entry && entry.outcome !== "pending") {
        toolbarMessage(entry.outcome === "logged"
          ? `Logged as Task ${entry.task_id}. Look ${email} up: "Logged conversations" lists it.`
          : `${entry.outcome}: ${entry.reason}`);
        if (state.contact) { $("logged").open = true; await loadLogged(); }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    toolbarMessage("Still pending after 30 s: is the worker running?");
  } catch (error) {
    toolbarMessage(error instanceof ApiError ? (error.problem.detail || error.problem.title) : String(error));
  }
}

function renderField(field) {
  const value = el("span", { class: `value${display(field.value) === "—" ? " empty" : ""}` }, display(field.value));
  const dd = el("dd", {}, value);
  if (field.editable) {
    dd.append(el("button", { type: "button", class: "icon", title: "Edit", "aria-label": `Edit ${field.label}`,
      onclick: () => startEdit(field, dd) }, "✎"));
  }
  if (field.revertible) {
    dd.append(el("button", { type: "button", class: "icon", title: "Revert the last edit made through respond.io",
      "aria-label": `Revert ${field.label}`, onclick: () => revert(field, dd, false) }, "↺"));
  }
  return el("div", { class: "field", "data-field": field.name }, el("dt", {}, field.label), dd);
}

// -- edit and revert ----------------------------------------------------------------------

function recordPath() {
  const segment = state.object === "Lead" ? "leads" : "contacts";
  return `${base()}/${segment}/${encodeURIComponent(state.contact.id)}`;
}

async function picklistValues(name) {
  const object = state.object;
  if (!state.describe[object]) {
    try { state.describe[object] = await api("GET", `${base()}/fields?object=${object}`); } catch { state.describe[object] = []; }
  }
  const field = state.describe[object].find((f) => f.name === name);
  return field ? field.picklist_values.filter((p) => p.active) : [];
}

async function editor(field) {
  const current = field.value === null || field.value === undefined ? "" : String(field.value);
  if (field.type === "boolean") {
    const select = el("select", { "aria-label": field.label }, el("option", { value: "true" }, "Yes"), el("option", { value: "false" }, "No"));
    select.value = field.value ? "true" : "false";
    return select;
  }
  if (field.type === "picklist") {
    const options = await picklistValues(field.name);
    if (options.length) {
      const select = el("select", { "aria-label": field.label }, el("option", { value: "" }, "—"));
      for (const option of options) select.append(el("option", { value: option.value }, option.label));
      select.value = current;
      return select;
    }
  }
  const type = NUMBER_TYPES.has(field.type) ? "number" : field.type === "date" ? "date" : "text";
  const input = el("input", { type, "aria-label": field.label, step: "any" });
  input.value = current;
  return input;
}

function parsed(field, raw) {
  if (field.type === "boolean") return raw === "true";
  if (raw === "") return null;
  if (field.type === "int" || field.type === "long") return parseInt(raw, 10);
  if (NUMBER_TYPES.has(field.type)) return parseFloat(raw);
  return raw;
}

async function startEdit(field, dd) {
  const input = await editor(field);
  const error = el("p", { class: "inline-error", role: "alert" });
  const save = el("button", { type: "submit" }, "Save");
  const cancel = el("button", { type: "button", class: "secondary", onclick: () => renderContact() }, "Cancel");
  const form = el("form", { class: "edit-form" }, input, save, cancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    const generation = state.generation;
    try {
      const written = await api("PATCH", recordPath(),
        { fields: { [field.name]: parsed(field, input.value) } });
      if (!current(generation)) return;
      state.contact = written;
      fresh();
      renderContact();
    } catch (failure) {
      if (!current(generation)) return;
      error.textContent = failure instanceof ApiError ? (failure.problem.detail || failure.problem.title) : String(failure);
      save.disabled = false;
    }
  });
  input.addEventListener("keydown", (event) => { if (event.key === "Escape") renderContact(); });
  dd.replaceChildren(form);
  dd.after(error);
  input.focus();
}

// After a write the record shown is Salesforce's fresh one: not stale any more.
function fresh() { if (state.answer) state.answer = { ...state.answer, stale: false }; }

async function revert(field, dd, force) {
  const path = `${recordPath()}/fields/${encodeURIComponent(field.name)}/revert`;
  const generation = state.generation;
  try {
    const written = await api("POST", force ? `${path}?force=true` : path);
    if (!current(generation)) return;
    state.contact = written;
    fresh();
    renderContact();
  } catch (failure) {
    if (!current(generation)) return;
    const code = failure instanceof ApiError ? failure.problem.code : "";
    const note = el("p", { class: "inline-error", role: "alert" },
      failure instanceof ApiError ? (failure.problem.detail || failure.problem.title) : String(failure));
    if (code === "edit_conflict") {
      note.append(" ", el("button", { type: "button", class: "secondary", onclick: () => revert(field, dd, true) }, "Revert anyway"));
    }
    dd.after(note);
  }
}

async function loadHistory() {
  const list = $("history-list");
  list.replaceChildren(el("li", {}, "Loading…"));
  const generation = state.generation;
  try {
    const entries = await api("GET", `${recordPath()}/history`);
    if (!current(generation)) return;
    if (!entries.length) { list.replaceChildren(el("li", {}, "No edits made through respond.io yet.")); return; }
    const labels = Object.fromEntries(state.contact.fields.map((f) => [f.name, f.label]));
    list.replaceChildren(...entries.map((entry) => el("li", { class: entry.reverted_at ? "reverted" : "" },
      el("span", { class: "change" }, `${labels[entry.field] || entry.field}: ${display(entry.old_value)} → ${display(entry.new_value)}`),
      el("span", { class: "when" }, `by ${entry.edited_by}, ${new Date(entry.edited_at).toLocaleString()}` +
        (entry.reverted_at ? ` · reverted by ${entry.reverted_by}` : "")))));
  } catch (error) {
    if (!current(generation)) return;
    list.replaceChildren(el("li", {}, problemMessage(error)));
  }
}

// -- toolbar: token, connection, editing --------------------------------------------------

function toolbarMessage(text) { $("toolbar-message").textContent = text; }

async function mint() {
  forget();
  const params = new URLSearchParams({ workspace: workspace(), role: $("role").value });
  const generation = state.generation;
  const response = await fetch(`/dev/sidebar/token?${params}`, { method: "POST" });
  const minted = (await response.json()).token;
  if (!current(generation)) return;  // switched again meanwhile: that mint wins
  $("token").value = minted;
  await refresh();
}

async function refresh() {
  toolbarMessage("");
  const generation = state.generation;
  try {
    const connection = await api("GET", `${base()}/connection`);
    const settings = await api("GET", `${base()}/settings`);
    if (!current(generation)) return;
    // The switch first, then the connection line: once the line shows, the toolbar is
    // settled (a click on the switch is not undone by this answer arriving later).
    $("editing").checked = settings.editing_enabled;
    $("related").checked = Boolean(settings.related && Object.values(settings.related).some((part) => part.enabled));
    $("connection").textContent = connection.status === "connected"
      ? `Connected to ${connection.organization_name || connection.organization_id} as ${connection.username}`
      : `Connection: ${connection.status.replaceAll("_", " ")}`;
  } catch (error) {
    if (!current(generation)) return;
    $("connection").textContent = "Connection: unknown";
    toolbarMessage(error instanceof ApiError ? (error.problem.detail || error.problem.title) : String(error));
  }
}

async function connect() {
  try {
    const started = await api("POST", `${base()}/connect`, {});
    window.open(started.authorize_url, "_blank", "noopener");
    toolbarMessage("Log in at Salesforce in the new tab, press Allow, then Refresh here.");
  } catch (error) {
    toolbarMessage(error instanceof ApiError ? (error.problem.detail || error.problem.title) : String(error));
  }
}

async function toggleEditing() {
  const wanted = $("editing").checked;
  try {
    const settings = await api("GET", `${base()}/settings`);
    await api("PUT", `${base()}/settings`, { ...settings, editing_enabled: wanted });
    toolbarMessage(wanted ? "Editing enabled." : "Editing disabled.");
    if (state.contact) await lookup();
  } catch (error) {
    $("editing").checked = !wanted;
    toolbarMessage(error instanceof ApiError ? (error.problem.detail || error.problem.title) : String(error));
  }
}

// Account, Opportunities and Cases on or off together, with Cases openable from the sidebar.
async function toggleRelated() {
  const wanted = $("related").checked;
  try {
    const settings = await api("GET", `${base()}/settings`);
    const related = Object.fromEntries(Object.entries(settings.related)
      .map(([name, part]) => [name, { ...part, enabled: wanted }]));
    await api("PUT", `${base()}/settings`,
      { ...settings, related, record_creation_enabled: wanted || settings.record_creation_enabled });
    toolbarMessage(wanted ? "Account, opportunities and cases shown." : "Account, opportunities and cases hidden.");
    if (state.contact) await lookup();
  } catch (error) {
    $("related").checked = !wanted;
    toolbarMessage(error instanceof ApiError ? (error.problem.detail || error.problem.title) : String(error));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(window.location.search);
  if (params.get("workspace")) $("workspace").value = params.get("workspace");
  if (params.get("role")) $("role").value = params.get("role");
  $("search").addEventListener("submit", lookup);
  $("mint").addEventListener("click", mint);
  $("refresh").addEventListener("click", refresh);
  $("connect").addEventListener("click", connect);
  $("editing").addEventListener("change", toggleEditing);
  $("related").addEventListener("change", toggleRelated);
  $("demo-conversation").addEventListener("click", demoConversation);
  $("workspace").addEventListener("change", mint);
  $("role").addEventListener("change", mint);
  $("token").addEventListener("change", () => { forget(); refresh(); });
  mint();
});
