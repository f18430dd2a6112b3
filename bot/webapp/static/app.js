// The Xuanpin Mini App: plain JavaScript, no build step, no CDN.
// Telegram opens it with #tgWebAppData=…&tgWebAppThemeParams=… in the URL; the signed initData
// goes with every API call in the X-Telegram-Init-Data header, and the server checks it.
"use strict";

const state = { initData: "", me: null, texts: {}, compare: [] };

// ---------------------------------------------------------------- Telegram launch parameters

function launchParams() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const tg = window.Telegram && window.Telegram.WebApp;
  let initData = (tg && tg.initData) || hash.get("tgWebAppData") || "";
  let theme = (tg && tg.themeParams) || null;
  if (!theme && hash.get("tgWebAppThemeParams")) {
    try { theme = JSON.parse(hash.get("tgWebAppThemeParams")); } catch (e) { theme = null; }
  }
  // The hash changes as the user moves between pages: keep the launch data for this tab.
  if (initData) sessionStorage.setItem("initData", initData);
  else initData = sessionStorage.getItem("initData") || "";
  if (theme) sessionStorage.setItem("theme", JSON.stringify(theme));
  else { try { theme = JSON.parse(sessionStorage.getItem("theme") || "null"); } catch (e) { theme = null; } }
  return { initData, theme };
}

function applyTheme(theme) {
  if (!theme) return;
  const root = document.documentElement.style;
  for (const [key, value] of Object.entries(theme)) {
    if (typeof value === "string") root.setProperty("--tg-theme-" + key.replace(/_/g, "-"), value);
  }
}

function postEvent(type, data) {
  // Tell Telegram the app is ready (its own script is not loaded: no CDN).
  const payload = JSON.stringify(data || {});
  if (window.TelegramWebviewProxy) window.TelegramWebviewProxy.postEvent(type, payload);
  else if (window.external && window.external.notify) window.external.notify(JSON.stringify({ eventType: type, eventData: data }));
  else if (window.parent !== window) window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data }), "*");
}

// Telegram sends theme changes as events to this function.
window.Telegram = window.Telegram || {};
window.Telegram.WebView = window.Telegram.WebView || {
  receiveEvent(type, data) {
    if (type === "theme_changed" && data && data.theme_params) {
      sessionStorage.setItem("theme", JSON.stringify(data.theme_params));
      applyTheme(data.theme_params);
    }
  },
};
window.TelegramGameProxy = window.TelegramGameProxy || { receiveEvent: window.Telegram.WebView.receiveEvent };
// Telegram's web clients run the app in an iframe and post their events to it.
window.addEventListener("message", (event) => {
  try {
    const data = typeof event.data === "string" ? JSON.parse(event.data) : event.data;
    if (data && data.eventType) window.Telegram.WebView.receiveEvent(data.eventType, data.eventData);
  } catch (e) { /* not one of Telegram's events */ }
});

// ---------------------------------------------------------------- helpers

function T(key, params) {
  let text = state.texts[key] || key;
  for (const [k, v] of Object.entries(params || {})) text = text.split("{" + k + "}").join(String(v));
  return text;
}

function esc(value) {
  return String(value === null || value === undefined ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const money = (v) => "¥" + Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = (v) => (Number(v) * 100).toFixed(1).replace(/\.0$/, "") + "%";
const tierTag = (tier) => `<span class="tier ${esc(tier)}" title="${esc(T("tier." + tier))}">${esc(tier)}</span>`;
const badges = (list) => list.map((b) => `<span class="badge">${esc(T("badge." + b))}</span>`).join("");

class ApiError extends Error {
  constructor(status, code) { super(code); this.status = status; this.code = code; }
}

async function api(path, options) {
  const init = Object.assign({}, options || {});
  init.headers = Object.assign({ "X-Telegram-Init-Data": state.initData }, init.headers || {});
  const response = await fetch("/app/api/" + path, init);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok && !(response.status === 422 && body)) {
    throw new ApiError(response.status, (body && body.error) || "error");
  }
  return body;
}

const view = () => document.getElementById("view");

function showError(err) {
  const key = err.status === 401 ? "app.unauthorized" : err.status === 404 ? "app.not_found"
    : err.status === 403 ? "app.forbidden" : "app.error";
  view().innerHTML = `<p class="error" id="error">${esc(T(key))}</p>`;
}

function loadCompare() {
  try { state.compare = JSON.parse(localStorage.getItem("compare") || "[]").slice(0, 3); } catch (e) { state.compare = []; }
}
function saveCompare() { localStorage.setItem("compare", JSON.stringify(state.compare)); }

// ---------------------------------------------------------------- pages

async function catalogPage(params) {
  const q = new URLSearchParams(params);
  const data = await api("catalog?" + q.toString());
  const tiers = (q.get("tier") || "").split(",").filter(Boolean);
  const chosenBadges = (q.get("badge") || "").split(",").filter(Boolean);
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  const option = (value, label, selected) =>
    `<option value="${esc(value)}"${selected ? " selected" : ""}>${esc(label)}</option>`;
  view().innerHTML = `
    <form class="filters" id="filters">
      <div class="wide chips" role="group" aria-label="${esc(T("app.filter.tier"))}">
        ${state.me.tiers.slice().reverse().filter((t) => t !== "L0" || state.me.role === "admin").map((t) =>
          `<label><input type="checkbox" name="tier" value="${t}"${tiers.includes(t) ? " checked" : ""}>${tierTag(t)}</label>`).join("")}
      </div>
      <label>${esc(T("app.filter.min_price"))}<input name="min_price" inputmode="decimal" value="${esc(q.get("min_price") || "")}"></label>
      <label>${esc(T("app.filter.max_price"))}<input name="max_price" inputmode="decimal" value="${esc(q.get("max_price") || "")}"></label>
      <label>${esc(T("app.filter.min_commission"))}<input name="min_commission" inputmode="decimal" value="${esc(q.get("min_commission") || "")}"></label>
      <label>${esc(T("app.filter.category"))}<select name="category">${option("", T("app.filter.any"), false)}
        ${data.categories.map((c) => option(c, c, c === q.get("category"))).join("")}</select></label>
      <div class="wide chips" role="group" aria-label="${esc(T("app.filter.badge"))}">
        ${data.badges.map((b) => `<label><input type="checkbox" name="badge" value="${esc(b)}"${chosenBadges.includes(b) ? " checked" : ""}>${esc(T("badge." + b))}</label>`).join("")}
      </div>
      <label>${esc(T("app.sort"))}<select name="sort">
        ${state.me.sorts.map((s) => option(s, T("app.sort." + s), s === (q.get("sort") || "rank"))).join("")}</select></label>
      <label>&nbsp;<button type="submit" id="apply">${esc(T("app.filter.apply"))}</button></label>
    </form>
    <p class="meta" id="total">${esc(T("app.total", { total: data.total }))}</p>
    ${data.items.length ? "" : `<p class="hint">${esc(T("app.empty"))}</p>`}
    <ul class="list" id="results">${data.items.map(itemRow).join("")}</ul>
    <div class="pager">
      <button class="secondary" id="prev"${data.page > 0 ? "" : " disabled"}>${esc(T("app.prev"))}</button>
      <span class="meta">${esc(T("app.page", { page: data.page + 1, pages }))}</span>
      <button class="secondary" id="next"${data.page + 1 < pages ? "" : " disabled"}>${esc(T("app.next"))}</button>
    </div>`;
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const next = new URLSearchParams();
    const tierList = form.getAll("tier"), badgeList = form.getAll("badge");
    if (tierList.length) next.set("tier", tierList.join(","));
    if (badgeList.length) next.set("badge", badgeList.join(","));
    for (const key of ["min_price", "max_price", "min_commission", "category", "sort"]) {
      const value = String(form.get(key) || "").trim();
      if (value && !(key === "sort" && value === "rank")) next.set(key, value);
    }
    go("#/catalog?" + next.toString());
  });
  const turn = (delta) => { q.set("page", String(data.page + delta)); go("#/catalog?" + q.toString()); };
  document.getElementById("prev").onclick = () => turn(-1);
  document.getElementById("next").onclick = () => turn(1);
}

function itemRow(item) {
  return `<li><a class="item" href="#/product/${item.id}" data-sku="${esc(item.sku)}">
    <span class="title">${tierTag(item.tier)} ${esc(item.title)}</span>
    <span class="meta">${esc(item.sku)} · ${esc(item.brand)} · ${esc(item.category)}</span><br>
    <span>${money(item.price)}</span> · <span class="meta">${esc(T("app.commission"))} ${pct(item.commission_rate)}</span>
    <div>${badges(item.badges)}</div></a></li>`;
}

async function productPage(id) {
  const p = await api("product/" + encodeURIComponent(id));
  const inCompare = state.compare.includes(p.id);
  let html = `
    <h1 id="product-title">${tierTag(p.tier)} ${esc(p.title)}</h1>
    <p class="meta">${esc(p.sku)} · ${esc(T("tier." + p.tier))} · ${esc(T("app.score"))} ${p.score.toFixed(1)}</p>
    <div class="badges">${badges(p.badges)}</div>
    <table><tr><th>${esc(T("app.price"))}</th><td>${money(p.price)}</td></tr>
      <tr><th>${esc(T("app.commission"))}</th><td>${pct(p.commission_rate)}</td></tr>
      <tr><th>${esc(T("app.brand"))}</th><td>${esc(p.brand)}</td></tr>
      <tr><th>${esc(T("app.category"))}</th><td>${esc(p.category)}</td></tr>
      <tr><th>${esc(T("app.merchant"))}</th><td>${esc(p.merchant)}</td></tr></table>
    <div id="radar">${p.radar_svg}</div>
    <p class="legend meta"><span class="swatch product"></span>${esc(T("app.this_product"))}
      <span class="swatch average"></span>${esc(T("app.average"))}</p>
    <div class="row"><button id="add-compare"${inCompare || state.compare.length >= 3 ? " disabled" : ""}>
      ${esc(T(inCompare ? "app.in_compare" : state.compare.length >= 3 ? "app.compare_full" : "app.add_compare"))}</button>
      <a class="button" href="#/compare">${esc(T("app.tab.compare"))} (${state.compare.length})</a></div>`;
  if (p.private) html += privatePart(p.private);
  view().innerHTML = html;
  document.getElementById("add-compare").onclick = () => {
    if (!state.compare.includes(p.id) && state.compare.length < 3) state.compare.push(p.id);
    saveCompare();
    route();
  };
}

function privatePart(priv) {
  const rows = Object.entries(priv.indicators).map(([name, ind]) =>
    `<tr><td>${esc(T("ind." + name))}</td><td class="num">${esc(ind.value)}</td><td class="num">${ind.points.toFixed(1)}</td></tr>`).join("");
  const gates = Object.entries(priv.gates).map(([g, ok]) =>
    `<tr><td>${esc(T("gate." + g))}</td><td>${esc(T(ok ? "gate.pass" : "gate.fail"))}</td></tr>`).join("");
  let next = `<p>${esc(T("app.top_tier"))}</p>`;
  if (priv.next_tier) {
    const nt = priv.next_tier;
    next = `<p>${esc(T("app.next_tier", { points: nt.points_needed.toFixed(1), tier: nt.tier + " " + T("tier." + nt.tier) }))}</p>`;
    if (nt.blocked_by.length) next += `<p class="error">${esc(T("app.blocked", { gates: nt.blocked_by.map((g) => T("gate." + g)).join("、") }))}</p>`;
    next += `<ul id="levers">${nt.levers.map((lv) => `<li>${esc(T("app.lever", {
      indicator: T("ind." + lv.indicator), from: lv.from, to: lv.to, points: lv.points.toFixed(1) }))}</li>`).join("")}</ul>`;
  }
  const history = priv.history.length
    ? `<ul>${priv.history.map((h) => `<li>${esc(h.at.slice(0, 10))}: ${esc(h.from || "—")} → ${esc(h.to)}</li>`).join("")}</ul>`
    : `<p class="hint">${esc(T("app.no_history"))}</p>`;
  return `<section id="private"><h2>${esc(T("app.indicators"))}</h2>
    <table><tr><th>${esc(T("app.indicator"))}</th><th class="num">${esc(T("app.value"))}</th><th class="num">${esc(T("app.points"))}</th></tr>${rows}</table>
    <h2>${esc(T("app.gates"))}</h2><table>${gates}</table>
    <h2>${esc(T("app.levers"))}</h2>${next}
    <h2>${esc(T("app.history"))}</h2>${history}</section>`;
}

async function comparePage() {
  if (!state.compare.length) {
    view().innerHTML = `<p class="hint" id="compare-empty">${esc(T("app.compare_empty"))}</p>`;
    return;
  }
  const data = await api("compare?ids=" + state.compare.join(","));
  const items = data.items;
  const dims = ["brand", "price", "distribution", "service", "sales"];
  const row = (label, cell) => `<tr><th>${esc(label)}</th>${items.map((it) => `<td class="num">${cell(it)}</td>`).join("")}</tr>`;
  view().innerHTML = `
    <div id="compare-radar">${data.radar_svg}</div>
    <div class="compare" id="compare">${items.map((it, k) => `<div class="item s${k}">
      <a href="#/product/${it.id}" class="title">${tierTag(it.tier)} ${esc(it.title)}</a>
      <span class="meta">${esc(it.sku)}</span>
      <button class="secondary" data-remove="${it.id}">${esc(T("app.remove"))}</button></div>`).join("")}</div>
    <table id="compare-table">
      ${row(T("app.price"), (it) => money(it.price))}
      ${row(T("app.commission"), (it) => pct(it.commission_rate))}
      ${row(T("app.score"), (it) => it.score.toFixed(1))}
      ${dims.map((d) => row(T("dim." + d), (it) => it.dimensions[d].toFixed(0))).join("")}
      ${row(T("app.brand"), (it) => esc(it.brand))}
    </table>
    <div class="row"><button class="secondary" id="compare-clear">${esc(T("app.compare_clear"))}</button></div>`;
  for (const button of document.querySelectorAll("[data-remove]")) {
    button.onclick = () => {
      state.compare = state.compare.filter((id) => String(id) !== button.dataset.remove);
      saveCompare();
      route();
    };
  }
  document.getElementById("compare-clear").onclick = () => { state.compare = []; saveCompare(); route(); };
}

async function picksPage() {
  const data = await api("picks");
  const gaps = data.gaps.length
    ? `<table id="gaps"><tr><th>${esc(T("app.category"))}</th><th class="num">${esc(T("app.own_share"))}</th><th class="num">${esc(T("app.reference_share"))}</th></tr>
       ${data.gaps.map((g) => `<tr><td>${esc(g.category)}</td><td class="num">${pct(g.own_share)}</td><td class="num">${pct(g.reference_share)}</td></tr>`).join("")}</table>`
    : `<p class="hint">${esc(T("app.no_gaps"))}</p>`;
  const picks = data.picks.length
    ? `<ul class="list" id="picks">${data.picks.map((p) => itemRow(p).replace("</a></li>", `<span class="meta">${esc(p.reason)}</span></a></li>`)).join("")}</ul>`
    : `<p class="hint">${esc(T("app.no_picks"))}</p>`;
  view().innerHTML = `<h1>${esc(T("app.tab.picks"))} · ${esc(data.date)}</h1><h2>${esc(T("app.gaps"))}</h2>${gaps}${picks}`;
}

async function dashboardPage(params) {
  const q = new URLSearchParams(params);
  const data = await api("dashboard" + (q.get("merchant_id") ? "?merchant_id=" + encodeURIComponent(q.get("merchant_id")) : ""));
  if (data.merchants) {
    view().innerHTML = `<ul class="list" id="merchants">${data.merchants.map((m) =>
      `<li><a class="item" href="#/dashboard?merchant_id=${m.id}">${esc(m.name)}</a></li>`).join("")}</ul>`;
    return;
  }
  const most = Math.max(1, ...Object.values(data.tiers));
  const tiers = state.me.tiers.slice().reverse().map((t) => `<tr><td>${tierTag(t)} ${esc(T("tier." + t))}</td>
    <td class="num">${data.tiers[t]}</td><td style="width:40%"><div class="bar" style="width:${(100 * data.tiers[t]) / most}%"></div></td></tr>`).join("");
  const levers = data.levers.length
    ? `<ul id="dashboard-levers">${data.levers.map((lv) => `<li>${esc(T("app.dashboard.lever_goods", { indicator: T("ind." + lv.indicator), goods: lv.goods }))}</li>`).join("")}</ul>`
    : `<p class="hint">${esc(T("app.dashboard.no_levers"))}</p>`;
  const history = data.history.length
    ? `<ul>${data.history.map((h) => `<li>${esc(h.at.slice(0, 10))} ${esc(h.sku)} ${esc(h.title)}: ${esc(h.from)} → ${esc(h.to)}</li>`).join("")}</ul>`
    : `<p class="hint">${esc(T("app.no_history"))}</p>`;
  view().innerHTML = `<h1 id="dashboard-title">${esc(data.merchant.name)} · ${esc(T("app.total", { total: data.total }))}</h1>
    <h2>${esc(T("app.dashboard.tiers"))}</h2><table id="dashboard-tiers">${tiers}</table>
    <h2>${esc(T("app.dashboard.levers"))}</h2>${levers}
    <h2>${esc(T("app.dashboard.history"))}</h2>${history}`;
}

function importPage() {
  view().innerHTML = `<form id="import-form" class="filters">
      <label>${esc(T("app.import.kind"))}<select name="kind">
        <option value="products">${esc(T("app.import.products"))}</option>
        <option value="streamers">${esc(T("app.import.streamers"))}</option></select></label>
      <label class="wide">${esc(T("app.import.file"))}<input type="file" name="file" accept=".csv,.xlsx" required></label>
      <label>&nbsp;<button type="submit">${esc(T("app.import.check"))}</button></label>
    </form><div id="import-result"></div>`;
  document.getElementById("import-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("import-result");
    out.innerHTML = `<p class="hint">${esc(T("app.loading"))}</p>`;
    try {
      const r = await api("import", { method: "POST", body: new FormData(event.target) });
      if (r.file_error) { out.innerHTML = `<p class="error">${esc(r.file_error)}</p>`; return; }
      out.innerHTML = `<p>${esc(T("app.import.summary", { total: r.rows_total, valid: r.rows_valid, errors: r.errors_total }))}</p>
        ${r.errors.length ? `<table id="import-errors"><tr><th>${esc(T("app.import.line"))}</th><th>${esc(T("app.import.column"))}</th><th>${esc(T("app.import.reason"))}</th></tr>
          ${r.errors.map((e) => `<tr><td>${e.line}</td><td>${esc(e.column)}</td><td>${esc(e.reason)}${e.value ? ` (“${esc(e.value)}”)` : ""}</td></tr>`).join("")}</table>`
          : `<p>${esc(T("app.import.ok"))}</p>`}
        ${r.ignored_columns.length ? `<p class="hint">${esc(T("app.import.ignored", { columns: r.ignored_columns.join(", ") }))}</p>` : ""}`;
    } catch (err) { out.innerHTML = `<p class="error">${esc(T(err.status === 403 ? "app.forbidden" : "app.error"))}</p>`; }
  });
}

// ---------------------------------------------------------------- routing

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

function tabs(current) {
  const list = [["catalog", "app.tab.catalog"], ["picks", "app.tab.picks"], ["compare", "app.tab.compare"]];
  if (state.me.role === "merchant" || state.me.role === "admin") list.push(["dashboard", "app.tab.dashboard"]);
  if (state.me.role === "admin") list.push(["import", "app.tab.import"]);
  document.getElementById("tabs").innerHTML = list.map(([name, key]) =>
    `<a href="#/${name}" id="tab-${name}"${name === current ? ' class="active"' : ""}>${esc(T(key))}</a>`).join("");
}

async function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "catalog";
  const [path, query] = hash.split("?");
  const [page, arg] = path.split("/");
  tabs(page === "product" ? "" : page);
  view().innerHTML = `<p class="hint">${esc(T("app.loading"))}</p>`;
  try {
    if (page === "product") await productPage(arg);
    else if (page === "compare") await comparePage();
    else if (page === "picks") await picksPage();
    else if (page === "dashboard") await dashboardPage(query || "");
    else if (page === "import") importPage();
    else await catalogPage(query || "");
    document.body.dataset.page = page || "catalog";
  } catch (err) {
    showError(err);
  }
  window.scrollTo(0, 0);
}

async function start() {
  const launch = launchParams();
  state.initData = launch.initData;
  applyTheme(launch.theme);
  loadCompare();
  try {
    state.me = await api("me");
  } catch (err) {
    showError(err);
    return;
  }
  state.texts = state.me.texts;
  document.documentElement.lang = state.me.lang === "en" ? "en" : "zh";
  document.title = T("app.title");
  // A card's button opens ?product=ID; a launch hash (#tgWebAppData…) is not a page.
  const wanted = new URLSearchParams(location.search).get("product");
  if (wanted && !sessionStorage.getItem("opened")) {
    sessionStorage.setItem("opened", "1");
    history.replaceState(null, "", "#/product/" + encodeURIComponent(wanted));
  } else if (!location.hash.startsWith("#/")) {
    history.replaceState(null, "", "#/catalog");
  }
  window.addEventListener("hashchange", route);
  postEvent("web_app_ready");
  await route();
}

start();
