// The admin page: a login with the master key, then one view at a time.
// Every figure comes from the admin JSON routes; nothing is kept here
// beyond the key in session storage.
import { call, masterKey, setMasterKey, forgetMasterKey, loginProblem } from "./api.js";
import { spendChart, colours, formatMoney } from "./chart.js";

const $ = (sel, root = document) => root.querySelector(sel);

// h builds an element; children are nodes or text (never parsed as HTML).
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function showStatus(message) {
  $("#status").textContent = message || "";
}

// guard runs an action and shows its error instead of losing it; a
// refused key sends the user back to the login.
async function guard(action) {
  try {
    showStatus("");
    return await action();
  } catch (err) {
    if (err.status === 401) {
      logout(loginProblem(err));
      return;
    }
    showStatus(err.message);
  }
}

const num = (v) => (v === null || v === undefined ? "—" : String(v));
const usd = (v) => (v === null || v === undefined ? "—" : "$" + formatMoney(v));
const ms = (v) => (v === null || v === undefined ? "—" : Math.round(v) + " ms");
const cell = (v, cls) => h("td", cls ? { class: cls } : {}, v);

// ---- login and views

const views = {
  models: loadModels,
  keys: () => Promise.all([loadTeamOptions(), loadKeys()]),
  teams: loadTeams,
  spend: loadSpend,
  requests: loadRequests,
};

function show(view) {
  for (const section of document.querySelectorAll("section.view")) section.hidden = section.id !== view;
  for (const b of document.querySelectorAll("#nav [data-view]")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  location.hash = view;
  return guard(views[view]);
}

function enter() {
  $("#login").hidden = true;
  $("#nav").hidden = false;
  const view = location.hash.slice(1);
  return show(views[view] ? view : "models");
}

function logout(message) {
  forgetMasterKey();
  for (const section of document.querySelectorAll("section.view")) section.hidden = true;
  $("#nav").hidden = true;
  $("#login").hidden = false;
  $("#new-key").hidden = true;
  $("#new-key-value").textContent = "";
  $("#login-error").textContent = message || "";
  showStatus("");
  $("#master-key").focus();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#master-key");
  setMasterKey(input.value.trim());
  try {
    await call("/key/list", { query: { page: 1, size: 1 } });
  } catch (err) {
    forgetMasterKey();
    $("#login-error").textContent = loginProblem(err);
    input.select();
    return;
  }
  input.value = "";
  $("#login-error").textContent = "";
  enter();
});

$("#logout").addEventListener("click", () => logout(""));
for (const b of document.querySelectorAll("#nav [data-view]")) b.addEventListener("click", () => show(b.dataset.view));

// ---- models

async function loadModels() {
  const res = await call("/global/deployments");
  const body = $("#models-table tbody");
  body.replaceChildren(
    ...res.data.map((d) => {
      let health = h("span", { class: "ok" }, "in rotation");
      if (d.error) health = h("span", { class: "bad" }, d.error);
      else if (d.cooling_down_until) health = h("span", { class: "bad" }, "cooling down until " + d.cooling_down_until.slice(11, 19) + " UTC");
      const rate = d.error_rate === undefined ? "—" : (d.error_rate * 100).toFixed(0) + "%";
      return h("tr", {}, cell(d.model_name), cell(d.deployment), cell(d.model_id || d.model), cell(d.region || "—"), cell(health),
        cell(num(d.in_flight), "num"), cell(ms(d.latency_ms), "num"), cell(ms(d.time_to_first_token_ms), "num"),
        cell(num(d.requests), "num"), cell(rate, "num"), cell(num(d.tokens), "num"));
    }),
  );
}
$("#models-refresh").addEventListener("click", () => guard(loadModels));

// ---- keys

const keyPage = { page: 1, pages: 1, alias: "" };
const pageSize = 25;

// limitsOf reads a key or team form: empty fields are null, so that an
// edit clears them; models is a comma-separated list.
function limitsOf(form, names) {
  const body = {};
  for (const name of names) {
    const input = form.elements[name];
    const v = input.value.trim();
    if (name === "models") body.models = v ? v.split(",").map((m) => m.trim()).filter(Boolean) : [];
    else if (input.type === "number") body[name] = v === "" ? null : Number(v);
    else body[name] = v === "" ? null : v;
  }
  return body;
}

function fillForm(form, values) {
  for (const input of form.elements) {
    if (!input.name || !(input.name in values)) continue;
    const v = values[input.name];
    input.value = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : v;
  }
}

async function loadTeamOptions() {
  const teams = await call("/team/list");
  const select = $("#key-form select[name=team_id]");
  const current = select.value;
  select.replaceChildren(h("option", { value: "" }, "No team"), ...teams.map((t) => h("option", { value: t.team_id }, t.team_alias || t.team_id)));
  select.value = current;
}

async function loadKeys() {
  const res = await call("/key/list", {
    query: { page: keyPage.page, size: pageSize, return_full_object: "true", key_alias: keyPage.alias },
  });
  keyPage.pages = Math.max(res.total_pages, 1);
  const body = $("#keys-table tbody");
  body.replaceChildren(
    ...res.keys.map((k) => {
      const name = k.key_alias || k.key_name;
      const actions = h("div", { class: "row-actions" },
        h("button", { type: "button", "aria-label": "Edit " + name, onclick: () => editKey(k) }, "Edit"),
        h("button", { type: "button", "aria-label": (k.blocked ? "Unblock " : "Block ") + name,
          onclick: () => guard(async () => { await call(k.blocked ? "/key/unblock" : "/key/block", { method: "POST", body: { key: k.token } }); await loadKeys(); }) },
          k.blocked ? "Unblock" : "Block"),
        confirmButton("Delete", "Delete " + name, async () => { await call("/key/delete", { method: "POST", body: { keys: [k.token] } }); await loadKeys(); }));
      return h("tr", { "data-token": k.token }, cell(k.key_alias || "—"), cell(h("code", {}, k.key_name)), cell(k.team_id || "—"),
        cell(usd(k.spend), "num"), cell(k.max_budget === null ? "none" : usd(k.max_budget) + (k.budget_duration ? " / " + k.budget_duration : ""), "num"),
        cell(num(k.rpm_limit), "num"), cell(num(k.tpm_limit), "num"),
        cell(h("span", { class: k.blocked ? "bad" : "ok" }, k.blocked ? "blocked" : "active")), cell(actions));
    }),
  );
  pagerText("#keys-pager", `Page ${res.current_page} of ${keyPage.pages} (${res.total_count} keys)`, keyPage.page > 1, keyPage.page < keyPage.pages);
}

// confirmButton asks once more in place before a destructive action.
function confirmButton(text, label, action) {
  const b = h("button", { type: "button", class: "danger", "aria-label": label }, text);
  b.addEventListener("click", () => {
    if (b.dataset.armed) return guard(action);
    b.dataset.armed = "1";
    b.textContent = "Confirm " + text.toLowerCase();
    b.setAttribute("aria-label", "Confirm: " + label);
  });
  b.addEventListener("blur", () => {
    delete b.dataset.armed;
    b.textContent = text;
    b.setAttribute("aria-label", label);
  });
  return b;
}

function pagerText(sel, text, prev, next) {
  const pager = $(sel);
  $(".page-info", pager).textContent = text;
  $("[data-page=prev]", pager).disabled = !prev;
  $("[data-page=next]", pager).disabled = !next;
}

const keyFields = ["key_alias", "team_id", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests"];

function editKey(k) {
  const form = $("#key-form");
  fillForm(form, { ...k, key: k.token });
  $("#key-form-title").textContent = "Edit key " + (k.key_alias || k.key_name);
  $("#key-submit").textContent = "Save key";
  $("#key-cancel").hidden = false;
  form.elements.key_alias.focus();
}

function resetKeyForm() {
  const form = $("#key-form");
  form.reset();
  form.elements.key.value = "";
  $("#key-form-title").textContent = "Create a key";
  $("#key-submit").textContent = "Create key";
  $("#key-cancel").hidden = true;
}

$("#key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  guard(async () => {
    const form = e.target;
    const body = limitsOf(form, keyFields);
    const token = form.elements.key.value;
    if (token) {
      await call("/key/update", { method: "POST", body: { key: token, ...body } });
    } else {
      for (const name of Object.keys(body)) if (body[name] === null) delete body[name];
      const created = await call("/key/generate", { method: "POST", body });
      $("#new-key-value").textContent = created.key;
      $("#new-key").hidden = false;
      $("#new-key-done").focus();
    }
    resetKeyForm();
    await loadKeys();
  });
});
$("#key-cancel").addEventListener("click", resetKeyForm);
$("#new-key-done").addEventListener("click", () => {
  $("#new-key-value").textContent = "";
  $("#new-key").hidden = true;
  $("#key-form").elements.key_alias.focus();
});
$("#key-search").addEventListener("submit", (e) => {
  e.preventDefault();
  keyPage.alias = e.target.elements.key_alias.value.trim();
  keyPage.page = 1;
  guard(loadKeys);
});
$("#keys-pager").addEventListener("click", (e) => {
  const dir = e.target.dataset && e.target.dataset.page;
  if (!dir) return;
  keyPage.page = Math.min(Math.max(1, keyPage.page + (dir === "next" ? 1 : -1)), keyPage.pages);
  guard(loadKeys);
});

// ---- teams

const teamFields = ["team_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit"];

async function loadTeams() {
  const teams = await call("/team/list");
  $("#teams-table tbody").replaceChildren(
    ...teams.map((t) => {
      const name = t.team_alias || t.team_id;
      const actions = h("div", { class: "row-actions" },
        h("button", { type: "button", "aria-label": "Edit " + name, onclick: () => editTeam(t) }, "Edit"),
        h("button", { type: "button", "aria-label": (t.blocked ? "Unblock " : "Block ") + name,
          onclick: () => guard(async () => { await call("/team/update", { method: "POST", body: { team_id: t.team_id, blocked: !t.blocked } }); await loadTeams(); }) },
          t.blocked ? "Unblock" : "Block"),
        confirmButton("Delete", "Delete " + name, async () => { await call("/team/delete", { method: "POST", body: { team_ids: [t.team_id] } }); await loadTeams(); }));
      return h("tr", {}, cell(t.team_alias || "—"), cell(h("code", {}, t.team_id)), cell(usd(t.spend), "num"),
        cell(t.max_budget === null ? "none" : usd(t.max_budget) + (t.budget_duration ? " / " + t.budget_duration : ""), "num"),
        cell(num(t.rpm_limit), "num"), cell(num(t.tpm_limit), "num"),
        cell(h("span", { class: t.blocked ? "bad" : "ok" }, t.blocked ? "blocked" : "active")), cell(actions));
    }),
  );
}

function editTeam(t) {
  const form = $("#team-form");
  fillForm(form, t);
  $("#team-form-title").textContent = "Edit team " + (t.team_alias || t.team_id);
  $("#team-submit").textContent = "Save team";
  $("#team-cancel").hidden = false;
  form.elements.team_alias.focus();
}

function resetTeamForm() {
  const form = $("#team-form");
  form.reset();
  form.elements.team_id.value = "";
  $("#team-form-title").textContent = "Create a team";
  $("#team-submit").textContent = "Create team";
  $("#team-cancel").hidden = true;
}

$("#team-form").addEventListener("submit", (e) => {
  e.preventDefault();
  guard(async () => {
    const form = e.target;
    const body = limitsOf(form, teamFields);
    const id = form.elements.team_id.value;
    if (id) {
      await call("/team/update", { method: "POST", body: { team_id: id, ...body } });
    } else {
      for (const name of Object.keys(body)) if (body[name] === null) delete body[name];
      await call("/team/new", { method: "POST", body });
    }
    resetTeamForm();
    await loadTeams();
  });
});
$("#team-cancel").addEventListener("click", resetTeamForm);

// ---- spend

const groupNames = { api_key: "Key", team: "Team", model: "Model" };

function groupLabel(groupBy, g) {
  if (g.other) return "all others";
  if (groupBy === "api_key") return g.key_alias || (g.api_key ? g.api_key.slice(0, 10) + "…" : "no key");
  if (groupBy === "team") return g.team_name;
  return g.model || "unknown";
}

async function loadSpend() {
  const form = $("#spend-form");
  const groupBy = form.elements.group_by.value;
  const daysBack = Number(form.elements.days.value);
  const end = new Date();
  const start = new Date(end.getTime() - (daysBack - 1) * 86400000);
  const day = (d) => d.toISOString().slice(0, 10);
  const report = await call("/global/spend/report", {
    query: { group_by: groupBy, start_date: day(start), end_date: day(end), top: colours.length - 1 },
  });
  const list = { api_key: "api_keys", team: "teams", model: "models" }[groupBy];
  const days = [];
  for (let t = start.getTime(); day(new Date(t)) <= day(end); t += 86400000) days.push(day(new Date(t)));
  const index = new Map(days.map((d, i) => [d, i]));
  const groups = new Map();
  for (const entry of report) {
    const i = index.get(entry.group_by_day.slice(0, 10));
    if (i === undefined) continue;
    for (const g of entry[list]) {
      const name = groupLabel(groupBy, g);
      if (!groups.has(name)) groups.set(name, { name, values: days.map(() => 0), spend: 0, requests: 0, failed: 0, tokens: 0, other: !!g.other });
      const s = groups.get(name);
      s.values[i] += g.total_spend;
      s.spend += g.total_spend;
      s.requests += g.api_requests;
      s.failed += g.failed_requests;
      s.tokens += g.total_tokens;
    }
  }
  const series = [...groups.values()].sort((a, b) => a.other - b.other || b.spend - a.spend);
  series.forEach((s, i) => (s.colour = s.other ? colours[colours.length - 1] : colours[i % (colours.length - 1)]));
  const total = series.reduce((sum, s) => sum + s.spend, 0);
  const requests = series.reduce((sum, s) => sum + s.requests, 0);
  $("#spend-total").textContent = `Total: $${formatMoney(total)} over ${requests} requests, ${days[0]} to ${days[days.length - 1]} (UTC)`;
  const label = `Spend per day per ${groupNames[groupBy].toLowerCase()}, ${days[0]} to ${days[days.length - 1]}: $${formatMoney(total)} in all`;
  $("#spend-chart").replaceChildren(spendChart(days, series, label));
  $("#spend-group-head").textContent = groupNames[groupBy];
  $("#spend-table tbody").replaceChildren(
    ...series.map((s) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = s.colour; // through the DOM, which the page's content policy allows
      return h("tr", { "data-group": s.name }, cell(swatch), cell(s.name), cell(usd(s.spend), "num"), cell(num(s.requests), "num"),
        cell(num(s.failed), "num"), cell(num(s.tokens), "num"));
    }),
  );
}
$("#spend-form").addEventListener("submit", (e) => {
  e.preventDefault();
  guard(loadSpend);
});

// ---- requests

const requestPage = { page: 1, pages: 1, filters: {} };

async function loadRequests() {
  const res = await call("/spend/logs/ui", { query: { ...requestPage.filters, page: requestPage.page, page_size: pageSize } });
  requestPage.pages = Math.max(res.total_pages, 1);
  $("#requests-table tbody").replaceChildren(
    ...res.data.map((r) => h("tr", { "data-request-id": r.request_id },
      cell(r.startTime.replace("T", " ").slice(0, 19)), cell(r.metadata.user_api_key_alias || (r.api_key ? r.api_key.slice(0, 10) + "…" : "—")),
      cell(r.team_id || "—"), cell(r.model), cell(r.metadata.deployment || "—"),
      cell(`${r.prompt_tokens} / ${r.completion_tokens}`, "num"), cell(usd(r.spend), "num"),
      cell(h("span", { class: r.status === "failure" ? "bad" : "ok" }, r.status)), cell(h("code", {}, r.request_id)))),
  );
  pagerText("#requests-pager", `Page ${res.page} of ${requestPage.pages} (${res.total} requests)`, requestPage.page > 1, requestPage.page < requestPage.pages);
}
// keyToken is the token (SHA-256, hex) the spend logs know a key by. A
// typed key is hashed here, so that it never travels in a URL, where
// proxies and access logs keep query strings.
async function keyToken(value) {
  if (!value.startsWith("sk-")) return value;
  if (!crypto.subtle) {
    throw new Error("This page cannot hash a key over plain HTTP on another host: filter by the key's token (its hash, shown when it was created and in /key/info), or open the page over HTTPS.");
  }
  const sum = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return Array.from(new Uint8Array(sum), (b) => b.toString(16).padStart(2, "0")).join("");
}

$("#requests-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = e.target.elements;
  guard(async () => {
    const filters = {};
    for (const name of ["api_key", "team_id", "model", "status_filter", "start_date", "end_date"]) filters[name] = f[name].value.trim();
    filters.api_key = await keyToken(filters.api_key);
    requestPage.filters = filters;
    requestPage.page = 1;
    await loadRequests();
  });
});
$("#requests-pager").addEventListener("click", (e) => {
  const dir = e.target.dataset && e.target.dataset.page;
  if (!dir) return;
  requestPage.page = Math.min(Math.max(1, requestPage.page + (dir === "next" ? 1 : -1)), requestPage.pages);
  guard(loadRequests);
});

// ---- start

if (masterKey()) enter();
