// The ohfp dashboard: polls /api/v1/overview every 2 s and redraws.
// A bearer token, when the server requires one, is given in the page's
// fragment (#token=...) so that it never reaches a server log; it is kept
// for the tab's session.
"use strict";

const POLL_MS = 2000;

const fragmentToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (fragmentToken) {
  sessionStorage.setItem("ohfp-token", fragmentToken);
  history.replaceState(null, "", location.pathname);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function time(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleTimeString();
}

function badge(state) {
  return el("span", { class: "badge " + String(state).replace(/_/g, "-") }, state);
}

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { class: "muted", colspan: columns }, empty))]),
  );
}

function drawTemplates(templates) {
  const rows = templates.map((t) => {
    const unlimited = t.maxNumber < 0;
    const share = unlimited ? 0 : Math.min(100, (100 * t.used) / Math.max(t.maxNumber, 1));
    const bar = el("div", { class: "bar" }, el("div", {
      class: share >= 100 ? "full" : share >= 80 ? "high" : "",
      style: "width:" + share + "%",
    }));
    return el("tr", { "data-template": t.templateId },
      el("td", {}, t.templateId),
      el("td", { class: "num" }, t.used + " / " + (unlimited ? "∞" : t.maxNumber)),
      el("td", { class: "bar-col" }, bar));
  });
  fill(document.querySelector("#templates tbody"), rows, "no templates", 3);
}

function drawRequests(requests) {
  const box = document.getElementById("requests");
  if (!requests.length) {
    box.replaceChildren(el("p", { class: "muted" }, "no requests yet"));
    return;
  }
  box.replaceChildren(...requests.map((r) => {
    const machines = r.machines.map((m) => el("tr", { class: "machine", "data-machine": m.machineId },
      el("td", { class: "mono" }, m.machineId),
      el("td", { class: "mono" }, m.name),
      el("td", {}, m.privateIpAddress),
      el("td", {}, badge(m.status || "unknown")),
      el("td", {}, m.result ? badge(m.result) : ""),
      el("td", { class: "msg" }, m.message)));
    const head = el("div", { class: "request-head" },
      el("span", { class: "mono" }, r.requestId), " ",
      badge(r.status), " ",
      el("span", { class: "muted" }, r.kind + (r.templateId ? " · " + r.templateId : "") +
        (r.machineCount ? " · " + r.machineCount + " asked" : "") + " · " + time(r.createdAt)),
      r.message ? el("div", { class: "msg" }, r.message) : null);
    const table = machines.length
      ? el("table", { class: "machines" },
        el("thead", {}, el("tr", {}, ...["Machine", "Host", "IP", "State", "Result", "Message"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...machines))
      : el("p", { class: "muted" }, "no machines yet");
    const finished = ["complete", "complete_with_error", "failed"].includes(r.status);
    return el("article", { class: "request" + (finished ? " finished" : ""), "data-request": r.requestId }, head, table);
  }));
}

function drawEvents(id, events, cells, empty, columns) {
  const rows = events.map((e) => el("tr", {}, ...cells(e).map((c) => el("td", {}, c))));
  fill(document.querySelector("#" + id + " tbody"), rows, empty, columns);
}

async function refresh() {
  const problem = document.getElementById("problem");
  const headers = {};
  const token = sessionStorage.getItem("ohfp-token");
  if (token) headers.Authorization = "Bearer " + token;
  try {
    const res = await fetch("/api/v1/overview", { headers, cache: "no-store" });
    if (res.status === 401) throw new Error("this server needs a token: open the dashboard as /#token=YOUR-TOKEN");
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || res.statusText);
    document.getElementById("provider").textContent = body.provider;
    drawTemplates(body.templates);
    drawRequests(body.requests);
    drawEvents("errors", body.errors,
      (e) => [time(e.time), e.operation, e.status, e.requestId || "", e.message], "no errors", 5);
    drawEvents("reclaims", body.reclaims,
      (e) => [time(e.time), e.machineId, e.name, e.gracePeriod === undefined ? "" : e.gracePeriod + " s"], "no reclaims", 4);
    document.getElementById("updated").textContent = "updated " + time(body.time);
    problem.hidden = true;
  } catch (err) {
    problem.textContent = String(err.message || err);
    problem.hidden = false;
  }
}

refresh();
setInterval(refresh, POLL_MS);
