// Tiny DOM helpers. Everything user- or server-provided goes in as text, never as HTML.

/** h("button", {type: "submit", onclick: fn}, "Save") */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** A labelled form field; `attrs` go to the input (or select, when `options` is given). */
export function field(label, attrs, options) {
  const id = `f-${attrs.name}`;
  const control = options
    ? h("select", { id, ...attrs }, options.map(([value, text]) => h("option", { value }, text)))
    : h("input", { id, type: "text", ...attrs });
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

/** A region where errors are announced (role=alert) and cleared. */
export function errorSlot() {
  const slot = h("div", { class: "error-slot" });
  slot.show = (error) => {
    slot.replaceChildren(h("p", { role: "alert", class: "error" }, error.message || String(error)));
  };
  slot.clear = () => slot.replaceChildren();
  return slot;
}

/** A table from column specs [{label, cell: row => Node|string, num?}] and rows. */
export function table(caption, columns, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    null,
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h("tbody", null, rows.map((row) => h("tr", null, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(row)))))),
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
      await handler(new FormData(form));
    } catch (error) {
      slot.show(error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

export const fmt = {
  date: (iso) => (iso ? new Date(iso).toLocaleString() : "—"),
  num: (n) => (n == null ? "—" : Number(n).toLocaleString()),
  usd: (n) => (n == null ? "—" : `$${Number(n).toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)}`),
  ms: (n) => (n == null ? "—" : `${Math.round(n).toLocaleString()} ms`),
};

/** A form value as a number, or undefined when the field was left empty. */
export function optionalNumber(data, name) {
  const raw = String(data.get(name) ?? "").trim();
  return raw === "" ? undefined : Number(raw);
}
