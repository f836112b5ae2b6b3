// Tiny DOM helpers. Everything user- or server-provided goes in as text, never as HTML.

/** h("button", {type: "submit", onclick: fn}, "Save") */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let fieldSeq = 0;

/** A labelled form field; `attrs` go to the input (or select, when `options` is given). */
export function field(label, attrs, options) {
  const id = attrs.id || `f-${attrs.name}-${++fieldSeq}`;
  const hint = attrs.hint;
  const hintId = hint ? `${id}-hint` : null;
  const { hint: _hint, ...rest } = attrs;
  const common = { id, "aria-describedby": hintId, ...rest };
  let control;
  if (options) {
    control = h("select", common, options.map(([value, text]) => h("option", { value, selected: String(value) === String(attrs.value ?? "") }, text)));
  } else if (attrs.type === "checkbox") {
    return h("div", { class: "field check" }, h("input", { type: "checkbox", ...common }), h("label", { for: id }, label), hint ? h("small", { id: hintId, class: "muted" }, hint) : null);
  } else {
    control = h("input", { type: "text", ...common });
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { id: hintId, class: "muted" }, hint) : null);
}

/** A region where errors are announced (role=alert) and cleared. */
export function errorSlot() {
  const slot = h("div", { class: "error-slot" });
  slot.show = (error) => slot.replaceChildren(problem(error));
  slot.clear = () => slot.replaceChildren();
  return slot;
}

/** The inline message for a failed request: the server's own words, and what it means. */
export function problem(error, what) {
  if (error?.unavailable) {
    return h("p", { class: "notice" }, `${what ? `${what}: n` : "N"}ot available on this server.`);
  }
  if (error?.forbidden) {
    return h("p", { role: "alert", class: "error refusal" }, h("strong", null, "Not allowed for your role. "), `The server said: ${error.message}`);
  }
  return h("p", { role: "alert", class: "error" }, error?.message || String(error));
}

/**
 * A part of a page that loads on its own: a failure (refused, missing endpoint,
 * server error) is shown in its place and never blanks the rest of the page.
 */
export async function section(container, load, what) {
  container.setAttribute("aria-busy", "true");
  try {
    await load(container);
  } catch (error) {
    if (error?.status === 401) throw error;
    container.replaceChildren(problem(error, what));
  } finally {
    container.removeAttribute("aria-busy");
  }
}

/** An empty state: what is missing, and what to do next. */
export function empty(text, next) {
  return h("div", { class: "empty" }, h("p", null, text), next ? h("p", null, next) : null);
}

/** A table from column specs [{label, cell: row => Node|string, num?}] and rows, in a scroll box. */
export function table(caption, columns, rows, emptyText, next) {
  if (!rows.length) return empty(emptyText, next);
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    h(
      "table",
      null,
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", null, rows.map((row) => h("tr", null, columns.map((c) => h("td", { class: c.num ? "num" : null, "data-label": c.label }, c.cell(row)))))),
    ),
  );
}

/** Run an async form handler with the submit button disabled and errors shown in `slot`. */
export function onSubmit(form, slot, handler) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("[type=submit]");
    slot.clear();
    if (button) button.disabled = true;
    try {
      await handler(new FormData(form), form);
    } catch (error) {
      slot.show(error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/** A button whose async action reports failures in `slot`; `confirmText` asks first. */
export function action(label, slot, run, { confirmText, cls = "secondary small", aria } = {}) {
  const button = h("button", { type: "button", class: cls, "aria-label": aria }, label);
  button.addEventListener("click", async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    slot.clear();
    button.disabled = true;
    try {
      await run();
    } catch (error) {
      slot.show(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A collapsible form panel (a <details>): keyboard-operable without any script. */
export function panel(summary, ...content) {
  return h("details", { class: "panel" }, h("summary", null, summary), h("div", { class: "panel-body" }, ...content));
}

/** A labelled value list: [[label, value], ...]. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "—")]));
}

export const fmt = {
  date: (iso) => (iso ? new Date(iso).toLocaleString() : "—"),
  num: (n) => (n == null ? "—" : Number(n).toLocaleString()),
  usd: (n) => (n == null ? "—" : `${n < 0 ? "−" : ""}$${Math.abs(Number(n)).toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)}`),
  ms: (n) => (n == null ? "—" : `${Math.round(n).toLocaleString()} ms`),
  pct: (n) => (n == null ? "—" : `${(n * 100).toFixed(1)}%`),
};

/** A form value as a number, or undefined when the field was left empty. */
export function optionalNumber(data, name) {
  const raw = String(data.get(name) ?? "").trim();
  return raw === "" ? undefined : Number(raw);
}

/** A form value as trimmed text. */
export const text = (data, name) => String(data.get(name) ?? "").trim();

/** Offer `content` as a file download named `filename`. */
export function download(filename, content, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = h("a", { href: url, download: filename, class: "visually-hidden" }, filename);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function badge(textValue, kind) {
  return h("span", { class: `badge ${kind || ""}` }, textValue);
}
